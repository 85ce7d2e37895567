"""Files the kernel generates on the virtual handset (/proc, /sys). (Placeholder.)"""

from __future__ import annotations

from devicelab.virtual.android import AndroidSystem


def install(system: AndroidSystem) -> None:
    """Register the generated files of a freshly booted system in its file system."""
