"""``scaling fit rl`` on a copy of the demo database (three real verl PPO runs on GSM8K)."""

from __future__ import annotations

import json
import shutil

import pytest

from analysis.rl import RECIPE_VERDICTS
from app.cli import main
from data.connect import open_ro
from data.fits import list_fits, load_fit
from tests.app.test_rl_page import GEMMA, METRIC, _gemma_A_direct


@pytest.fixture
def db(tmp_path, demo_db):
    """A private copy: the CLI writes fit records, the session's demo database stays untouched."""
    p = tmp_path / "rl.duckdb"
    shutil.copy2(demo_db, p)
    return p


def test_fit_rl_json_and_stored_records(db, capsys):
    rc = main(["fit", "rl", "--db", str(db), "--metric", METRIC, "--bootstrap", "5", "--json"])
    out = capsys.readouterr().out
    assert rc == 0
    payload = json.loads(out)
    assert payload["unit"] == "GPU-hours" and payload["transient_fraction"] == 0.1
    runs = {r["run_id"]: r for r in payload["runs"]}
    assert len(runs) == 3 and not payload["not_fitted"]
    for r in runs.values():
        assert 0.0 <= r["A"] <= 1.0
        assert r["B"] > 0 and r["C_mid"] > 0
        assert r["R0"] < r["A"]
        assert "mean_abs_error" in r["backtest"]
        assert r["power_law"]["p"] > 0
    gem = runs[GEMMA]
    assert gem["A"] == pytest.approx(_gemma_A_direct(db), abs=1e-9)
    assert gem["R0"] == pytest.approx(683 / 1312, abs=1e-4)
    assert gem["R0_source"] == "initial evaluation (step 0)"
    lo, hi = gem["intervals_95"]["A"]
    assert lo <= hi  # 5 replicates
    # Qwen p512/r256 starts at 0.0 and plateaus near its best validation 0.538: A must sit close to it
    assert runs["Qwen2.5-0.5B-bsz256_2-prompt512-resp256-0.538"]["A"] == pytest.approx(0.53, abs=0.02)
    assert {v["variant"] for v in payload["recipe_comparison"]} == {
        "bsz256_p1024_r512",
        "bsz256_p512_r256",
        "bsz512_p1024_r512",
    }
    comp = {v["variant"]: v for v in payload["recipe_comparison"]}
    assert [v for v, r in comp.items() if r["label"] == "baseline"] == ["bsz256_p1024_r512"]  # first variant
    assert set(r["verdict"] for r in comp.values()) <= set(RECIPE_VERDICTS)
    # Gemma's A is 0.054 above the baseline's (beyond the 0.02 margin): never "worse", whatever 5 replicates give
    assert comp["bsz512_p1024_r512"]["dA"] == pytest.approx(0.054, abs=0.003)
    assert comp["bsz512_p1024_r512"]["verdict"] != "worse"
    assert payload["scale_dependence"]["available"] and payload["scale_dependence"]["n_sizes"] == 2
    assert len(payload["fit_ids"]) == 6  # sigmoid + power law per run

    con = open_ro(db)
    try:
        stored = list_fits(con, axis="rl")
        assert set(stored["law"]) == {"rl_sigmoid", "rl_power"}
        assert stored.height == 6
        sig = [
            fid
            for fid, law, sel in stored.select("fit_id", "law", "selection_json").iter_rows()
            if law == "rl_sigmoid" and json.loads(sel)["run_id"] == GEMMA
        ]
        rec = load_fit(con, sig[0])
    finally:
        con.close()
    assert rec["result"]["params"]["A"] == pytest.approx(gem["A"])
    assert len(rec["replicates"]["replicates"]["A"]) == 5  # bootstrap replicates kept
    assert rec["backtest"]["n_test"] > 0


def test_fit_rl_one_run_steps_custom_cut_no_save(db, capsys):
    rc = main(
        ["fit", "rl", "--db", str(db), "--metric", METRIC, "--run", GEMMA, "--x", "step"]
        + ["--transient-cut", "0.2", "--no-save"]
    )
    out = capsys.readouterr().out
    assert rc == 0
    assert "PPO steps" in out and GEMMA in out and "A = 0.6" in out
    rc = main(
        ["fit", "rl", "--db", str(db), "--metric", METRIC, "--run", GEMMA, "--x", "step"]
        + ["--transient-cut", "0.2", "--no-save", "--json"]
    )
    payload = json.loads(capsys.readouterr().out)
    (r,) = payload["runs"]
    assert r["transient_cut"] == pytest.approx(0.2 * 99)  # last Gemma validation at step 99
    assert r["n_points"] == 8  # validations at steps 29, 39, ..., 99 (step 19 < 19.8 is cut)
    assert "fit_ids" not in payload
    con = open_ro(db)
    try:
        assert list_fits(con, axis="rl").height == 0
    finally:
        con.close()


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--metric", "val/no_such_metric"], "no RL points"),
        (["--metric", METRIC, "--transient-cut", "1.5"], "transient cut"),
        (["--metric", "response_length/mean"], "not a pass rate"),
    ],
)
def test_fit_rl_bad_input_exits_2(db, capsys, extra, message):
    rc = main(["fit", "rl", "--db", str(db), *extra])
    assert rc == 2
    assert message in capsys.readouterr().err
