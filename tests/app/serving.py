"""Helpers for tests that run `scaling serve` as a real process (defined in scripts/st_session.py)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "st_session.py"
if "st_session" not in sys.modules:
    _spec = importlib.util.spec_from_file_location("st_session", _PATH)
    sys.modules["st_session"] = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(sys.modules["st_session"])
st_session = sys.modules["st_session"]

Session = st_session.Session
alive = st_session.alive
descendants = st_session.descendants
free_port = st_session.free_port
healthy = st_session.healthy
port_is_free = st_session.port_is_free
scaling_serve = st_session.scaling_serve
