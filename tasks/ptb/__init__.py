"""Penn Treebank, character level: ``dni-rnn train ptb``; ``python -m dni_rnn_tasks.ptb`` checks the data.

Modules: ``files`` (checksums, where the files are looked for, reading and verifying), ``corpus`` (symbol
ids, :func:`load_splits`), ``fetch`` (``download``), ``stream`` (``batchify``, ``CharStream``), ``task`` (``PTBTask``).
"""

from dni_rnn_tasks.ptb.corpus import EOL, PTBCorpus, char_text_to_symbols, load_splits, word_to_char_text
from dni_rnn_tasks.ptb.fetch import download
from dni_rnn_tasks.ptb.files import (
    ENV_VAR,
    KNOWN_NUM_SYMBOLS,
    KNOWN_SHA256,
    KNOWN_SIZES,
    SPLITS,
    WORD_URLS,
    DataError,
    default_search_dirs,
    find_data_dir,
)
from dni_rnn_tasks.ptb.stream import CharStream, batchify
from dni_rnn_tasks.ptb.task import PTBOptions, PTBTask

__all__ = [
    "ENV_VAR",
    "EOL",
    "KNOWN_NUM_SYMBOLS",
    "KNOWN_SHA256",
    "KNOWN_SIZES",
    "SPLITS",
    "WORD_URLS",
    "CharStream",
    "DataError",
    "PTBCorpus",
    "PTBOptions",
    "PTBTask",
    "batchify",
    "char_text_to_symbols",
    "default_search_dirs",
    "download",
    "find_data_dir",
    "load_splits",
    "word_to_char_text",
]
