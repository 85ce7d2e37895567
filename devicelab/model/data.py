"""Loading data files (`fixtures/`) into typed, frozen objects with clear errors.

YAML is loaded with the safe loader only. The first bad field is reported with the file, the
field path and what was expected; callers never see a pydantic or YAML traceback.
"""

from __future__ import annotations

import json
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
            return json.loads(text)
        return yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(str(path), f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(str(path), where, f"invalid YAML: {problem}") from None
    except RecursionError:
        raise ConfigError(str(path), "", "document is nested too deeply") from None


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
    elif "input" in first and first["type"] not in ("model_type", "dict_type"):
        problem = f"{problem} (got {_short(first['input'])})"
    return ConfigError(source, field, problem)


def load(model: type[M], path: Path) -> M:
    """Read and validate one data file."""
    return validate(model, read_document(path), str(path))


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
