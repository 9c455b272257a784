"""Configuration dataclasses and their command-line form: one field, one ``--flag`` of the same name.

A field declared with :func:`option` may carry its valid range (``low``, ``high``, inclusive; a float
must also be finite) and a fixed set of ``choices``. :func:`check_fields` checks every declared range
and choice of a dataclass in one place (a ``ValueError`` naming the flag), and the command line shows
the choices through argparse's ``choices`` and the range in the help text.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import typing
from typing import Any


def option(
    default: Any, help: str, *, low: float | None = None, high: float | None = None, choices: tuple | None = None
) -> Any:
    """A dataclass field with a default, the help text the CLI shows for it, and its valid values.

    Args:
        default: the default value.
        help: one sentence for ``--help``.
        low, high: inclusive bounds of a numeric field (None: unbounded on that side). A float field is
            also required to be finite.
        choices: the fixed set of values of a field, shown as argparse ``choices``.
    """
    metadata = {"help": help, "low": low, "high": high, "choices": tuple(choices) if choices is not None else None}
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda: default, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def flag_name(name: str) -> str:
    return "--" + name.replace("_", "-")


def describe_range(low: float | None, high: float | None) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]"
    if low is not None:
        return f">= {low}"
    return f"<= {high}"


def check_value(
    name: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    choices: tuple | None = None,
    label: str | None = None,
) -> None:
    """Raise ``ValueError`` (naming ``--name``, or ``label`` when given: a library argument) unless ``value`` is one
    of ``choices`` / finite and in ``[low, high]``.

    ``None`` (an optional field left unset) and booleans always pass.
    """
    if value is None or isinstance(value, bool):
        return
    if choices is not None and value not in choices:
        raise ValueError(f"unknown {name.replace('_', ' ')} {value!r}; choose one of {', '.join(map(str, choices))}")
    values = value if isinstance(value, tuple) else (value,)
    for item in values:
        if not isinstance(item, (int, float)):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            raise ValueError(f"{label or flag_name(name)} must be finite, got {item}")
        if (low is not None and item < low) or (high is not None and item > high):
            raise ValueError(f"{label or flag_name(name)} must be {describe_range(low, high)}, got {item}")


def check_fields(obj: Any) -> None:
    """Check every field of the dataclass instance ``obj`` against its declared range and choices."""
    for field in dataclasses.fields(obj):
        meta = field.metadata
        check_value(field.name, getattr(obj, field.name), meta.get("low"), meta.get("high"), meta.get("choices"))


def _parse_optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_dataclass_arguments(
    parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (), choices: dict[str, tuple] | None = None
) -> None:
    """Add ``--field-name`` for every field of the dataclass ``cls`` (help, default, choices from the field).

    ``choices`` adds argparse choices to fields that do not declare them (``{"method": METHODS}``).
    """
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        flag = flag_name(field.name)
        hint = hints[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        low, high = field.metadata.get("low"), field.metadata.get("high")
        allowed = field.metadata.get("choices") or (choices or {}).get(field.name)
        valid = f"; {describe_range(low, high)}" if low is not None or high is not None else ""
        help_text = field.metadata.get("help", "") + f" (default: %(default)s{valid})"
        args = typing.get_args(hint)
        extra = {"choices": allowed} if allowed else {}
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif typing.get_origin(hint) is tuple:
            group.add_argument(flag, type=args[0], nargs="*", default=default, help=help_text)
        elif type(None) in args:  # Optional[X]: "none" on the command line means None
            kind = next(a for a in args if a is not type(None))
            group.add_argument(flag, type=_parse_optional(kind), default=default, help=help_text, **extra)
        else:
            group.add_argument(flag, type=hint, default=default, help=help_text, **extra)


def dataclass_from_args(cls: type, namespace: argparse.Namespace, **overrides):
    """Build ``cls`` from the parsed arguments that match its fields."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values = {name: getattr(namespace, name) for name in names if hasattr(namespace, name)}
    values.update(overrides)
    return cls(**values)
