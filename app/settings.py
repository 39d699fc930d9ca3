"""Settings, read once from ``SCALING_*`` environment variables (the only place the environment is read)."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
SAMPLES_DIR = REPO_ROOT / "data" / "samples"


@dataclass(frozen=True)
class Settings:
    """Dashboard settings. Each field maps to ``SCALING_<FIELD>``; ``help`` metadata is shown in README."""

    db: str = "var/demo.duckdb"
    bootstrap: int = 200
    seed: int = 0
    sql_timeout_s: float = 5.0
    sql_max_rows: int = 10_000
    sql_max_bytes: int = 50_000_000
    sql_memory_mb: int = 1024
    filter_timeout_s: float = 60.0
    filter_memory_mb: int = 4096
    port: int = 8501
    host: str = "localhost"
    allowed_hosts: str = ""
    console_users: str = "*"
    refresh_s: float = 5.0
    upload_max_mb: float = 200.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``).

        Raises
        ------
        ValueError
            If a variable cannot be converted (the message names the variable).
        """
        env = os.environ if env is None else env
        kw = {}
        for f in fields(cls):
            key = f"SCALING_{f.name.upper()}"
            if key in env:
                try:
                    kw[f.name] = type(f.default)(env[key])
                except ValueError as e:
                    raise ValueError(f"{key}={env[key]!r}: expected {type(f.default).__name__}") from e
        return cls(**kw)

    def apply_filter_limits(self) -> None:
        """Give every query that carries a user filter (``data.queries``) these settings' time and memory limits."""
        from data.sandbox import set_filter_limits

        set_filter_limits(self.filter_timeout_s, self.filter_memory_mb)


#: One-line help per setting (README "Settings" lists every one; tests/test_docs.py checks it).
SETTINGS_HELP: dict[str, str] = {
    "db": "DuckDB file the app and CLI read (relative paths are from the working directory)",
    "bootstrap": "bootstrap replicates the app draws for intervals and bands",
    "seed": "seed of the numpy Generator used by bootstrap and Monte-Carlo estimates",
    "sql_timeout_s": "seconds before a SQL console query's worker process is killed",
    "sql_max_rows": "rows the SQL console returns at most (the result says when it was truncated)",
    "sql_max_bytes": "bytes of result data the SQL console returns at most (the result says when it was truncated)",
    "sql_memory_mb": "memory (MiB) a SQL console query's worker process may use; DuckDB gets 60 % of it",
    "filter_timeout_s": "seconds before a query with a user filter (`--where`, the Test-time filter box) is killed",
    "filter_memory_mb": "memory (MiB) a filtered query's worker may use; a filtered result may hold half of it",
    "port": "port `scaling serve` and `scaling demo` listen on",
    "host": "address `scaling serve` and `scaling demo` bind: `localhost` (this machine only) or e.g. `0.0.0.0` "
    "(every interface, to share with a team)",
    "allowed_hosts": "comma-separated host names browsers may use to reach the app (Streamlit's "
    "`server.allowedHosts`, against DNS rebinding); empty = localhost names, plus this machine's name and "
    "addresses when serving on the network; `*` = any",
    "console_users": "who may open the SQL console: `*` = everyone who can open the app, or comma-separated "
    "e-mail addresses and `@domain` entries of signed-in users (needs sign-in); empty = console off",
    "refresh_s": "seconds between the app's checks for a new database file; pages rerun when an ingest replaced it "
    "(0 turns automatic refresh off; a reload always shows the newest data)",
    "upload_max_mb": "megabytes one Upload-page submission may hold in total (larger uploads are refused)",
}
