"""CA and proxy setting on a handset: the shell scripts really run (sh + stub Android tools)."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from devicelab.capture.ca import RunCA, create_run_ca
from devicelab.capture.device_setup import DeviceSetup, clear_proxy, install_ca, remove_ca, set_proxy
from devicelab.errors import CaptureError
from tests.capture.fake_handset import FakeHandset, Paths


@pytest.fixture
def run_ca(tmp_path: Path) -> RunCA:
    return create_run_ca(tmp_path / "confdir", label="FAKE0001")


def _store(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def test_proxy_setting_is_set_checked_and_cleared(fake_handset: FakeHandset) -> None:
    set_proxy(fake_handset, "127.0.0.1", 8080)
    assert fake_handset.setting("http_proxy") == "127.0.0.1:8080"
    assert fake_handset.setting("global_http_proxy_host") == "127.0.0.1"
    assert fake_handset.setting("global_http_proxy_port") == "8080"
    clear_proxy(fake_handset)
    assert not any(fake_handset.paths.settings.iterdir())
    assert "settings put global http_proxy :0" in fake_handset.calls


def test_a_failing_settings_command_is_a_capture_error(fake_handset: FakeHandset) -> None:
    fake_handset.fail_commands = ("settings put",)
    with pytest.raises(CaptureError, match="settings put global http_proxy"):
        set_proxy(fake_handset, "127.0.0.1", 8080)


def test_writable_store_gets_the_ca_and_gives_it_back(fake_handset: FakeHandset, fake_paths: Paths,
                                                      run_ca: RunCA) -> None:
    install = install_ca(fake_handset, run_ca)
    installed = fake_paths.system / run_ca.android_name
    assert (install.installed, install.overlays, install.note) == (True, (), "")
    assert install.files == (str(installed),)
    assert installed.read_bytes() == run_ca.cert_pem
    assert stat.S_IMODE(installed.stat().st_mode) == 0o644
    assert "chcon u:object_r:system_file:s0" in fake_paths.log.read_text()
    assert "adb root" in fake_handset.calls
    remove_ca(fake_handset, install)
    assert _store(fake_paths.system) == {"5ed36f99.0"}
    assert not fake_paths.staging.exists()


def test_read_only_store_gets_a_tmpfs_overlay_that_is_unmounted_afterwards(fake_handset: FakeHandset,
                                                                          fake_paths: Paths, run_ca: RunCA) -> None:
    (fake_paths.system / ".readonly").touch()
    install = install_ca(fake_handset, run_ca)
    assert install.overlays == (str(fake_paths.system),)
    assert _store(fake_paths.system) == {"5ed36f99.0", run_ca.android_name}  # the old CAs are still trusted
    assert "mount -t tmpfs tmpfs" in fake_paths.log.read_text()
    assert "tmpfs overlays" in install.note
    remove_ca(fake_handset, install)
    assert _store(fake_paths.system) == {"5ed36f99.0", ".readonly"}


def test_user_build_cannot_take_the_ca_and_says_so(fake_handset: FakeHandset, fake_paths: Paths,
                                                   run_ca: RunCA) -> None:
    fake_handset.build_type = "user"
    install = install_ca(fake_handset, run_ca)
    assert not install.installed
    assert install.note.startswith("CA not installable: TLS will not be decrypted")
    assert fake_handset.calls == []  # not even adb root
    assert _store(fake_paths.system) == {"5ed36f99.0"}
    remove_ca(fake_handset, install)  # nothing to undo, no error


def test_android_14_writable_apex_store_gets_it_too(fake_handset: FakeHandset, fake_paths: Paths,
                                                    run_ca: RunCA) -> None:
    fake_handset.sdk = 34
    install = install_ca(fake_handset, run_ca)
    assert install.files == (str(fake_paths.system / run_ca.android_name), str(fake_paths.apex / run_ca.android_name))
    remove_ca(fake_handset, install)
    assert _store(fake_paths.apex) == _store(fake_paths.system) == {"5ed36f99.0"}


def test_android_14_read_only_apex_store_is_bound_over_in_zygote_and_apps(fake_handset: FakeHandset,
                                                                         fake_paths: Paths, run_ca: RunCA) -> None:
    fake_handset.sdk = 34
    (fake_paths.apex / ".readonly").touch()
    install = install_ca(fake_handset, run_ca)
    assert install.apex_bound
    trusted = fake_handset.trusted_folder()
    assert trusted != fake_paths.apex
    assert _store(trusted) == {"5ed36f99.0", run_ca.android_name}
    log = fake_paths.log.read_text()
    for pid in ("610", "611", "6101", "6112"):
        assert f"nsenter --mount=/proc/{pid}/ns/mnt" in log
    remove_ca(fake_handset, install)
    assert fake_handset.trusted_folder() == fake_paths.apex
    assert fake_paths.binds.read_text() == ""  # unmounted in every namespace
    assert not fake_paths.staging.exists()


def test_a_missing_store_fails_cleanly_and_undoes_what_was_done(fake_handset: FakeHandset, fake_paths: Paths,
                                                                run_ca: RunCA) -> None:
    fake_handset.sdk = 34
    shutil.rmtree(fake_paths.apex)
    install = install_ca(fake_handset, run_ca)
    assert not install.installed
    assert "exit 3" in install.note
    assert "no folder" in install.note
    assert _store(fake_paths.system) == {"5ed36f99.0"}  # the system copy was taken back


def test_teardown_tries_everything_after_a_failure(fake_handset: FakeHandset, fake_paths: Paths,
                                                   run_ca: RunCA) -> None:
    setup = DeviceSetup(fake_handset, timeout=10)
    setup.install_ca(run_ca)
    fake_handset.fail_commands = ("settings get",)
    with pytest.raises(CaptureError):
        setup.set_proxy("127.0.0.1", 8080)
    with pytest.raises(CaptureError, match="settings get"):
        setup.teardown()
    assert fake_handset.setting("http_proxy") is None  # the clearing commands themselves ran
    assert _store(fake_paths.system) == {"5ed36f99.0"}  # and the CA went, despite the proxy error
    fake_handset.fail_commands = ()
    setup.teardown()  # a retry finishes the job
