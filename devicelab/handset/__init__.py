"""A handset under test, composed of parts: adb, fastboot, identity reading, SIM slot, screen."""

from devicelab.handset.handset import Handset

__all__ = ["Handset"]
