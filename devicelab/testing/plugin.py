"""The devicelab pytest plugin (registered through the `pytest11` entry point).

Fixtures: `lab` (the started lab), `handset` (leased and healthy), `flashed_handset` (the build
under test flashed and booted), `fresh_handset` (factory reset and booted), `policy` (the policy
of the build under test, by its SKU). A failing test gets
the handset's logcat excerpt, a screenshot and its properties attached to Allure; every test
records its handset as an Allure parameter so runs on several handsets stay apart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import allure
import pytest

from devicelab.errors import DevicelabError
from devicelab.handset import Handset
from devicelab.lab import netguard
from devicelab.lab.lab import Lab
from devicelab.model.builds import Build, load_build
from devicelab.model.policy import Policy, policy_for
from devicelab.model.secret import install_log_scrubber, redact
from devicelab.testing.assertions import CoverageIncomplete, PrivacyViolation
from devicelab.testing.capture import RAW, capture, capture_settings, capture_upstream
from devicelab.testing.capture import configure as configure_capture
from devicelab.testing.session_report import WORKER_KEY, XdistHooks, evidence_dir, session_report


def _no_step(_name: str) -> contextlib.AbstractContextManager[Any]:
    return contextlib.nullcontext()


USB_HOST = pytest.StashKey[str]()
REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()
__all__ = ["capture", "capture_settings", "capture_upstream", "flashed_handset", "fresh_handset", "handset", "lab",
           "policy"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("devicelab")
    group.addoption("--lab", default=None, help="Lab inventory (fixtures/lab/*.yaml); default: the virtual lab.")
    group.addoption("--build", default=None, help="Build under test (a name in fixtures/builds/).")
    group.addoption("--policy", default=None,
                    help="Policy file or name in fixtures/policies/ (default: by the build's SKU), as in gate.")
    group.addoption("--lease-timeout", type=float, default=None, help="Seconds to wait for a free handset.")
    parser.addini("devicelab_network_guard", type="bool", default=False,
                  help="Refuse (and fail the test for) any socket toward an address off this machine.")
    group.addoption("--devicelab-out", metavar="DIR", default=None,
                    help="Keep each judged test's evidence and the run's verdicts here (default: a new "
                         "reports/suites/RUN_TIME); with --alluredir they also go with the Allure results.")
    group.addoption("--expect-leak", metavar="REASON", default=None,
                    help="The build under test is known to leak: every test that captures must fail with a "
                         "privacy violation (strict xfail, REASON printed); one that passes fails the run.")
    group.addoption("--expect-inconclusive", metavar="REASON", default=None,
                    help="The lab cannot see all of this build's traffic (REASON): every test that captures must "
                         "end inconclusive (strict xfail); one that passes, or fails otherwise, fails the run.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "handset(**tags): lease a handset whose inventory tags match")
    configure_capture(config)
    install_log_scrubber()
    if config.getini("devicelab_network_guard"):
        netguard.install()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(XdistHooks(config), "devicelab-xdist")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    leak, blind = config.getoption("--expect-leak"), config.getoption("--expect-inconclusive")
    if leak and blind:
        raise pytest.UsageError("--expect-leak and --expect-inconclusive exclude each other")
    for item in items:
        if "capture" not in getattr(item, "fixturenames", ()):
            continue
        if leak:  # only a privacy violation is the expected failure: a lab error or a blind capture still fails
            item.add_marker(pytest.mark.xfail(reason=f"known leak: {leak}", raises=PrivacyViolation, strict=True))
        elif blind:  # only "could not see everything" is expected: a leak or a pass fails the run
            item.add_marker(pytest.mark.xfail(reason=f"known blind spot: {blind}", raises=CoverageIncomplete,
                                              strict=True))


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    refused = netguard.take() if netguard.installed() else []
    if refused:
        # whether made in the test's thread or in one it cannot see (the proxy's), the attempt fails the test
        report.outcome = "failed"
        report.longrepr = "\n".join(dict.fromkeys(refused))
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.fixture(scope="session")
def lab(request: pytest.FixtureRequest) -> Iterator[Lab]:
    """The lab of this run, started (the embedded virtual lab unless --lab names another)."""
    try:
        the_lab = Lab.from_file(request.config.getoption("--lab"))
        the_lab.start()
    except DevicelabError as exc:
        pytest.fail(f"lab could not start: {exc}", pytrace=False)
    yield the_lab
    the_lab.stop()


@pytest.fixture(scope="session")
def build_under_test(request: pytest.FixtureRequest) -> Build | None:
    name = request.config.getoption("--build")
    if name is None:
        return None
    try:
        return load_build(name)
    except DevicelabError as exc:
        raise pytest.UsageError(str(exc)) from None


def _wanted(request: pytest.FixtureRequest) -> dict[str, str]:
    wanted: dict[str, str] = {}
    for marker in reversed(list(request.node.iter_markers("handset"))):
        wanted.update({k: str(v) for k, v in marker.kwargs.items()})
    return wanted


@pytest.fixture
def handset(request: pytest.FixtureRequest, lab: Lab) -> Iterator[Handset]:
    """A handset leased for this test alone, booted and answering."""
    timeout = request.config.getoption("--lease-timeout")
    with lab.lease(_wanted(request), timeout=timeout, holder=request.node.nodeid) as leased:
        leased.check_health()
        _record(request, leased)
        leased.mark_log(f"devicelab test start {request.node.nodeid}")
        yield leased
        leased.step = _no_step
        with contextlib.suppress(DevicelabError):
            _environment(request.config, leased)  # the build it ran at the end of the test
        reports = request.node.stash.get(REPORTS, {})
        if any(r.failed for r in reports.values()):
            _attach_evidence(leased, request.node.nodeid)


@pytest.fixture
def flashed_handset(handset: Handset, build_under_test: Build | None) -> Handset:
    """The handset running the build under test (--build): flashed if it runs anything else."""
    if build_under_test is not None and handset.fingerprint() != build_under_test.fingerprint:
        handset.flash(build_under_test)  # an Allure step of its own (Handset.step)
    with contextlib.suppress(DevicelabError):
        allure.dynamic.parameter("build", handset.build().name)
    return handset


@pytest.fixture
def fresh_handset(flashed_handset: Handset) -> Handset:
    """The build under test, factory reset: first boot as a buyer sees it."""
    flashed_handset.factory_reset()  # an Allure step of its own (Handset.step)
    return flashed_handset


@pytest.fixture
def policy(request: pytest.FixtureRequest, handset: Handset, build_under_test: Build | None) -> Policy:
    """The policy of the build under test (--build), or of the build the handset runs: the one in
    fixtures/policies/ whose `skus` list its SKU."""
    try:
        explicit = request.config.getoption("--policy")
        policy = policy_for(build_under_test or handset.build(), explicit)[0]
    except DevicelabError as exc:
        pytest.fail(f"no policy for this test: {exc}", pytrace=False)
    allure.dynamic.parameter("policy", policy.name)
    return policy


def _record(request: pytest.FixtureRequest, handset: Handset) -> None:
    """The handset as a parameter (redacted), its USB host as the one `host` label, and its steps as Allure steps."""
    handset.step = allure.step
    allure.dynamic.parameter("handset", f"{handset.entry.id} ({handset.model} {redact(handset.serial)})")
    allure.dynamic.parameter("SIM", handset.entry.sim or "none")
    _host_label(request, handset.entry.usb_host)
    _environment(request.config, handset)


def _environment(config: pytest.Config, handset: Handset) -> None:
    """Allure's Environment panel: each handset as it is now (after a flash: the build under test)."""
    session_report(config).environment[f"handset.{handset.entry.id}"] = (
        f"{handset.model} {redact(handset.serial)} {handset.fingerprint()} on {handset.entry.usb_host}")


def _host_label(request: pytest.FixtureRequest, host: str) -> None:
    """Allure's timeline groups results by the `host` label: the USB host the handset is on."""
    request.node.stash[USB_HOST] = host
    allure.dynamic.label("host", host)  # type: ignore[no-untyped-call]


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_teardown(item: pytest.Item) -> Generator[None, None, None]:
    """allure-pytest adds the machine's name as a second `host` label after the teardown: one
    `host` per result, the USB host's, or Allure splits the test across two timeline rows."""
    yield
    host = item.stash.get(USB_HOST, None)
    listener = item.config.pluginmanager.getplugin("allure_listener")
    if host is None or listener is None:
        return
    cache = getattr(listener, "_cache", None)  # allure-pytest's own: its result of this item
    uuid = cache.get(item.nodeid) if cache is not None else None
    result = listener.allure_logger.get_test(uuid) if uuid else None
    if result is not None:
        result.labels = [label for label in result.labels if label.name != "host" or label.value == host]


def _attach_evidence(handset: Handset, nodeid: str) -> None:
    """What a reader of a failed test needs: the log of the test, the screen, the properties."""
    try:
        log = handset.logcat()
        marker = f"devicelab test start {nodeid}"
        excerpt = log[log.rfind(marker) :] if marker in log else log[-200_000:]
        allure.attach(excerpt, f"logcat (this test) {RAW}", allure.attachment_type.TEXT)
        allure.attach(handset.screenshot(), "screenshot", allure.attachment_type.PNG)
        props = "\n".join(f"{k}={v}" for k, v in sorted(handset.properties().items()))
        allure.attach(props, f"device properties {RAW}", allure.attachment_type.TEXT)
    except DevicelabError as exc:
        allure.attach(f"could not collect evidence: {exc}", "evidence error", allure.attachment_type.TEXT)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """Workers hand their handsets and verdicts to the controller, which writes them once, next to
    the Allure results of every worker (environment.properties, devicelab-verdicts.json)."""
    config = session.config
    report = session_report(config)
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput[WORKER_KEY] = report.payload()
        return
    alluredir = config.getoption("--alluredir", None)
    if alluredir:
        report.write(Path(alluredir))
    if report.verdicts:
        report.write(evidence_dir(config))


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    lines = session_report(config).summary()
    if lines:
        terminalreporter.section("devicelab privacy verdicts")
        for line in lines:
            terminalreporter.write_line(line)
        terminalreporter.write_line(f"evidence and verdicts: {evidence_dir(config)}")
