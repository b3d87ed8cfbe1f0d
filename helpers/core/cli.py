"""Command lines built from the config dataclasses, with one parser, and logging for commands.

Every option of a command is a field of its config dataclass (`--batch_size` or `--batch-size`),
its help is the field's `help` metadata or its trailing comment, and `--help` shows the defaults.
`--params FILE.yaml` reads the same fields from a file (a pipeline file's section works too);
options on the command line win. `-v/--verbose` and `-q/--quiet` set how much is logged.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import logging
import os
import re
import sys
import typing
from pathlib import Path
from typing import Any

import yaml

from helpers.core.paths import enter_project_root, require_file

logger = logging.getLogger(__name__)
_COMMENT = re.compile(r"^\s+(\w+)\s*:[^#]*#\s*(.+?)\s*$")


def _comments(cls: type) -> dict[str, str]:
    """Trailing comments of the dataclass's field lines (`name: type = value  # help`)."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    return {m.group(1): m.group(2) for m in map(_COMMENT.match, source.splitlines()) if m}


def _json_value(kind: type):
    def parse(text: str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"expected JSON ({kind.__name__}), got {text!r}: {error.msg}") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"expected a JSON {kind.__name__}, got {text!r}")
        return value

    return parse


class ConfigParser(argparse.ArgumentParser):
    """An argparse parser whose options are a config dataclass's fields; see the module docstring."""

    def __init__(
        self,
        config_class: type,
        *,
        params_section: tuple[str, ...] | None = (),
        positional: tuple[str, ...] = (),
        **kwargs,
    ) -> None:
        kwargs.setdefault("formatter_class", argparse.ArgumentDefaultsHelpFormatter)
        super().__init__(**kwargs)
        self.config_class = config_class
        self.params_section = params_section
        hints = typing.get_type_hints(config_class)
        comments = _comments(config_class)
        group = self.add_argument_group("settings")
        for field in dataclasses.fields(config_class):
            if not field.init:
                continue
            names = [f"--{field.name}"] + ([f"--{field.name.replace('_', '-')}"] if "_" in field.name else [])
            help_text = field.metadata.get("help") or comments.get(field.name, "")
            if field.name in positional:
                group.add_argument(field.name, type=hints[field.name], help=help_text)
                continue
            default = field.default if field.default is not dataclasses.MISSING else dataclasses.MISSING
            if default is dataclasses.MISSING and field.default_factory is not dataclasses.MISSING:
                default = field.default_factory()
            options: dict[str, Any] = {"dest": field.name, "help": help_text, "default": argparse.SUPPRESS}
            kind = hints[field.name]
            members = typing.get_args(kind)
            if type(None) in members and len(members) == 2:  # "float | None": a float, None by default
                kind = next(member for member in members if member is not type(None))
            if kind is bool:
                options["action"] = argparse.BooleanOptionalAction
            elif kind in (list, dict) or typing.get_origin(kind) in (list, dict):
                options["type"] = _json_value(typing.get_origin(kind) or kind)
                options["metavar"] = "JSON"
            elif kind in (int, float, str):
                options["type"] = kind
            if default is dataclasses.MISSING:
                options["required"] = True
            else:
                options["help"] += (
                    f" (default: {json.dumps(default) if isinstance(default, list | dict) else default!r})"
                )
            group.add_argument(*names, **options)
        if params_section is not None:
            self.add_argument("--params", type=Path, help="YAML file of these settings (command-line options win)")
        add_logging_options(self)

    def _file_values(self, path: Path) -> dict:
        values = yaml.safe_load(require_file(path, "Parameters file").read_text(encoding="utf-8")) or {}
        if not isinstance(values, dict):
            self.error(f"{path}: expected name: value pairs")
        for section in self.params_section:
            if isinstance(values.get(section), dict):
                return values[section]
        return values

    def parse_config(self, argv: list[str] | None = None) -> tuple[Any, argparse.Namespace]:
        """The config (file values, then command-line options) and the parsed namespace.

        Exits with status 2 and the config's own message when a value is invalid.
        """
        args = self.parse_args(argv)
        setup_logging(args.verbose - args.quiet)
        names = {f.name for f in dataclasses.fields(self.config_class) if f.init}
        values = self._file_values(args.params) if getattr(args, "params", None) else {}
        unknown = sorted(set(values) - names)
        if unknown:
            self.error(f"{args.params}: unknown setting(s) {unknown}; expected some of {sorted(names)}")
        values.update({name: getattr(args, name) for name in names if hasattr(args, name)})
        try:
            return self.config_class(**values), args
        except (TypeError, ValueError) as error:
            self.error(str(error))


def config_parser(
    config_class: type,
    prog: str,
    description: str,
    params_file: bool = False,
    params_section: tuple[str, ...] = (),
    positional: tuple[str, ...] = (),
) -> ConfigParser:
    """A `ConfigParser` for `config_class`; `params_file` adds `--params FILE.yaml` (a pipeline file's
    `params_section`, e.g. ("03_train_t5", "03"), is used when present); `positional` fields are arguments."""
    return ConfigParser(
        config_class,
        params_section=params_section if params_file else None,
        positional=positional,
        prog=prog,
        description=description,
    )


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """`-v/--verbose` and `-q/--quiet` for a parser that is not a ConfigParser."""
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (debug)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="log warnings and errors only")


def setup_logging(verbosity: int = 0, stream=None) -> None:
    """Logs desclm's messages (INFO; DEBUG at verbosity > 0, WARNING below 0) to `stream` (stderr),
    and keeps libraries to their errors unless verbose: their warnings and bars mean nothing to a user."""
    level = logging.DEBUG if verbosity > 0 else logging.WARNING if verbosity < 0 else logging.INFO
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s" if verbosity > 0 else "%(message)s"))
    root = logging.getLogger("helpers")
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries(verbose=verbosity > 0)


def quiet_libraries(verbose: bool = False) -> None:
    """transformers, datasets and Ultralytics: errors only (and no dataset-map bars) unless verbose.

    Libraries not imported yet read the same choice from their environment variables later, so a
    command that never needs transformers does not pay for importing it here.
    """
    os.environ["TRANSFORMERS_VERBOSITY"] = "info" if verbose else "error"
    os.environ["DATASETS_VERBOSITY"] = "warning" if verbose else "error"
    os.environ["HF_DATASETS_DISABLE_PROGRESS_BARS"] = "0" if verbose else "1"
    if "transformers" in sys.modules:
        transformers = sys.modules["transformers"]
        transformers.logging.set_verbosity_info() if verbose else transformers.logging.set_verbosity_error()
    if "datasets" in sys.modules:
        datasets = sys.modules["datasets"]
        datasets.logging.set_verbosity_warning() if verbose else datasets.logging.set_verbosity_error()
        datasets.enable_progress_bars() if verbose else datasets.disable_progress_bars()
    logging.getLogger("ultralytics").setLevel(logging.INFO if verbose else logging.WARNING)


def start_notebook() -> Path:
    """A notebook's set-up: relative parameters from the project root, desclm's log on stdout (a
    report shows no red stderr boxes), libraries quiet. Returns the project root."""
    root = enter_project_root()
    setup_logging(0, stream=sys.stdout)
    return root


def merge_arguments(argv: list[str], prog: str, shards_help: str) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The `merge OUTPUT SHARD...` subcommand of a sharded command: its parser and parsed arguments
    (logging set up)."""
    parser = argparse.ArgumentParser(prog=prog, description="Combine shard outputs.")
    parser.add_argument("output", help="merged JSONL to write")
    parser.add_argument("shards", nargs="+", help=shards_help)
    add_logging_options(parser)
    args = parser.parse_args(argv)
    setup_logging(args.verbose - args.quiet)
    return parser, args
