"""verdict.json: the run record as JSON, with the derived verdicts spelled out for machines.

`outcome` and `exit_code` (of the run and of each handset) are written for readers such as
`jq .outcome`; reading the file back recomputes them from the record and ignores the written ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from devicelab.model.data import validate
from devicelab.errors import ConfigError
from devicelab.model.outcome import EXIT_CODES
from devicelab.reports.model import RunRecord

VERDICT_FILE = "verdict.json"
#: A run with many findings carries many excerpts: more than the 4 MB allowed for a fixtures file.
MAX_VERDICT_BYTES = 512 * 1024 * 1024
_DERIVED = ("outcome", "exit_code")


def to_dict(run: RunRecord) -> dict[str, Any]:
    data = run.model_dump(mode="json")
    data = {"outcome": run.outcome, "exit_code": run.exit_code, **data}
    for handset in data["handsets"]:
        outcome = run.outcome_of(handset["handset"]["id"])
        handset["outcome"] = outcome
        handset["exit_code"] = EXIT_CODES[outcome]
    return data


def to_json(run: RunRecord) -> str:
    return json.dumps(to_dict(run), indent=2, ensure_ascii=False) + "\n"


def from_dict(data: Any, source: str) -> RunRecord:
    """A run record from parsed JSON; ConfigError naming `source` and the first bad field."""
    if not isinstance(data, dict):
        raise ConfigError(source, "", "not a devicelab run record (expected a JSON object)")
    if data.get("record") != "devicelab-run":
        raise ConfigError(source, "record", "not a devicelab run record (expected \"record\": \"devicelab-run\")")
    data = {k: v for k, v in data.items() if k not in _DERIVED}
    handsets = data.get("handsets")
    if isinstance(handsets, list):
        data["handsets"] = [{k: v for k, v in h.items() if k not in _DERIVED} if isinstance(h, dict) else h
                            for h in handsets]
    return validate(RunRecord, data, source)


def read_run(path: Path) -> RunRecord:
    """A run from its folder (holding verdict.json) or from the verdict.json file itself."""
    file = path / VERDICT_FILE if path.is_dir() else path
    if path.is_dir() and not file.is_file():
        raise ConfigError(str(path), "", f"no {VERDICT_FILE} in this folder: not a devicelab run")
    if file.suffix != ".json":
        raise ConfigError(str(file), "", f"expected a run folder or its {VERDICT_FILE}")
    try:
        if file.stat().st_size > MAX_VERDICT_BYTES:
            raise ConfigError(str(file), "", f"larger than {MAX_VERDICT_BYTES} bytes: not a run record")
        data = json.loads(file.read_bytes())
    except FileNotFoundError:
        raise ConfigError(str(file), "", "file not found") from None
    except OSError as exc:
        raise ConfigError(str(file), "", f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(str(file), "", f"not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(str(file), f"line {exc.lineno}", f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(str(file), "", "document is nested too deeply") from None
    return from_dict(data, str(file))
