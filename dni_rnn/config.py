"""Configuration dataclasses and their command-line form: one field, one ``--flag`` of the same name."""
from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any


def option(default: Any, help: str) -> Any:
    """A dataclass field with a default and the help text the CLI shows for it."""
    if isinstance(default, (list, dict, tuple)):
        return dataclasses.field(default_factory=lambda: default, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def _parse_optional(kind):
    def parse(text: str):
        return None if text.lower() == "none" else kind(text)

    parse.__name__ = kind.__name__
    return parse


def add_dataclass_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add ``--field-name`` for every field of the dataclass ``cls`` (help and default from the field)."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(cls.__name__)
    for field in dataclasses.fields(cls):
        if field.name in skip or not field.init:
            continue
        flag = "--" + field.name.replace("_", "-")
        hint = hints[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        help_text = field.metadata.get("help", "") + " (default: %(default)s)"
        args = typing.get_args(hint)
        if hint is bool:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help_text)
        elif typing.get_origin(hint) is tuple:
            group.add_argument(flag, type=args[0], nargs="*", default=default, help=help_text)
        elif type(None) in args:  # Optional[X]: "none" on the command line means None
            kind = next(a for a in args if a is not type(None))
            group.add_argument(flag, type=_parse_optional(kind), default=default, help=help_text)
        else:
            group.add_argument(flag, type=hint, default=default, help=help_text)


def dataclass_from_args(cls: type, namespace: argparse.Namespace, **overrides):
    """Build ``cls`` from the parsed arguments that match its fields."""
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    values = {name: getattr(namespace, name) for name in names if hasattr(namespace, name)}
    values.update(overrides)
    return cls(**values)
