"""The virtual lab: Python handsets that speak the real adb, fastboot and uiautomator wire
protocols, so the real clients (and so the harness) drive them unchanged.

Nothing outside this package knows whether it drives a virtual or a physical handset.
"""
