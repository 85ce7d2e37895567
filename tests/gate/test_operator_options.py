"""`--wizard operator` is checked before a handset is touched: it needs the gateway (nothing else
sees a handset whose adb is off), and it lifts the retail refusal for that run alone."""

from __future__ import annotations

import pytest

from devicelab.errors import ConfigError, LabNotReadyError
from devicelab.gate.options import GateOptions, load_builds
from devicelab.lab.preflight import refuse_build
from devicelab.model.builds import load_build

RETAIL = "nokia7plus-00WW_3_22C-retail"


@pytest.mark.parametrize(("changes", "flag"), [({"capture": "regular"}, "--capture"),
                                               ({"from_build": "nokia7plus-00WW_3_22C"}, "--from"),
                                               ({"differential": True, "handsets": 2}, "--differential")])
def test_what_needs_adb_is_refused_with_the_operator(changes: dict[str, object], flag: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_builds(GateOptions(build=RETAIL, wizard="operator", **changes))  # type: ignore[arg-type]
    assert raised.value.field == flag


def test_the_retail_build_is_refused_unless_a_person_walks_it() -> None:
    build = load_build(RETAIL)
    with pytest.raises(LabNotReadyError, match="retail"):
        refuse_build(build)
    refuse_build(build, walked_by_operator=True)  # the gateway needs no adb: nothing else is missing
    assert load_builds(GateOptions(build=RETAIL, wizard="operator", capture="gateway"))[0].name == RETAIL
