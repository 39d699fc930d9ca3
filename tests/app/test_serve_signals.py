"""`scaling serve` stops the whole Streamlit server on SIGTERM and SIGINT: the port is freed, no child remains."""

from __future__ import annotations

import signal
import time

import pytest

from tests.app.serving import alive, descendants, healthy, port_is_free, scaling_serve


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_stops_the_server_and_frees_the_port(demo_db, tmp_path, sig):
    with scaling_serve(demo_db, log=tmp_path / "serve.log") as (proc, base, port):
        children = descendants(proc.pid)
        assert children, "streamlit should run as a child of `scaling serve`"
        assert healthy(base)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (any(alive(p) for p in children) or not port_is_free(port)):
            time.sleep(0.2)
        assert [p for p in children if alive(p)] == []
        assert port_is_free(port)
        assert not healthy(base, timeout_s=1)
