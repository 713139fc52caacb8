"""Settings every command shares, read from the environment and `.env` (the environment wins).

`PathSettings` holds where things live (models, the pinned model, shelves); the bots'
`bot.settings.Settings` extends it with their own sections. These two classes are the only
code that reads `RAREREADS_*` variables: a command reads its settings once, in its `run`,
and passes values down as arguments. A command-line flag that overrides a setting is made
from the setting's own field (`add_flags`), so each is declared once.

A validation error becomes `SettingsError`, one line naming each setting that is wrong and
what it takes, never the value given (a token pasted into the wrong variable is not printed).
"""
from __future__ import annotations

import argparse
import typing
from pathlib import Path
from typing import Any, Mapping

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator
import pydantic_settings
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from .paths import DEFAULT_DB, DEFAULT_MODELS_DIR

PREFIX = "RAREREADS_"


class SettingsError(ValueError):
    """A setting is present but cannot be used; the message names the variable, not its value."""


class PathSettings(BaseSettings):
    """Where models and shelves live: every command's settings (`RAREREADS_MODELS_DIR` ...)."""

    # A section (a field holding a model) reads RAREREADS_<SECTION>_<FIELD>: split once after the prefix.
    model_config = SettingsConfigDict(env_prefix=PREFIX, env_file=".env", env_file_encoding="utf-8",
                                      env_ignore_empty=True, env_nested_delimiter="_", env_nested_max_split=1,
                                      extra="ignore", str_strip_whitespace=True, validate_default=True)

    models_dir: Path = Field(DEFAULT_MODELS_DIR, description="folder of model folders; rarereads train writes there, "
                                                             "the retrain gate chooses the one served")
    model: Path | None = Field(None, description="one model folder to serve: a path, or a folder name in the models "
                                                 "folder")
    db: str = Field(str(DEFAULT_DB), description="the shelf store: a SQLite file, or a postgresql:// URL")

    @field_validator("models_dir")
    @classmethod
    def _home(cls, value: Path) -> Path:
        return value.expanduser()

    @field_validator("db")
    @classmethod
    def _db_home(cls, value: str) -> str:
        return value if "://" in value else str(Path(value).expanduser())

    @model_validator(mode="after")
    def _model_in_models_dir(self):
        """A bare folder name that is not a folder here means one in the models folder."""
        if self.model is not None:
            model = self.model.expanduser()
            self.model = model if model.is_absolute() or model.exists() else self.models_dir / model
        return self


class _Given(EnvSettingsSource):
    """The environment source reading a mapping given instead of `os.environ` (as the `.env` source does)."""

    def __init__(self, settings_cls, environ: Mapping[str, str]):
        self._given = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name.lower(): value for name, value in self._given.items() if value != ""}


S = typing.TypeVar("S", bound=PathSettings)


def read_settings(settings_cls: type[S], environ: Mapping[str, str] | None = None,
                  env_file: str | Path | None = ".env", **overrides: Any) -> S:
    """`settings_cls` from `environ` alone when given (tests), else from `env_file` and the environment.

    `overrides` (flags given on the command line) win over both.

    Raises:
        SettingsError: a setting cannot be used (the message names each one and what it takes).
    """
    try:
        if environ is None:
            return settings_cls(_env_file=env_file, **overrides)
        return settings_cls.model_validate({**_Given(settings_cls, environ)(), **overrides})
    except ValidationError as exc:
        raise SettingsError(_explain(exc)) from None
    except pydantic_settings.SettingsError as exc:  # a whole section given as one variable, not as JSON
        field = str(exc).split('"')[1] if '"' in str(exc) else "?"
        raise SettingsError(f"{PREFIX}{field.upper()}: set its settings one by one "
                            f"({PREFIX}{field.upper()}_<NAME>)") from None


def _explain(exc: ValidationError) -> str:
    """Each error as "RAREREADS_<NAME>: what it takes", without the value (pydantic's own text shows it)."""
    lines = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        message = error["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
        name = PREFIX + "_".join(str(part) for part in error["loc"] if isinstance(part, str)).upper()
        lines.append(message if message.startswith(PREFIX) else f"{name}: {message}")
    return "; ".join(lines)


def env_names(settings_cls: type[PathSettings]) -> list[str]:
    """Every variable `settings_cls` reads, as `.env.example` lists them."""
    names = []
    for name, field in settings_cls.model_fields.items():
        section = field.annotation
        if isinstance(section, type) and issubclass(section, BaseModel):  # RAREREADS_<SECTION>_<FIELD>
            names += [f"{PREFIX}{name}_{inner}".upper() for inner in section.model_fields]
        else:
            names.append(f"{PREFIX}{name}".upper())
    return names


def add_flags(parser: argparse.ArgumentParser, settings_cls: type[PathSettings], *names: str,
              rename: Mapping[str, str] | None = None) -> None:
    """A flag overriding each setting in `names`: `--models-dir` for `models_dir` (or as `rename` says).

    Its help is the field's description, its choices the field's `Literal` values, its type
    the field's; it defaults to None, so that only flags given override (`flag_values`).
    """
    for name in names:
        field = settings_cls.model_fields[name]
        flag = (rename or {}).get(name, "--" + name.replace("_", "-"))
        choices = typing.get_args(field.annotation) if typing.get_origin(field.annotation) is typing.Literal else None
        kind = next((t for t in (Path, int, float) if t in (field.annotation, *typing.get_args(field.annotation))), str)
        default = field.default if field.default is not None else "none"
        parser.add_argument(flag, dest=name, default=None, choices=choices, type=kind,
                            metavar=None if choices else name.split("_")[-1].upper(),
                            help=f"{field.description} (default: {PREFIX}{name.upper()}, else {default})")


def flag_values(args: argparse.Namespace, settings_cls: type[PathSettings], *names: str) -> dict[str, Any]:
    """The settings given as flags (see `add_flags`): those in `names`, or any of `settings_cls`'s."""
    return {name: value for name in names or settings_cls.model_fields
            if (value := getattr(args, name, None)) is not None}
