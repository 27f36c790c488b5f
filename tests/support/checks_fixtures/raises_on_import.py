"""A module whose import fails with an error of its own."""

from __future__ import annotations

raise RuntimeError("this module refuses to be imported")
