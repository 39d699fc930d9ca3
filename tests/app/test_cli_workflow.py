"""CLI polish: fast parser (no heavy imports), readable `scaling sql` tables with --json/--csv, readable `scaling
size`, one bootstrap default, shell completion from the parser."""

from __future__ import annotations

import argparse
import csv
import io
import json
import shutil
import subprocess
import sys

import pytest

from app import cli
from app.cli import build_parser, main
from app.numfmt import human, interval, text_table
from app.settings import Settings


@pytest.fixture
def db_copy(demo_db, tmp_path, monkeypatch):
    monkeypatch.setenv("SCALING_BOOTSTRAP", "20")
    dst = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, dst)
    return dst


def test_parser_imports_no_heavy_library():
    code = (
        "import sys, app.cli; app.cli.build_parser(); "
        "print(sorted(m for m in ('polars','scipy','duckdb','streamlit','numpy','altair') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_law_choices_match_the_services():
    from app.services.pretraining import LAWS
    from app.services.pretraining_cli import EXTRA_ANALYSES

    assert tuple(LAWS) == cli.PRETRAINING_LAWS
    assert tuple(EXTRA_ANALYSES) == cli.PRETRAINING_EXTRA
    from analysis.simulator import presets
    from app.services import simulator_cli

    assert (simulator_cli.DEFAULT_LAW, simulator_cli.DEFAULT_RL) == (presets.DEFAULT_LAW, presets.DEFAULT_RL)


def _bootstrap_defaults(parser, prefix="scaling"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _bootstrap_defaults(sub, f"{prefix} {name}")
        elif action.dest == "bootstrap":
            yield prefix, action.default


def test_one_bootstrap_default_for_every_command(monkeypatch):
    monkeypatch.delenv("SCALING_BOOTSTRAP", raising=False)
    found = dict(_bootstrap_defaults(build_parser()))
    assert {"scaling fit pretraining", "scaling fit rl", "scaling fit test-time", "scaling demo"} <= set(
        found
    )
    assert set(found.values()) == {Settings().bootstrap} == {200}
    monkeypatch.setenv("SCALING_BOOTSTRAP", "7")
    assert set(dict(_bootstrap_defaults(build_parser())).values()) == {7}


@pytest.mark.parametrize(
    "v", [None, float("nan"), 0.0, 12.0, 1234.5, 7.12e9, 1.295e12, -3e6, 2e15, float("inf")]
)
def test_app_and_cli_write_numbers_alike(v):
    from app import numfmt, widgets

    assert numfmt.human(v) == widgets.human(v) and numfmt.sci(v) == widgets.sci(v)


def test_text_table_fits_the_width_and_says_what_it_left_out():
    cols = ["run_id", "n_params", "compute_flops", "note", "a", "b", "c"]
    rows = [["gadre/" + "x" * 50, 7.12e9, 8.3812e22, "long " * 20, 1, 2.5, None]]
    out = text_table(cols, rows, width=60)
    assert all(len(line) <= 60 for line in out.splitlines())
    assert "7.12B" in out and "8.381e+22" in out and "…" in out
    out = text_table(cols, rows, width=40)
    assert all(len(line) <= 40 for line in out.splitlines()[:-1])
    assert out.splitlines()[-1].startswith("(") and "4 more columns not shown: note, a, b, c" in out
    assert text_table(["a"], [], width=40).endswith("(no rows)")
    assert human(1.295e12) == "1.295T" and interval(None, 2.0) == "n/a" and interval(1.0, 2.0) == "[1, 2]"


def test_sql_table_json_and_csv(db_copy, capsys):
    q = (
        "select source, count(*) as n_runs, max(n_params) as n_params from v_pretrain_points "
        "group by source order by source"
    )
    assert main(["sql", q, "--db", str(db_copy), "--width", "70"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["source", "n_runs", "n_params"]
    assert all(len(line) <= 70 for line in table)
    gadre = next(line for line in table if line.startswith("gadre_overtraining"))
    assert gadre.split()[1:] == ["104", "6.889B"]  # readable N, not 6889000000.0
    assert main(["sql", q, "--db", str(db_copy), "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    gadre = next(r for r in rows if r["source"] == "gadre_overtraining")
    assert gadre["n_runs"] == 104 and gadre["n_params"] == 6889410560.0  # full value, unlike the table
    assert main(["sql", q, "--db", str(db_copy), "--csv"]) == 0
    back = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert len(back) == len(rows) and float(back[0]["n_params"]) == rows[0]["n_params"]


def test_size_text_is_readable_and_states_missing_intervals(tmp_path, capsys):
    assert main(["size", "--db", str(tmp_path / "none.duckdb")]) == 0
    out = capsys.readouterr().out
    # Sardana et al. 2024 with the unrounded Chinchilla law: 7.12B params on 1.295T tokens for a 13B model's loss
    assert "7.12B" in out and "1.295T" in out and "13B" in out
    assert "n/a" in out and "No interval" in out
    assert "[]" not in out and "e+09" not in out


def test_size_with_a_fresh_fit_prints_real_intervals(db_copy, capsys):
    args = [
        "size",
        "--db",
        str(db_copy),
        "--law",
        "fit:gadre_overtraining|corpus = 'rpj'",
        "--bootstrap",
        "8",
    ]
    assert main(args) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("parameters N"))
    lo, hi = line.split("[", 1)[1].rstrip("]").split(", ")
    assert lo[-1] in "kMBT" and hi[-1] in "kMBT"
    assert "intervals from 8 replicates" in out


def test_shell_completion_script_from_the_parser():
    shtab = pytest.importorskip("shtab")
    script = shtab.complete(build_parser(), shell="bash")
    assert "scaling" in script and "--bootstrap" in script and "sql" in script
