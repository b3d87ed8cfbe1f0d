"""One parser for every command: a config dataclass's fields become its options.

transformers' `HfArgumentParser` turns the fields into options (types, `float | None`, lists,
choices); this subclass adds what the project's commands need on top:
- each option is shown once in `--help` (`--batch_size`; `--batch-size` is accepted, not listed),
  with the field's help and default;
- booleans as `--guard / --no_guard`, dicts as JSON, `setting(positional=True)` as arguments;
- `--params FILE.yaml` (the same names; a pipeline file's section works too; the command line wins);
- `-v/--verbose` and `-q/--quiet` (quiet: warnings only, no progress bars, ours or libraries');
- `name=value` as the `yolo` command takes settings (`desclm extract source=photos/ model=best.pt
  batch=16 precision=fp16`), read as `--name value` (a switch: true/false; a list: comma-separated; an
  argument by its name); a setting's aliases (`setting(aliases=...)`: the `yolo` command's names,
  `source`, `model`, `conf`, `batch`) are taken on the command line and in `--params` files alike.
A config that refuses its values (`__post_init__`) ends the command with its message and status 2.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import logging
import sys
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from transformers.hf_argparser import HfArgumentParser

from helpers.core.logs import setup_logging
from helpers.core.paths import NOTEBOOKS
from helpers.core.settings import aliases_of, default_of, help_of, init_fields, plain_type

logger = logging.getLogger(__name__)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Lists each option once: its first spelling (and `--no_x` for a switch), then metavar."""

    def _get_help_string(self, action: argparse.Action) -> str:
        quiet = action.required or action.default is None or isinstance(action, argparse._CountAction)
        if quiet or action.dest in ("help", "params"):
            return action.help or ""
        if action.default == "":
            return f'{action.help} (default: "")'
        return super()._get_help_string(action)

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings:
            return super()._format_action_invocation(action)
        short = not action.option_strings[0].startswith("--")  # -h, --help: both are the usual spellings
        shown = getattr(action, "shown", action.option_strings if short else action.option_strings[:1])
        if action.nargs == 0:
            return ", ".join(shown)
        metavar = self._format_args(action, self._get_default_metavar_for_optional(action))
        return ", ".join(f"{option} {metavar}" for option in shown)


class Switch(argparse.Action):
    """`--name` sets True, `--no_name` False (also spelled with hyphens)."""

    def __init__(self, option_strings, dest, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)
        self.shown = option_strings[:1] + [option for option in option_strings if option.startswith("--no_")][:1]

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        setattr(namespace, self.dest, not option_string.startswith(("--no_", "--no-")))


def json_value(kind: type):
    """An argparse type reading a JSON value of `kind` (dict, list)."""

    def parse(text: str):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as error:
            raise argparse.ArgumentTypeError(f"expected JSON ({kind.__name__}), got {text!r}: {error.msg}") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(f"expected a JSON {kind.__name__}, got {text!r}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its errors
    return parse


def _spellings(name: str) -> list[str]:
    return [f"--{name}"] + ([f"--{name.replace('_', '-')}"] if "_" in name else [])


class SettingsParser(HfArgumentParser):
    """A command's parser; see the module docstring.

    Args:
        config_classes: The dataclass(es) whose fields are the options.
        prog: The command as typed (`desclm describe`).
        description: One line for `--help`.
        params_sections: Sections of a pipeline file that hold these settings (`("01_cv_extract", "01")`);
            None: no `--params` option.
    """

    def __init__(
        self,
        config_classes: type | list[type],
        *,
        prog: str,
        description: str,
        params_sections: tuple[str, ...] | None = (),
        epilog: str | None = None,
    ) -> None:
        super().__init__(
            config_classes, prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter
        )
        self.params_sections = params_sections
        if params_sections is not None:
            self.add_argument("--params", type=Path, metavar="FILE.yaml", help="YAML of these settings (options win)")
        add_logging_options(self)

    def error(self, message: str):
        """One line, `desclm extract: error: ...`, and exit status 2 (argparse would print the whole usage first)."""
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())}\n")  # a library's message may span lines

    @staticmethod
    def _parse_dataclass_field(parser: argparse.ArgumentParser, field: dataclasses.Field) -> None:
        plain = plain_type(field.type)  # "float | None" is a float that may be left out
        default = default_of(field)
        aliases = [option for alias in aliases_of(field) for option in _spellings(alias)]
        also = f" (also {', '.join(f'{alias}=' for alias in aliases_of(field))}, as for yolo)" if aliases else ""
        options: dict[str, Any] = {"help": help_of(field) + also}
        if default is dataclasses.MISSING:
            options["required"] = True
        else:
            options["default"] = default
        if field.metadata.get("positional"):
            options.pop("required", None)
            if default is not dataclasses.MISSING:
                options["nargs"] = "?"
            if typing.get_origin(plain) is list:
                options["nargs"] = "+" if default is dataclasses.MISSING else "*"
            if plain in (int, float):
                options["type"] = plain
            parser.add_argument(field.name, **options)
        elif plain is bool:
            names = _spellings(field.name) + [f"--no_{field.name}", f"--no-{field.name.replace('_', '-')}"] + aliases
            parser.add_argument(*dict.fromkeys(names), dest=field.name, action=Switch, **options)
        elif (typing.get_origin(plain) or plain) is dict:
            names = _spellings(field.name) + aliases
            parser.add_argument(*names, type=json_value(dict), metavar="JSON", dest=field.name, **options)
        else:  # HfArgumentParser passes metadata on to argparse: the help and the aliases go
            plain_field = copy.copy(field)
            plain_field.metadata = types.MappingProxyType({"help": options["help"], "aliases": aliases})
            HfArgumentParser._parse_dataclass_field(parser, plain_field)

    def _file_values(self, path: Path) -> tuple[dict, str | None]:
        """The file's settings, and the pipeline section they came from (None: the whole file)."""
        try:
            values = yaml.safe_load(path.read_text(encoding="utf-8-sig")) or {}
        except FileNotFoundError:
            self.error(f"settings file not found: {path.resolve()} (a YAML file of name: value pairs)")
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            self.error(f"settings file {path} is unreadable: {error}")
        if not isinstance(values, dict):
            self.error(f"{path}: expected name: value pairs")
        section = next((name for name in self.params_sections or () if isinstance(values.get(name), dict)), None)
        values = values[section] if section else values
        named = {
            alias: field.name
            for config in self.dataclass_types
            for field in init_fields(config)
            for alias in aliases_of(field)
        }
        return {named.get(name, name): value for name, value in values.items()}, section

    def assignments(self, argv: list[str]) -> list[str]:
        """`argv` with each `name=value` of a setting (as the `yolo` command takes them) as `--name value`:
        a switch `--name`/`--no_name` (value true/false, yes/no, on/off, 1/0), a list its comma-separated
        items, an argument (`described=runs/d.jsonl`) in its place among the arguments. A token that is an
        option's value (`--title a=b`) or names no setting stays as it is."""
        by_name = {action.dest: action for action in self._actions if action.dest != "help"}
        for action in self._actions:  # a setting's aliases (`--source`: `source=`)
            by_name |= {option.lstrip("-").replace("-", "_"): action for option in action.option_strings[1:]}
        by_name = {name: action for name, action in by_name.items() if not name.startswith("no_")}
        arguments = [action.dest for action in self._actions if not action.option_strings]
        rewritten: list[str] = []
        named: dict[str, list[str]] = {}
        value_next = False  # the token is the value of the option before it
        for token in argv:
            if value_next or token.startswith("-"):
                option = None if value_next else self._option_string_actions.get(token)
                value_next = option is not None and option.nargs is None
                rewritten.append(token)
                continue
            name, assigned, value = token.partition("=")
            action = by_name.get(name.replace("-", "_")) if assigned else None
            if action is None or (action.nargs == 0 and not isinstance(action, Switch)):  # -v counts: no value
                rewritten.append(token)
                continue
            items = value.split(",") if action.nargs in ("+", "*") else [value]
            if not action.option_strings:
                named[action.dest] = items
            elif isinstance(action, Switch):
                truth = {"true": True, "yes": True, "on": True, "1": True}
                truth |= {"false": False, "no": False, "off": False, "0": False}
                if value.lower() not in truth:
                    self.error(f"{token}: {action.dest} is a switch: true or false")
                rewritten.append(f"--{'' if truth[value.lower()] else 'no_'}{action.dest}")
            else:
                rewritten += [action.option_strings[0], *items]
        return [item for dest in arguments if dest in named for item in named[dest]] + rewritten

    def parse(self, argv: list[str] | None = None) -> tuple[Any, ...]:
        """The configs (file values, then command-line options), then the remaining namespace
        (`params`, `verbose`, `quiet`, options added by hand). Sets up logging first."""
        argv = self.assignments(sys.argv[1:] if argv is None else list(argv))
        head = argparse.ArgumentParser(add_help=False)
        add_logging_options(head)
        head.add_argument("--params", type=Path)
        known, _ = head.parse_known_args(argv)
        setup_logging(known.verbose - known.quiet)
        if known.params and self.params_sections is not None:
            values, section = self._file_values(known.params)
            names = {field.name for config_class in self.dataclass_types for field in init_fields(config_class)}
            unknown = sorted(set(values) - names)
            if unknown and section:  # a pipeline file: its notebook's report settings are not this command's
                logger.info("%s: %s settings not used by %s: %s", known.params, section, self.prog, unknown)
                values = {name: value for name, value in values.items() if name in names}
            elif unknown:
                self.error(f"{known.params}: unknown setting(s) {unknown}; expected some of {sorted(names)}")
            self.set_defaults(**values)
            for action in self._actions:
                if action.dest in values:
                    action.required = False
                    if not action.option_strings and action.nargs is None:
                        action.nargs = "?"
        try:
            *parsed, remaining = self.parse_args_into_dataclasses(
                argv, return_remaining_strings=True, look_for_args_file=False
            )
        except (TypeError, ValueError) as error:  # a config's own check of its values
            self.error(str(error))
        if remaining:
            self.error(f"unrecognized arguments: {' '.join(remaining)}")
        return tuple(parsed)


def notebook_sections(key: str) -> tuple[str, str]:
    """The sections of a pipeline parameters file that hold notebook `key`'s settings ("01_cv_extract", "01")."""
    return NOTEBOOKS[key], key


def add_logging_options(parser: argparse.ArgumentParser) -> None:
    """`-v/--verbose` and `-q/--quiet`."""
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (debug; libraries' logs too)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="warnings and errors only, no progress bars")


def subcommand(argv: list[str], prog: str, description: str, choices: dict[str, str]) -> str | None:
    """The subcommand `argv` starts with, if it is one of `choices` (name -> one line of help); else None,
    after argparse has answered (`--help`, an unknown name, or none given: status 2)."""
    if argv and argv[0] in choices:
        return argv[0]
    parser = argparse.ArgumentParser(prog=prog, description=description)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands", required=True)
    for name, line in choices.items():
        commands.add_parser(name, help=line, add_help=False)
    parser.parse_args(argv[:1])
    return None
