"""README documents every CLI command and option, every setting and every public view (sqlite-utils style)."""

from __future__ import annotations

import argparse
import re
from dataclasses import fields
from pathlib import Path

from app.cli import build_parser
from app.settings import SETTINGS_HELP, Settings

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()


def _subcommands(parser: argparse.ArgumentParser, prefix: str = "scaling"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix} {name}", sub
                yield from _subcommands(sub, f"{prefix} {name}")


def test_every_cli_command_is_in_readme():
    missing = [cmd for cmd, _ in _subcommands(build_parser()) if cmd not in README]
    assert missing == []


def test_every_cli_option_has_help():
    for cmd, sub in _subcommands(build_parser()):
        for action in sub._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"{cmd} {action.option_strings} has no help"


def test_every_setting_is_documented():
    for f in fields(Settings):
        assert f"SCALING_{f.name.upper()}" in README, f.name
        assert f.name in SETTINGS_HELP


def test_every_public_view_is_documented_with_its_columns(tmp_path):
    from data.connect import open_rw
    from data.migrate import migrate

    con = open_rw(tmp_path / "d.duckdb")
    migrate(con)
    views = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()]
    assert len(views) >= 8
    for v in views:
        row = re.search(rf"^\| `{v}` \|.*$", README, re.M)
        assert row, f"view {v} is not in README's SQL reference"
        cols = [r[0] for r in con.execute(f"DESCRIBE {v}").fetchall()]
        missing = [c for c in cols if c not in row.group(0)]
        assert missing == [], f"{v}: columns {missing} not documented"
    con.close()


def test_ci_runs_readme_command_two_exactly():
    """README's second command (set up and run the whole suite) is what .ci/run executes."""
    block = README.split("```bash", 1)[1].split("```", 1)[0]
    commands = [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    assert len(commands) == 2
    ci_lines = [ln.strip() for ln in (REPO / ".ci" / "run").read_text().splitlines()]
    assert commands[1] in ci_lines
    assert commands[0].endswith("scaling demo")
