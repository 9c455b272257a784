"""A run's resolved settings as one object: the flat form checkpoints compare, and ``config.json``.

Every run writes ``<run>/config.json``: ``{"train": {...}, "engine": {...}, "task": {...}}``, each section the
fields of its dataclass (:class:`~dni_rnn.train_config.TrainConfig`, :class:`~dni_rnn.engine.EngineConfig`, the
task's ``Config``) with the values the run used. ``dni-rnn train --config <run>/config.json`` reads it back as
the defaults of a new run; flags given on the command line override them.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path
from typing import Any

from dni_rnn.checkpoint import atomic_write_text

CONFIG_FILE = "config.json"
SECTIONS = ("train", "engine", "task")
# Settings that do not change what a run computes: they may differ between an interrupted run and its
# resumption. A task adds its own with a ``resume_ignores`` tuple of option names (e.g. a data path; the
# data themselves are compared by the checksum its ``data_checksum()`` returns).
RESUMABLE_SETTINGS = {
    "train.steps",
    "train.resume",
    "train.branch_from",
    "train.overwrite",
    "train.progress",
    "train.log_every",
    "train.checkpoint_every",
    "train.eval_every",
    "train.patience",
    "train.threads",
    "train.logdir",
    "train.device",
    "train.run_name",
}
# What a new run started from a saved config does not take over: it is a new run, not the old one continued.
NOT_REPRODUCED = {"train": {"run_name": None, "resume": None, "overwrite": False}}
# Settings whose default changed, with the value a run saved before they existed (or before the change) ran
# with: a saved config that lacks one is read with this value, so it resumes and reproduces as it ran.
LEGACY_DEFAULTS = {"engine.aux_pooling": "steps"}
# What a branch (--branch-from) must share with the run it starts from; every other setting may change.
BRANCH_FIXED = {"train.task", "train.batch_size", "train.horizon", "task.data_sha256"}


def flat_config(train, engine, options) -> dict[str, Any]:
    """Every setting as ``section.name -> value``: the hyperparameter text and the resume check."""
    sections = {"train": train, "engine": engine, "task": options}
    return {f"{section}.{k}": v for section, obj in sections.items() for k, v in dataclasses.asdict(obj).items()}


def split_config(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Inverse of :func:`flat_config`: ``{"train": {...}, "engine": {...}, "task": {...}}``."""
    sections: dict[str, dict] = {name: {} for name in SECTIONS}
    for key, value in config.items():
        section, name = key.split(".", 1)
        sections[section][name] = value
    return sections


def write_config(run_dir: Path, train, engine, options) -> Path:
    """Write the run's resolved settings to ``<run_dir>/config.json`` (atomically); returns the path."""
    sections = {"train": train, "engine": engine, "task": options}
    path = Path(run_dir) / CONFIG_FILE
    atomic_write_text(path, json.dumps({k: dataclasses.asdict(v) for k, v in sections.items()}, indent=2) + "\n")
    return path


def _conform(cls: type, values: dict[str, Any], path: Path, section: str) -> dict[str, Any]:
    """``values`` checked against the fields of ``cls``: JSON lists back to tuples where a field is a tuple."""
    fields = {field.name: field for field in dataclasses.fields(cls) if field.init}
    hints = typing.get_type_hints(cls)
    out = {}
    for name, value in values.items():
        if name not in fields:
            raise ValueError(f"config {path}: unknown setting {section}.{name}")
        if typing.get_origin(hints[name]) is tuple and isinstance(value, list):
            value = tuple(value)
        out[name] = value
    return out


def read_config(path: str | Path, classes: dict[str, type] | None = None) -> dict[str, dict[str, Any]]:
    """The sections of a ``config.json``; with ``classes`` (``{"train": TrainConfig, ...}``) every setting is
    checked to be a field of its section's dataclass. A missing or malformed file is a one-line ``ValueError``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except OSError as error:
        raise ValueError(f"cannot read config {path} ({error.strerror or error})") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"config {path} is not valid JSON ({error})") from None
    if not isinstance(data, dict) or not set(data) <= set(SECTIONS) or "train" not in data:
        raise ValueError(f"config {path} is not a dni-rnn run config (sections {', '.join(SECTIONS)})")
    if not isinstance(data["train"].get("task"), str):
        raise ValueError(f"config {path} names no task (train.task)")
    sections = {name: dict(data.get(name) or {}) for name in SECTIONS}
    for key, value in LEGACY_DEFAULTS.items():
        section, name = key.split(".")
        sections[section].setdefault(name, value)
    if classes is not None:
        sections = {name: _conform(classes[name], sections[name], path, name) for name in SECTIONS}
    return sections


def reproduced(sections: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The settings of a saved run as the defaults of a new one (a fresh run name, no resume)."""
    return {name: {**values, **NOT_REPRODUCED.get(name, {})} for name, values in sections.items()}
