"""Reading configs: YAML files, ``--set`` overrides and the typed dataclass reader.

Values are checked against the dataclass field types (`_coerce`), unknown keys get a
did-you-mean hint (`_build`), then the study kind is resolved and every rule runs
(`tfrec_inc.config.rules`). ``--set a.b=c`` overrides are applied to the raw YAML before
validation, so they are checked exactly like the file.

Example:
  >>> cfg = load("experiments/quickstart.yaml", overrides=["seeds=[0]"])
  >>> cfg.study
  'incremental'
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from tfrec_inc.config.rules import check_config, resolve_study
from tfrec_inc.config.studies import ExperimentConfig
from tfrec_inc.errors import ConfigError


def load(path: str | Path, overrides: Sequence[str] = ()) -> ExperimentConfig:
    """Reads, overrides and validates a YAML experiment config.

    Args:
      path: the YAML file.
      overrides: ``"a.b=c"`` strings; values are parsed as YAML (``seeds=[0,1]``).

    Returns:
      The validated, frozen `ExperimentConfig`.

    Raises:
      ConfigError: unreadable or empty file, bad YAML, unknown key, wrong type or bad value.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config {path}: {exc}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}:{where.strip() or '?'}: {problem}") from None
    if raw is None:
        raise ConfigError(f"{path}: the config is empty; write `{{}}` to run every default")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: top level must be a mapping of keys, got {type(raw).__name__}")
    for item in overrides:
        apply_override(raw, item)
    return from_dict(raw)


def from_dict(raw: Mapping[str, Any]) -> ExperimentConfig:
    """Validates a plain dict (e.g. parsed YAML) into an `ExperimentConfig`.

    Args:
      raw: the config as plain mappings and lists; missing keys take their defaults.

    Returns:
      The validated, frozen config, its ``study`` resolved (see `resolve_study`).

    Raises:
      ConfigError: unknown key, wrong type or bad value.
    """
    cfg = _build(ExperimentConfig, raw, "")
    cfg = dataclasses.replace(cfg, study=resolve_study(cfg))
    check_config(cfg)
    return cfg


def apply_override(raw: dict[str, Any], item: str) -> None:
    """Applies one ``a.b=c`` (or ``models.0.epochs=3``) override to a raw dict in place.

    Args:
      raw: the parsed YAML, changed in place; ``models.N`` on a config without ``models``
        starts from one default model.
      item: ``KEY=VALUE``; the value is parsed as YAML (``seeds=[0,1]``).

    Raises:
      ConfigError: no ``=``, an index past a list's end, or a key under a scalar.
    """
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set seeds=[0,1]")
    try:
        parsed = yaml.safe_load(value) if value.strip() else None
    except yaml.YAMLError:
        parsed = value
    node: Any = raw
    parts = key.split(".")
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ConfigError(f"--set {key}: {part!r} is not an index of a {len(node)}-item list")
            if last:
                node[int(part)] = parsed
            else:
                node = node[int(part)]
        else:
            if last:
                node[part] = parsed
            else:
                if part == "models" and "models" not in node:
                    node["models"] = [{}]
                node = node.setdefault(part, {})
                if not isinstance(node, dict | list):
                    raise ConfigError(f"--set {key}: {part!r} is not a mapping")


def type_name(tp: Any) -> str:
    """How errors and the config reference name a field's type.

    Args:
      tp: a field's type hint (``int``, ``list[str]``, ``float | None``, ...).

    Returns:
      E.g. ``integer``, ``list of string``, ``number or NoneType``.
    """
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        return " or ".join(type_name(a) for a in typing.get_args(tp))
    if origin is list:
        return f"list of {type_name(typing.get_args(tp)[0])}"
    if origin is dict:
        return "mapping"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _coerce(tp: Any, value: Any, where: str) -> Any:
    """``value`` checked against the type hint ``tp`` (an int for a float field becomes a float)."""
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(arg, value, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {type_name(tp)}, got {value!r}")
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return _build(tp, value, where)
    if origin is list:
        (inner,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected {type_name(tp)}, got {value!r}")
        return [_coerce(inner, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    elif tp is str:
        if isinstance(value, str):
            return value
    raise ConfigError(f"{where}: expected {type_name(tp)}, got {value!r}")


def _build(cls: type, raw: Mapping[str, Any], prefix: str) -> Any:
    """The dataclass ``cls`` from a mapping; unknown keys get a did-you-mean hint."""
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in raw.items():
        where = f"{prefix}.{key}" if prefix else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f"; valid keys: {', '.join(names)}"
            raise ConfigError(f"unknown key {where!r}{hint}")
        kwargs[key] = _coerce(hints[key], value, where)
    return cls(**kwargs)


def save(cfg: ExperimentConfig, path: str | Path) -> None:
    """Writes the resolved config as YAML (it loads back to an equal config).

    Args:
      cfg: the config to write.
      path: the YAML file (overwritten).
    """
    Path(path).write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False), encoding="utf-8")
