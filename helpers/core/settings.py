"""Settings: each stage's config dataclass is the one source of its options.

A field is declared with `setting(default, "help")`; from those fields come, with nothing written twice:
- the command's options (`desclm <command> --help`, parsed by transformers' `HfArgumentParser`,
  see `helpers.commands.parsing`), and `--params FILE.yaml` read against the same names;
- the notebook's `parameters` cell (`parameters_cell`; a test compares every notebook with it);
- the notebook's config (`settings_from(ExtractConfig, globals())` picks the fields by name).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

MISSING = dataclasses.MISSING


def setting(
    default: Any = MISSING,
    help: str = "",
    *,
    factory: Callable[[], Any] | None = None,
    positional: bool = False,
    aliases: tuple[str, ...] = (),
) -> Any:
    """A config field with its help text (shown by `--help` and in the notebook's parameters cell).

    Args:
        default: The one default of this setting (MISSING: required).
        help: One line saying what it does; defaults are shown beside it automatically.
        factory: For mutable defaults (`factory=dict`), instead of `default`.
        positional: A command-line argument rather than an `--option` (a model folder, a file list).
        aliases: Other names the command line and `--params` take for it: the `yolo` command's
            (`source` for `images`), so its users' habits work.
    """
    metadata = {"help": help, "positional": positional, "aliases": tuple(aliases)}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def help_of(field: dataclasses.Field) -> str:
    return field.metadata.get("help", "")


def aliases_of(field: dataclasses.Field) -> tuple[str, ...]:
    """The setting's other names (`setting`'s `aliases`)."""
    return field.metadata.get("aliases", ())


def init_fields(config_class: type) -> list[dataclasses.Field]:
    """The fields a caller sets (those with `init`), in declaration order."""
    return [field for field in dataclasses.fields(config_class) if field.init]


def default_of(field: dataclasses.Field) -> Any:
    """A field's default value (a fresh one for factories); MISSING when it has none."""
    if field.default is not MISSING:
        return field.default
    if field.default_factory is not MISSING:
        return field.default_factory()
    return MISSING


def settings_from(config_class: type, namespace: Mapping[str, Any]):
    """The config built from the names in `namespace` that are its fields (a notebook's `globals()`).

    Raises:
        ValueError: A field without a default is missing from the namespace.
    """
    values = {field.name: namespace[field.name] for field in init_fields(config_class) if field.name in namespace}
    missing = [f.name for f in init_fields(config_class) if f.name not in values and default_of(f) is MISSING]
    if missing:
        raise ValueError(f"{config_class.__name__}: no value for {missing}")
    return config_class(**values)


def plain_type(kind: Any) -> Any:
    """The type a setting holds when given: `float | None` -> float (None: left to a file or a default)."""
    members = [member for member in typing.get_args(kind) if member is not type(None)]
    optional = typing.get_origin(kind) in (typing.Union, types.UnionType) and len(members) == 1
    return members[0] if optional else kind


def _type_name(kind: Any) -> str:
    """The annotation a parameters cell shows: the plain type (papermill reads `float = None` as optional)."""
    origin = typing.get_origin(plain_type(kind)) or plain_type(kind)
    return origin.__name__ if isinstance(origin, type) else str(origin)


def _literal(value: Any) -> str:
    """A default as the cell writes it: strings, lists and dicts as JSON (double quotes), the rest as Python."""
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str | list | dict) else repr(value)


def parameters_cell(config_classes: list[type], values: Mapping[str, Any] | None = None) -> str:
    """A notebook's `parameters` cell: one `name: type = value  # help` line per field of the classes.

    A name declared by several classes appears once (the first class's line). `values` overrides
    defaults (the demo's inputs); a field without default and without a value is an error.
    """
    values = dict(values or {})
    lines, seen = [], set()
    for config_class in config_classes:
        hints = typing.get_type_hints(config_class)
        for field in init_fields(config_class):
            if field.name in seen:
                continue
            seen.add(field.name)
            value = values.pop(field.name, default_of(field))
            if value is MISSING:
                raise ValueError(f"{config_class.__name__}.{field.name} has no default: give the notebook a value")
            line = f"{field.name}: {_type_name(hints[field.name])} = {_literal(value)}"
            lines.append(f"{line}  # {help_of(field)}" if help_of(field) else line)
    if values:
        raise ValueError(f"values for no field of {[c.__name__ for c in config_classes]}: {sorted(values)}")
    return "\n".join(lines)


def subset_of(config_class: type, names: list[str], class_name: str, doc: str) -> type:
    """A dataclass of some of `config_class`'s fields, with the same defaults and help (one place each):
    for a command that takes only part of a stage's settings (`calibrate` of extraction's)."""
    chosen = {field.name: field for field in init_fields(config_class) if field.name in names}
    unknown = sorted(set(names) - set(chosen))
    if unknown:
        raise ValueError(f"{config_class.__name__} has no field(s) {unknown}")
    hints = typing.get_type_hints(config_class)
    made = dataclasses.make_dataclass(
        class_name,
        [
            (
                name,
                hints[name],
                dataclasses.field(default=f.default, default_factory=f.default_factory, metadata=f.metadata),
            )
            for name, f in ((name, chosen[name]) for name in names)
        ],
    )
    made.__doc__ = doc
    return made
