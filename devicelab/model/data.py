"""Loading data files (`fixtures/`) into typed, frozen objects with clear errors.

YAML is loaded with the safe loader only. The first bad field is reported with the file, the
field path and what was expected; callers never see a pydantic or YAML traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from devicelab.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

#: Data files larger than this are refused before parsing (a YAML bomb is not a config).
MAX_DATA_FILE_BYTES = 4 * 1024 * 1024


class Frozen(BaseModel):
    """Base for data models: immutable, and unknown keys are errors (typos must not pass)."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class _UniqueKeyLoader(yaml.SafeLoader):
    """The safe loader, refusing a key given twice in one mapping (YAML keeps the last silently:
    a policy's second `approved:` would replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                twice = key in seen
            except TypeError:
                continue  # an unhashable key: the safe loader refuses it with its own message
            if twice:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} is given twice",
                                                        key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _json_unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    twice = next((key for key in keys if keys.count(key) > 1), None)
    if twice is not None:
        raise ValueError(f"key {twice!r} is given twice")
    return dict(pairs)


def read_document(path: Path) -> Any:
    """Parse a YAML or JSON file into plain Python data, or raise ConfigError naming it."""
    try:
        size = path.stat().st_size
        if size > MAX_DATA_FILE_BYTES:
            raise ConfigError(str(path), "", f"file is {size} bytes; the limit is {MAX_DATA_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(path), "", f"not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot read: {exc.strerror}") from None
    try:
        if path.suffix == ".json":
            return json.loads(text, object_pairs_hook=_json_unique)
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "document is nested too deeply") from None
    except ValueError as exc:  # a JSON key given twice
        raise ConfigError(str(path), "", f"invalid JSON: {exc}") from None


def validate(model: type[M], data: Any, source: str) -> M:
    """Validate plain data against `model`; the first error names `source` and the field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise config_error_from(exc, source) from None


def config_error_from(exc: ValidationError, source: str) -> ConfigError:
    first = exc.errors(include_url=False)[0]
    field = ".".join(str(part) for part in first["loc"]) or "(top level)"
    problem = first["msg"]
    if first["type"] == "missing":
        problem = "required field is missing"
    elif first["type"] == "extra_forbidden":
        problem = "unknown field"
    elif first["type"] == "value_error" and not first["loc"]:
        # a check across fields (a model validator) names its field itself: "approved.0.host: ..."
        problem = problem.removeprefix("Value error, ")
        named = re.match(r"([\w.]+): (.*)", problem, re.S)
        if named:
            field, problem = named.groups()
    elif "input" in first and first["type"] not in ("model_type", "dict_type"):
        problem = f"{problem} (got {_short(first['input'])})"
    return ConfigError(source, field, problem)


def load(model: type[M], path: Path) -> M:
    """Read and validate one data file."""
    return validate(model, read_document(path), str(path))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
