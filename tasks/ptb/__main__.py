"""``python -m dni_rnn_tasks.ptb [--data-dir DIR] [--download]``: check (or fetch) the data, print a summary."""

from __future__ import annotations

import argparse

from dni_rnn_tasks.ptb.corpus import load_splits
from dni_rnn_tasks.ptb.fetch import download
from dni_rnn_tasks.ptb.files import ENV_VAR, SPLITS, DataError, find_data_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dni_rnn_tasks.ptb", description="Check (or download) the Penn Treebank char data."
    )
    parser.add_argument(
        "--data-dir", default=None, help=f"data directory (else ${ENV_VAR}, ../shared/data/ptb, ~/.cache/dni_rnn/ptb)"
    )
    parser.add_argument(
        "--download",
        action="store_true",
        help="fetch the standard files into --data-dir (default ~/.cache/dni_rnn/ptb)",
    )
    parser.add_argument("--no-verify", action="store_true", help="skip sha256 checks when loading")
    args = parser.parse_args(argv)
    try:
        if args.download:
            print(f"downloaded/verified into {download(args.data_dir)}")
        directory = find_data_dir(args.data_dir)
        corpus = load_splits(directory, verify=not args.no_verify)
    except DataError as e:
        parser.exit(2, f"error: {e}\n")
    print(f"data dir: {directory}")
    print(f"vocab: {corpus.vocab_size} symbols {''.join(corpus.vocab)!r}")
    for s in SPLITS:
        print(f"{s}: {getattr(corpus, s).numel():,} symbols")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
