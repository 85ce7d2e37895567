"""adb access for the harness: a small interface of our own over pure-python-adb.

pure-python-adb gives us the adb server's smart-socket protocol; on top of it this package adds
what a lab needs: shell v2 with exit codes and stderr, a deadline on every call, verified
transfers, reboots that wait for the handset to really go and come back, and typed errors.
"""

from devicelab.adb.client import AdbClient, DeviceState
from devicelab.adb.device import BOOT_ID, AdbDevice, ShellResult
from devicelab.adb.server import AdbServer

__all__ = ["BOOT_ID", "AdbClient", "AdbDevice", "AdbServer", "DeviceState", "ShellResult"]
