"""The config reference (``docs/config.md``), generated from the config schema.

Every key of an experiment YAML is a field of a dataclass in `tfrec_inc.config`; its
type and default come from the dataclass and its meaning from the ``Attributes:``
section of the class docstring. Generating the page from there keeps one source of
truth: a test fails when ``docs/config.md`` is not what this module writes.

Example:
  >>> from tfrec_inc.docs import config_reference
  >>> "models[].embedding_dim" in config_reference()
  True
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import typing
from typing import Any

import yaml

from tfrec_inc import config as config_lib

HEADER = """# Config reference

Every key of an experiment YAML (`experiments/*.yaml`), with its type, default and meaning.
Unknown keys are errors (with a did-you-mean hint); any key can be overridden from the
command line with `--set a.b=c` (list items by index: `--set models.0.epochs=3`).

Generated from the schema in `tfrec_inc/config/` by `tfrec-inc docs --out docs/config.md`;
do not edit by hand (a test checks that this file is current).
"""


def attribute_docs(cls: type) -> dict[str, str]:
    """Field name -> description, parsed from the ``Attributes:`` section of ``cls``'s docstring.

    Args:
      cls: a dataclass whose docstring documents its fields Google-style.

    Returns:
      The descriptions, continuation lines joined with spaces.
    """
    doc = inspect.getdoc(cls) or ""
    found: dict[str, str] = {}
    in_attrs, current = False, None
    for line in doc.splitlines():
        if line.strip() == "Attributes:":
            in_attrs = True
            continue
        if not in_attrs:
            continue
        if line and not line.startswith(" "):
            break  # the next section
        match = re.match(r"^  (\w+): ?(.*)$", line)
        if match:
            current = match.group(1)
            found[current] = match.group(2).strip()
        elif current and line.strip():
            found[current] += " " + line.strip()
    return found


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _render(value: Any) -> str:
    if dataclasses.is_dataclass(value):
        return "(section)"
    if isinstance(value, list) and value and dataclasses.is_dataclass(value[0]):
        return "one model with the defaults below"
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("\n...").removesuffix("...").strip()
    return f"`{text}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _section(cls: type, prefix: str, sections: list[str]) -> None:
    hints = typing.get_type_hints(cls)
    docs = attribute_docs(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    nested: list[tuple[type, str]] = []
    for field in dataclasses.fields(cls):
        key = f"{prefix}{field.name}"
        tp = hints[field.name]
        inner = _dataclass_in(tp)
        if inner is not None:
            is_list = typing.get_origin(tp) is list
            nested.append((inner, f"{key}[]." if is_list else f"{key}."))
        type_name = inner.__name__ if inner is not None and typing.get_origin(tp) is not list else (
            f"list of {inner.__name__}" if inner is not None
            else config_lib.type_name(tp).replace("NoneType", "null"))
        meaning = docs.get(field.name)
        if meaning is None:
            raise ValueError(f"{cls.__name__}.{field.name} has no description in its docstring")
        default = _render(_default(field))
        rows.append(f"| `{key}` | {_cell(type_name)} | {_cell(default)} | {_cell(meaning)} |")
    title = prefix.rstrip(".") or "top level"
    summary = (inspect.getdoc(cls) or "").split("\n\n")[0].replace("\n", " ")
    sections.append(f"## `{title}` ({cls.__name__})\n\n{summary}\n\n" + "\n".join(rows) + "\n")
    for inner, inner_prefix in nested:
        _section(inner, inner_prefix, sections)


def _dataclass_in(tp: Any) -> type | None:
    """The dataclass a field holds (directly, optionally, or as list items), if any."""
    for candidate in (tp, *typing.get_args(tp)):
        if isinstance(candidate, type) and dataclasses.is_dataclass(candidate):
            return candidate
    return None


def config_reference() -> str:
    """The Markdown config reference: one table per config section.

    Returns:
      The page text (what ``docs/config.md`` holds).

    Raises:
      ValueError: a config field has no description in its class docstring.
    """
    sections: list[str] = []
    _section(config_lib.ExperimentConfig, "", sections)
    return HEADER + "\n" + "\n".join(sections)
