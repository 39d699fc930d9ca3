"""``--x gpu_hours|flops|tokens|step``, per-run reasons, flags and algorithm labels on synthetic RL runs with known truth."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analysis.rl import sigmoid_curve
from app.cli import main
from app.services.rl import FLAG_A_BOUND, FLAG_C_MID, fit_runs, scale_dependence
from data.connect import open_ro
from data.ingest import ingest_paths

METRIC = "val/acc"


def _write_run(path, run_id, *, n_params, algorithm, C_mid, A=0.7, R0=0.2, B=2.0, gpu=True, steps=40):
    """A JSON Lines RL log whose val/acc follows the ScaleRL sigmoid exactly (compute: 1 GPU-hour per step)."""
    lines = [{"type": "run", "run_id": run_id, "kind": "rl", "n_params": n_params, "algorithm": algorithm}]
    for s in range(steps + 1):
        c = float(s)
        rec = {
            "step": s,
            "flops_seen": c * 1e18,
            "tokens_seen": c * 1e6,
            METRIC: float(sigmoid_curve(c, R0, A, B, C_mid)),
        }
        if gpu:
            rec["gpu_hours_seen"] = c
        lines.append(rec)
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")


@pytest.fixture
def rl_db(tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    _write_run(d / "small.jsonl", "grpo-small", n_params=1e9, algorithm="grpo", C_mid=10.0)
    _write_run(d / "big.jsonl", "grpo-big", n_params=1e10, algorithm="grpo", C_mid=8.0, A=0.8)
    # midpoint far beyond the 40 logged steps: the half-way point was never observed
    # (and its ceiling is the bound A = 1)
    _write_run(d / "late.jsonl", "grpo-late", n_params=3e9, algorithm="grpo", C_mid=400.0, B=1.0, A=1.0)
    # no GPU-hours logged at all
    _write_run(d / "nogpu.jsonl", "grpo-nogpu", n_params=1e9, algorithm="grpo", C_mid=10.0, gpu=False)
    db = tmp_path / "rl.duckdb"
    rep = ingest_paths(db, [d])
    assert rep.count("failed") == 0
    return db


def test_axes_reasons_labels_and_flags(rl_db):
    con = open_ro(rl_db)
    try:
        fits = fit_runs(con, METRIC, None, None, "gpu_hours", 0.0)
        assert fits.unit == "GPU-hours"
        assert fits.errors == {
            "grpo-nogpu": f"no GPU-hours logged: gpu_hours_seen is empty at all 41 steps of '{METRIC}'; log "
            "gpu_hours_seen (GPU-hours; verl logs get it from their phase timings) or choose another --x (e.g. step)"
        }
        by = {f.run_id: f for f in fits.runs}
        assert by["grpo-small"].sigmoid.params["C_mid"] == pytest.approx(
            10.0, rel=1e-3
        )  # exact curve recovered
        assert by["grpo-small"].flags == [] and by["grpo-big"].flags == []
        assert by["grpo-late"].flags == [
            f"{FLAG_A_BOUND} (1.000)",
            f"{FLAG_C_MID} (C_mid = 400, data 1-40 GPU-hours)",
        ]
        sd = scale_dependence(fits)
        assert sd["available"] and list(sd["excluded"]) == ["grpo-late"]
        # the trend from the two identified runs: A rises 0.1 over one decade of N
        assert sd["A_per_decade"] == pytest.approx(0.1, abs=2e-3)
        sd_all = scale_dependence(fits, include_flagged=True)
        assert sd_all["excluded"] == {} and "includes flagged runs grpo-late" in sd_all["message"]
        # the other axes: every run logged flops and tokens, so all four fit; steps are labelled by the algorithm
        for x, unit in (("flops", "FLOPs"), ("tokens", "tokens"), ("step", "GRPO steps")):
            f = fit_runs(con, METRIC, None, None, x, 0.0)
            assert f.unit == unit and not f.errors and len(f.runs) == 4
        f = fit_runs(con, METRIC, ("grpo-small",), None, "flops", 0.0)
        assert f.runs[0].sigmoid.params["C_mid"] == pytest.approx(10.0e18, rel=1e-3)
        with pytest.raises(
            ValueError, match="no run could be fitted against GPU-hours: grpo-nogpu: no GPU-hours"
        ):
            fit_runs(con, METRIC, ("grpo-nogpu",), None, "gpu_hours", 0.0)
    finally:
        con.close()


def test_cli_x_and_include_flagged(rl_db, capsys):
    rc = main(["fit", "rl", "--db", str(rl_db), "--metric", METRIC, "--x", "step", "--transient-cut", "0",
               "--json", "--no-save"])  # fmt: skip
    payload = json.loads(capsys.readouterr().out)
    assert rc == 0 and payload["unit"] == "GRPO steps" and payload["x"] == "step"
    runs = {r["run_id"]: r for r in payload["runs"]}
    assert runs["grpo-small"]["flags"] == [] and runs["grpo-late"]["flags"]
    assert payload["scale_dependence"]["included_flagged"] is False
    assert list(payload["scale_dependence"]["excluded"]) == ["grpo-late"]
    rc = main(["fit", "rl", "--db", str(rl_db), "--metric", METRIC, "--x", "step", "--transient-cut", "0",
               "--include-flagged", "--no-save"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "FLAG: C_mid outside the observed compute range" in out
    assert "includes flagged runs grpo-late" in out
    rc = main(["fit", "rl", "--db", str(rl_db), "--metric", METRIC, "--x", "tokens", "--transient-cut", "0"])
    assert rc == 0 and "vs tokens" in capsys.readouterr().out
    from data.connect import open_ro as _ro
    from data.fits import list_fits, load_fit

    con = _ro(rl_db)
    try:
        fits = [load_fit(con, i) for i in list_fits(con)["fit_id"].to_list()]
    finally:
        con.close()
    late = [f for f in fits if f["law"] == "rl_sigmoid" and f["selection"]["run_id"] == "grpo-late"]
    assert len(late) == 1 and late[0]["selection"]["x"] == "tokens"
    assert late[0]["checklist"]["flags"].startswith("ceiling A at its bound (1.000); C_mid outside")
    rc = main(["fit", "rl", "--db", str(rl_db), "--metric", METRIC, "--run", "grpo-nogpu", "--no-save"])
    err = capsys.readouterr().err
    assert rc == 2 and "grpo-nogpu: no GPU-hours logged" in err and "{}" not in err
    np.testing.assert_equal(rc, 2)


def test_rl_curves_view_last_segment_with_tokens(tmp_path):
    """v_rl_curves (migration 0056): tokens_seen appended, rows still from the last segment of a restarted counter."""
    d = tmp_path / "seg"
    d.mkdir()
    lines = [{"type": "run", "run_id": "restart", "kind": "rl", "algorithm": "grpo"}]
    lines += [{"step": s, "tokens_seen": 100.0 * s, METRIC: 0.1 * s} for s in range(4)]  # first attempt
    lines += [
        {"step": s, "tokens_seen": 1000.0 + 10 * s, METRIC: 0.2 + 0.1 * s} for s in range(3)
    ]  # restarted
    (d / "restart.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    db = tmp_path / "seg.duckdb"
    assert ingest_paths(db, [d]).count("failed") == 0
    con = open_ro(db)
    try:
        cols = [r[0] for r in con.execute("DESCRIBE v_rl_curves").fetchall()]
        rows = con.execute("SELECT step, tokens_seen, segment FROM v_rl_curves ORDER BY step").fetchall()
    finally:
        con.close()
    assert cols[-3:] == ["value", "segment", "tokens_seen"]
    assert rows == [(0, 1000.0, 1), (1, 1010.0, 1), (2, 1020.0, 1)]
