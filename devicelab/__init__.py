"""devicelab: a privacy test lab for Android handsets."""

from __future__ import annotations

__version__ = "0.1.0"
