"""Serving configuration: .streamlit/config.toml, the secrets example, and the host names `scaling serve` allows."""

from __future__ import annotations

import socket
import subprocess
import tomllib
from pathlib import Path

from app.cli import allowed_hosts_for, build_parser

REPO = Path(__file__).resolve().parents[2]


def test_streamlit_config_is_headless_with_xsrf_and_cors_and_no_usage_stats():
    cfg = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text())
    server = cfg["server"]
    assert server["headless"] is True
    assert server["enableXsrfProtection"] is True
    assert server["enableCORS"] is True and server["corsAllowedOrigins"] == []
    assert server["allowedHosts"] == ["localhost", "127.0.0.1", "::1"]
    assert cfg["browser"]["gatherUsageStats"] is False


def test_secrets_example_documents_auth_without_a_real_secret_and_real_secrets_are_ignored():
    example = tomllib.loads((REPO / ".streamlit" / "secrets.toml.example").read_text())
    auth = example["auth"]
    assert set(auth) >= {"redirect_uri", "cookie_secret", "client_id", "client_secret", "server_metadata_url"}
    for key in ("cookie_secret", "client_id", "client_secret"):
        assert auth[key].startswith("REPLACE-WITH"), key
    ignored = subprocess.run(
        ["git", "check-ignore", "-q", ".streamlit/secrets.toml"], cwd=REPO, capture_output=True
    )
    assert ignored.returncode == 0, ".streamlit/secrets.toml must be gitignored"


def test_allowed_hosts():
    assert allowed_hosts_for("localhost", None) == ["localhost", "127.0.0.1", "::1"]
    assert allowed_hosts_for("0.0.0.0", ["dash.lab.example", " ", "dash.lab.example"]) == ["dash.lab.example"]
    network = allowed_hosts_for("0.0.0.0", None)
    assert network[:3] == ["localhost", "127.0.0.1", "::1"]
    assert socket.gethostname() in network and "0.0.0.0" not in network
    assert "10.1.2.3" in allowed_hosts_for("10.1.2.3", [])


def test_serve_and_demo_take_host_port_and_allowed_hosts():
    p = build_parser()
    a = p.parse_args(["serve", "--host", "0.0.0.0", "--port", "9000", "--allowed-host", "a.example", "--allowed-host", "b.example"])  # fmt: skip
    assert (a.host, a.port, a.allowed_host) == ("0.0.0.0", 9000, ["a.example", "b.example"])
    d = p.parse_args(["demo", "--no-serve", "--host", "0.0.0.0", "--port", "9001"])
    assert (d.host, d.port, d.allowed_host) == ("0.0.0.0", 9001, None)
