"""A tiny Penn Treebank sample written by the tests, and the real files when present (shared by test_ptb_*)."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest

import dni_rnn_tasks.ptb as P

# A tiny word-level corpus in the Mikolov format (lines start with a space and end with " \n"),
# with an empty line, a tab and runs of spaces to pin down the whitespace handling.
SAMPLE_WORDS = {
    "train": " the <unk> cat sat \n mr. $ N \n\n a  b\tc \n zebra's \n",
    "valid": " a cat \n the N \n",
    "test": " sat ran \n\n mr. zebra \n",
}


def reference_rule(word_text: str) -> str:
    """The derivation rule exactly as written in PROVENANCE.md."""
    out = []
    for line in word_text.split("\n")[:-1]:
        toks = list("_".join(line.split())) + ["\n"]
        out.append("".join(t + " " for t in toks))
    return "".join(out)


def sample_char(split: str) -> str:
    return reference_rule(SAMPLE_WORDS[split])


def sample_checksums() -> dict[str, str]:
    table = {}
    for s in P.SPLITS:
        table[f"ptb.{s}.txt"] = hashlib.sha256(SAMPLE_WORDS[s].encode()).hexdigest()
        table[f"ptb.char.{s}.txt"] = hashlib.sha256(sample_char(s).encode()).hexdigest()
    return table


def write_sample(d: Path, kind: str = "char", gz: bool = True) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for s in P.SPLITS:
        name = f"ptb.char.{s}.txt" if kind == "char" else f"ptb.{s}.txt"
        text = sample_char(s) if kind == "char" else SAMPLE_WORDS[s]
        data = text.encode()
        if gz:
            (d / (name + ".gz")).write_bytes(gzip.compress(data, mtime=0))
        else:
            (d / name).write_bytes(data)
    return d


def expected_symbols(split: str) -> list[str]:
    out = []
    for line in SAMPLE_WORDS[split].split("\n")[:-1]:
        out += list("_".join(line.split())) + [P.EOL]
    return out


def assert_one_line_naming(err: pytest.ExceptionInfo, name: str) -> None:
    msg = str(err.value)
    assert isinstance(err.value, ValueError)
    assert "\n" not in msg and msg.strip() == msg
    assert name in msg, msg


REAL = P.default_search_dirs()[0]
needs_real = pytest.mark.skipif(
    not all((REAL / f"ptb.{k}{s}.txt.gz").is_file() for s in P.SPLITS for k in ("", "char.")),
    reason=f"real PTB files not in {REAL}",
)
