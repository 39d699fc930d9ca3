"""Identifiability and reliability verdicts through the CLI, the services and the pages, on synthetic truth and on
the bundled real sweeps (data/samples)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import polars as pl
import pytest

from app.cli import main
from app.services.approaches import approach2, compare_approaches, selection_filter
from app.services.pretraining import default_selection, fit_selection
from data.connect import open_ro
from data.fits import list_fits, load_fit
from tests.app.conftest import run_page

RW_TUNED = "corpus = 'rw' AND recipe = 'tuned-short-const-standard-val'"


@pytest.fixture
def db_copy(demo_db, tmp_path):
    dst = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, dst)
    return dst


@pytest.fixture(scope="module")
def con(demo_db):
    c = open_ro(demo_db)
    yield c
    c.close()


# ---------------------------------------------------------------------------------------------
# Approach 2: usable budgets


def _iso(budgets: list[float], k: int) -> pl.DataFrame:
    rows = []
    for c in budgets:
        n_opt = 0.1 * c**0.5
        for i, x in enumerate(np.linspace(-1.2, 1.2, k)):
            n = n_opt * np.exp(x)
            rows.append(
                {
                    "budget_flops": c,
                    "run_id": f"c{c:g}-{i}",
                    "n_params": n,
                    "n_tokens": c / (6 * n),
                    "loss": 3.0 - 0.05 * np.log10(c) + 0.05 * x * x,
                }
            )
    return pl.DataFrame(rows)


def test_two_budgets_of_three_cells_are_not_ok():
    row, fit, minima = approach2(_iso([1e18, 1e19], 3), budget=1e21, n_boot=0, seed=0, neighbors=0)
    assert row["status"] == "not applicable" and fit is None and row["n_budgets"] == 0
    assert minima["status"].to_list() == ["too_few_points", "too_few_points"]
    assert "at least 2" in row["reason"] and "too few points" in row["reason"]


def test_two_budgets_of_five_cells_warn_and_three_are_ok():
    row, fit, _ = approach2(_iso([1e18, 1e19], 5), budget=1e21, n_boot=0, seed=0, neighbors=0)
    assert row["status"] == "warning" and row["n_budgets"] == 2
    assert "only 2 usable budgets (minimum 3)" in row["reason"]
    assert fit.params["a"] == pytest.approx(0.5, abs=1e-6)
    row, fit, minima = approach2(_iso([1e18, 1e19, 1e20], 5), budget=1e21, n_boot=0, seed=0, neighbors=0)
    assert row["status"] == "ok" and row["n_budgets"] == 3 and fit.params["a"] == pytest.approx(0.5, abs=1e-6)
    assert minima["bracketed"].all() and minima["convex"].all() and (minima["n_cells"] == 5).all()


def test_failed_and_unfinished_cells_are_listed_not_dropped_silently():
    iso = _iso([1e18, 1e19, 1e20], 7)
    cells = iso.with_columns(pl.col("n_tokens").alias("last_tokens_seen"))
    # one run never logged a loss, one stopped at half its tokens
    cells = cells.with_columns(
        pl.when(pl.col("run_id") == "c1e+18-1").then(None).otherwise(pl.col("loss")).alias("loss"),
        pl.when(pl.col("run_id") == "c1e+19-5")
        .then(pl.col("n_tokens") * 0.5)
        .otherwise(pl.col("last_tokens_seen"))
        .alias("last_tokens_seen"),
    )
    iso_ok = iso.filter(pl.col("run_id") != "c1e+18-1")
    row, _, minima = approach2(iso_ok, budget=1e21, n_boot=0, seed=0, neighbors=0, cells=cells)
    assert row["status"] == "ok" and "2 cells excluded" in row["reason"]
    ex = dict(zip(minima["C"].to_list(), minima["excluded"].to_list(), strict=True))
    assert ex == {1e18: "1 failed", 1e19: "1 not finished", 1e20: ""}


# ---------------------------------------------------------------------------------------------
# CLI


def _fit_json(db, *extra, capsys):
    code = main(["fit", "pretraining", "--db", str(db), "--json", *extra])
    out = capsys.readouterr()
    return code, (json.loads(out.out) if code == 0 else out.err)


def test_cli_prints_verdicts_and_convergence_not_abnormal(db_copy, capsys):
    assert main(["fit", "pretraining", "--db", str(db_copy), "--source", "llama3_isoflops", "--no-save"]) == 0
    text = capsys.readouterr().out
    assert "identifiability: IDENTIFIED" in text and "profile range" in text and "rule: profile range" in text
    assert "convergence: converged" in text and "ABNORMAL" not in text
    code, d = _fit_json(db_copy, "--source", "llama3_isoflops", "--no-save", capsys=capsys)
    assert code == 0 and d["identifiability"]["verdict"] == "identified" and d["converged"] is True
    assert set(d["identifiability"]["parameters"]) == {"E", "alpha", "beta"}
    assert d["identifiability"]["spans_decades"]["N"] == pytest.approx(2.456, abs=1e-3)
    assert "ABNORMAL" not in json.dumps(d)


def test_cli_budget_is_honoured_or_refused(db_copy, capsys):
    code, d = _fit_json(
        db_copy, "--source", "llama3_isoflops", "--budget", "3.8e25", "--no-save", capsys=capsys
    )
    assert code == 0 and d["at_budget"]["compute_flops"] == 3.8e25
    assert any(r["compute_flops"] == 3.8e25 for r in d["compute_optimal"])
    assert any("far extrapolation" in w for w in d["warnings"])  # 3.8e25 is > 100x the largest run
    code, d = _fit_json(
        db_copy,
        "--source",
        "llama3_isoflops",
        "--law",
        "compute",
        "--budget",
        "1e22",
        "--no-save",
        capsys=capsys,
    )
    assert code == 0 and d["at_budget"]["compute_flops"] == 1e22 and 0.5 < d["at_budget"]["loss"] < 3
    for law in ("kaplan_N", "overtraining"):
        code, err = _fit_json(
            db_copy, "--source", "gadre_overtraining", "--law", law, "--budget", "1e22", capsys=capsys
        )
        assert code == 2 and "--budget does not apply" in err


def test_cli_constraints_are_stored_with_the_fit(db_copy, capsys):
    code, d = _fit_json(
        db_copy, "--source", "llama3_isoflops", "--fix", "E=0.6", "--tie", "alpha=beta", capsys=capsys
    )
    assert code == 0 and d["params"]["E"] == 0.6 and d["params"]["alpha"] == d["params"]["beta"]
    assert d["constraints"] == {"fixed": {"E": 0.6}, "tie": "alpha=beta"}
    assert d["identifiability"]["parameters"]["E"]["verdict"] == "fixed"
    con = open_ro(db_copy)
    try:
        rec = load_fit(con, d["fit_ids"][0])
        assert len(list_fits(con, "pretraining")) >= 1
    finally:
        con.close()
    assert rec["result"]["extra"]["constraints"] == {"fixed": {"E": 0.6}, "tie": "alpha=beta"}
    assert rec["result"]["extra"]["identifiability"]["verdict"] in ("identified", "not identified")
    assert rec["checklist"]["constraints"] == "E = 0.6 fixed; alpha = beta (tied)"
    assert (
        rec["checklist"]["identifiability"]["verdict"] == rec["result"]["extra"]["identifiability"]["verdict"]
    )


@pytest.mark.parametrize(
    "argv, msg",
    [
        (["--fix", "A=3"], "can fix only E, alpha, beta"),
        (["--fix", "E"], "write NAME=VALUE"),
        (["--fix", "E=abc"], "is not a number"),
        (["--tie", "alpha=E"], "only alpha=beta"),
        (["--law", "compute", "--tie", "alpha=beta"], "only chinchilla can tie"),
        (["--law", "kaplan_N", "--fix", "alpha=0.1"], "no constrained fit"),
    ],
)
def test_cli_bad_constraints_are_clear_errors(db_copy, capsys, argv, msg):
    code, err = _fit_json(db_copy, "--source", "llama3_isoflops", *argv, capsys=capsys)
    assert code == 2 and msg in err


# ---------------------------------------------------------------------------------------------
# bundled real sweeps: the verdict each gets


def test_real_sweep_verdicts(con):
    # Llama 3 isoFLOP runs (133, 2.5 decades of N): every Chinchilla parameter identified, ~11 tokens/param at 1e23
    f = fit_selection(con, "llama3_isoflops", None, "chinchilla", 0, 0, False)
    assert f.identifiability["verdict"] == "identified" and f.identifiability["warnings"] == []
    # Porian et al.'s tuned RefinedWeb runs (121): beta is identified, alpha only weakly (within the noise from 0.34
    # to 1.15), the asymptote E is not: the fit puts
    # it at the lowest loss and its profile stays within the noise up to that end; its interval is untrusted
    f = fit_selection(con, "porian_compute_optimal", RW_TUNED, "chinchilla", 0, 0, False)
    ident = f.identifiability
    assert ident["not_identified"] == ["E"] and ident["parameters"]["E"]["upper_open"]
    assert any("at (or above) the lowest observed loss" in w for w in ident["warnings"])
    verdicts = {k: v["verdict"] for k, v in ident["parameters"].items()}
    assert verdicts == {"E": "not identified", "alpha": "weakly identified", "beta": "identified"}
    assert "E" in ident["untrustworthy_intervals"]
    # Muennighoff et al.'s data-constrained (multi-epoch) sweep pooled: E and alpha only weakly identified, and its
    # compute-optimal split is implausible (0.59 tokens per parameter at 1e23) and says so
    from app.services.pretraining import allocation_table, budget_warnings

    f = fit_selection(con, "datablations_data_constrained", None, "chinchilla", 0, 0, False)
    assert f.identifiability["verdict"] == "weakly identified"
    assert f.identifiability["weakly_identified"] == ["E", "alpha"]
    alloc = allocation_table(f.result, [1e23])
    assert alloc["tokens_per_param"][0] == pytest.approx(0.59, abs=0.01)
    assert any("implausible" in w for w in budget_warnings(f, 1e23, alloc))


def test_real_isoflop_sweeps_budget_verdicts(con):
    # Llama 3 (10 budgets, 6-18 cells each): all budgets ok, nothing excluded
    res = compare_approaches(con, "llama3_isoflops", None, budget=1e23, n_boot=0, neighbors=0)
    r2 = res.table.filter(pl.col("approach").str.starts_with("2:")).row(0, named=True)
    assert r2["status"] == "ok" and r2["n_budgets"] == 10 and res.minima["n_excluded"].sum() == 0
    # Marin's nemotron isoFLOP ladder: the 1.8e18 budget has 3 cells (too few), 7 budgets usable
    res = compare_approaches(
        con, "marin_isoflops", "corpus = 'nemotron' AND recipe = 'isoflop-ladder'", budget=1e23, n_boot=0
    )
    r2 = res.table.filter(pl.col("approach").str.starts_with("2:")).row(0, named=True)
    assert r2["status"] == "ok" and r2["n_budgets"] == 7 and "budget 1.8e+18: too few points" in r2["reason"]
    assert res.minima.filter(pl.col("C") == 1.8e18)["n_cells"][0] == 3
    # Porian's tuned RefinedWeb: 12 budgets usable, no cell excluded by the rules
    res = compare_approaches(
        con, "porian_compute_optimal", selection_filter("rw", "tuned-short-const-standard-val"), n_boot=0
    )
    r2 = res.table.filter(pl.col("approach").str.starts_with("2:")).row(0, named=True)
    assert r2["status"] == "ok" and r2["n_budgets"] == 12 and res.minima["n_excluded"].sum() == 0


def test_default_selection_without_and_with_stored_fits(con, db_copy, capsys):
    d = default_selection(con)  # no stored fit: a single-corpus source with isoFLOP budgets
    assert d["source"] == "llama3_isoflops" and d["corpus"] is None
    # store an implausible pooled fit and an identified one: the identified, plausible one wins
    for src in ("datablations_data_constrained", "gadre_overtraining"):
        assert main(["fit", "pretraining", "--db", str(db_copy), "--source", src, "--json"]) == 0
    capsys.readouterr()
    c2 = open_ro(db_copy)
    try:
        d = default_selection(c2)
    finally:
        c2.close()
    assert d["source"] == "gadre_overtraining" and "identified" in d["reason"]


# ---------------------------------------------------------------------------------------------
# pages


def test_pretraining_page_opens_on_an_identified_plausible_fit(app_env):
    at = run_page("app_pages/pretraining.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="pretraining.source").value == "llama3_isoflops"
    assert any("Identifiability: **identified**" in s.value for s in at.success)
    m = {x.label: x.value for x in at.metric}
    assert 5 < float(m["tokens per parameter"]) < 50
    table = at.dataframe[1].value  # parameters [0], identifiability profiles [1]
    assert table["parameter"].tolist() == ["E", "alpha", "beta"] and set(table["verdict"]) == {"identified"}
    assert not any("ABNORMAL" in c.value for c in at.caption)
    at.checkbox(key="pretraining.fix_E").check().run()
    at.number_input(key="pretraining.fix_E_value").set_value(0.6).run()
    assert not at.exception, at.exception
    m = {x.label: x.value for x in at.metric}
    assert m["E"] == "0.6" and "fixed" in " ".join(s.value for s in at.success)


def test_pretraining_page_flags_the_multi_epoch_sweep(app_env):
    at = run_page("app_pages/pretraining.py")
    at.selectbox(key="pretraining.source").select("datablations_data_constrained").run()
    assert not at.exception, at.exception
    assert any("implausible as a compute-optimal ratio" in w.value for w in at.warning)


def test_compute_optimal_page_lists_budget_checks(app_env):
    at = run_page("app_pages/compute_optimal.py")
    at.selectbox(key="compute_optimal.source").select("marin_isoflops").run()
    at.selectbox(key="compute_optimal.corpus").select("nemotron").run()
    assert not at.exception, at.exception
    minima = at.dataframe[1].value  # comparison [0], per-budget checks [1]
    assert {"n_cells", "excluded", "convex", "bracketed"} <= set(minima.columns)
    assert "too_few_points" in minima["status"].tolist()


def test_cli_approaches_carries_budget_checks_and_verdicts(db_copy, capsys):
    where = "corpus = 'nemotron' AND recipe = 'isoflop-ladder'"
    code, d = _fit_json(
        db_copy, "--source", "marin_isoflops", "--where", where, "--law", "approaches", capsys=capsys
    )
    assert code == 0
    budgets = {b["C"]: b for b in d["isoflop_budgets"]}
    assert budgets[1.8e18]["status"] == "too_few_points" and budgets[1.8e18]["n_cells"] == 3
    rows = {r["approach"][:1]: r for r in d["approaches"]}
    assert rows["2"]["n_budgets"] == 7
    con = open_ro(db_copy)
    try:
        recs = [load_fit(con, i) for i in d["fit_ids"]]
    finally:
        con.close()
    by_law = {r["law"]: r for r in recs}
    assert by_law["isoflop_allocation"]["checklist"]["status"] == "ok"
    assert by_law["isoflop_allocation"]["checklist"]["n_budgets"] == 7
    assert "identifiability" in by_law["chinchilla"]["result"]["extra"]


def test_approach3_warns_when_not_identified(con):
    res = compare_approaches(con, "porian_compute_optimal", RW_TUNED, budget=1e21, n_boot=0)
    r3 = res.table.filter(pl.col("approach").str.starts_with("3:")).row(0, named=True)
    assert r3["status"] == "warning" and "not identified by these runs: E" in r3["reason"]


def test_cli_degenerate_fit_reports_instead_of_failing(db_copy, capsys):
    """Marin's 'validation-optimal' runs drive beta to 0: the CLI prints the verdicts and says there is no
    allocation, instead of exiting with an error."""
    code, d = _fit_json(
        db_copy, "--source", "marin_isoflops", "--where", "recipe = 'validation-optimal'", capsys=capsys
    )
    assert code == 0 and d["params"]["beta"] < 1e-3 and "compute_optimal" not in d
    assert any(w.startswith("no compute-optimal allocation") for w in d["warnings"])
    assert any("beta = 0 is at its bound" in w for w in d["warnings"])


def test_excluded_cells_are_named_with_their_reason():
    from app.services.approaches import ApproachComparison, _screen

    iso = _iso([1e18, 1e19, 1e20], 7)
    cells = iso.with_columns(
        pl.when(pl.col("run_id") == "c1e+18-1").then(None).otherwise(pl.col("loss")).alias("loss")
    )
    ex = _screen(iso, cells).filter(~pl.col("used"))
    assert ex["run_id"].to_list() == ["c1e+18-1"] and ex["reason"][0] == "failed: no final loss"
    assert "excluded_cells" in ApproachComparison.__dataclass_fields__
