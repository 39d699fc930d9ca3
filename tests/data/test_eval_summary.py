"""Eval SUMMARY tables: ingest with exact counts and rejects, and fits that match the per-problem fits on the same
data (the bundled Large Language Monkeys counts and tts-knowledge answers, aggregated here into summary tables)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from analysis.sampling import coverage_curve, fit_coverage_counts, log_spaced_ks
from analysis.thinking import fit_accuracy_vs_log_tokens
from app.services.test_time import coverage_fits
from app.services.test_time_fits import summary_coverage_fits, summary_rows, thinking_stops
from app.settings import SAMPLES_DIR
from data.connect import open_ro
from data.ingest import ingest_paths
from data.ingest.eval_summary import is_eval_summary

MONKEYS = SAMPLES_DIR / "llmonkeys_pythia_math" / "counts.csv"
TTS = SAMPLES_DIR / "tts_knowledge" / "answers.parquet"


def test_detection_by_columns():
    assert is_eval_summary(["model", "benchmark", "n_problems", "accuracy", "setting"])
    assert is_eval_summary(["model", "benchmark", "k", "pass_at_k", "n_problems"])
    assert not is_eval_summary(["run_id", "model", "benchmark", "problem_id", "n_samples", "n_correct"])
    assert not is_eval_summary(["model", "benchmark", "accuracy"])  # no n: not a summary we can weigh


def test_ingest_exact_counts_and_rejects(tmp_path):
    d = tmp_path / "summ"
    d.mkdir()
    (d / "results.csv").write_text(
        "model,benchmark,setting,k,pass_at_k,n_problems,n_samples,mean_output_tokens,cost_usd\n"
        "m1,MATH,t0.6,1,0.10,128,100,500,0.002\n"  # line 2
        "m1,MATH,t0.6,10,0.40,128,100,500,0.02\n"  # line 3
        "m1,MATH,t0.6,100,0.70,128,100,500,0.2\n"  # line 4
        "m1,MATH,t0.6,100,0.71,128,100,500,0.2\n"  # line 5: duplicate configuration
        "m1,MATH,t0.6,5,1.40,128,100,500,0.01\n"  # line 6: not a fraction
        "m1,MATH,t0.6,500,0.80,128,100,500,1.0\n"  # line 7: k above n_samples
        "m1,MATH,t0.6,20,0.50,12.5,100,500,0.04\n"  # line 8: fractional n_problems
        "m1,MATH,t0.6,30,0.55,128,100,-3,0.05\n"  # line 9: negative tokens
    )
    rep = ingest_paths(tmp_path / "s.duckdb", [d])
    f = rep.files[0]
    assert f.status == "loaded" and f.format == "eval_summary" and f.n_runs == 3 and f.n_rejects == 5
    con = open_ro(tmp_path / "s.duckdb")
    try:
        rows = summary_rows(con)
        assert rows["k"].to_list() == [1, 10, 100]
        assert rows["value"].to_list() == [0.10, 0.40, 0.70]
        assert rows["run_id"].to_list() == [
            "summ/m1/MATH/t0.6@k=1",
            "summ/m1/MATH/t0.6@k=10",
            "summ/m1/MATH/t0.6@k=100",
        ]
        assert set(rows["measure"]) == {"pass@k"} and set(rows["n_problems"]) == {128}
        assert rows["cost_usd"].to_list() == [0.002, 0.02, 0.2] and set(rows["mean_output_tokens"]) == {500.0}
        rej = con.sql("SELECT line, reason FROM v_rejects ORDER BY line").fetchall()
        assert [r[0] for r in rej] == [5, 6, 7, 8, 9]
        assert "duplicate configuration 'summ/m1/MATH/t0.6@k=100' (first kept, line 4)" in rej[0][1]
        assert "'pass_at_k' must be a fraction in [0, 1]" in rej[1][1]
        assert "'n_samples' must be a whole number >= k = 500" in rej[2][1]
        assert "'n_problems' must be a whole number > 0" in rej[3][1]
        assert "'mean_output_tokens' is negative" in rej[4][1]
        # re-ingest of unchanged content adds nothing
        assert con.sql("SELECT count(*) FROM runs WHERE kind = 'eval'").fetchall()[0][0] == 3
    finally:
        con.close()
    assert ingest_paths(tmp_path / "s.duckdb", [d]).files[0].status == "unchanged"


def test_coverage_fit_on_summary_matches_per_problem_fit(tmp_path):
    """pass@k at the 40 log-spaced k of the per-problem fit, written as a summary table: the same (a, b)."""
    counts = pl.read_csv(MONKEYS).filter(pl.col("model").is_in(["Pythia 12B", "Pythia 70M"]))
    rows = []
    for (model,), g in counts.group_by(["model"], maintain_order=True):
        n, c = g["n_samples"].to_numpy(), g["n_correct"].to_numpy()
        ks = log_spaced_ks(int(n.min()), 40)
        cov = coverage_curve(n, c, ks)
        rows += [
            {"model": model, "benchmark": "MATH", "setting": "temperature_0.6", "k": int(k), "pass_at_k": float(v),
             "n_problems": g.height, "n_samples": int(n.min())}
            for k, v in zip(ks, cov, strict=True) if v > 0
        ]  # fmt: skip
    (tmp_path / "monkeys_summary").mkdir()
    pl.DataFrame(rows).write_csv(tmp_path / "monkeys_summary" / "summary.csv")
    (tmp_path / "monkeys_counts").mkdir()
    counts.write_csv(tmp_path / "monkeys_counts" / "counts.csv")
    db = tmp_path / "m.duckdb"
    rep = ingest_paths(db, [tmp_path / "monkeys_summary", tmp_path / "monkeys_counts"])
    assert rep.count("failed") == 0
    con = open_ro(db)
    try:
        summ, records = summary_coverage_fits(con)
        per = coverage_fits(con, "model IN ('Pythia 12B', 'Pythia 70M')").table
    finally:
        con.close()
    assert summ["model"].to_list() == ["Pythia 12B", "Pythia 70M"] and len(records) == 2
    assert summ["n_k"].to_list() == [37, 37] and summ["n_problems"].to_list() == [128, 128]
    s = summ.sort("model")
    p = per.sort("model")
    np.testing.assert_allclose(s["a"].to_numpy(), p["a"].to_numpy(), rtol=1e-6)
    np.testing.assert_allclose(s["b"].to_numpy(), p["b"].to_numpy(), rtol=1e-6)
    assert s["coverage@k_max"][0] == pytest.approx(112 / 128)  # Pythia 12B solves 112 of 128 at k = 10,000
    direct = fit_coverage_counts(
        counts.filter(pl.col("model") == "Pythia 12B")["n_samples"],
        counts.filter(pl.col("model") == "Pythia 12B")["n_correct"],
    )
    assert s["a"][0] == pytest.approx(direct.params["a"], rel=1e-6)


def test_thinking_fit_on_summary_matches_per_answer_fit(tmp_path):
    """Accuracy per thinking level with mean tokens and n, aggregated from the tts-knowledge answers."""
    ans = pl.read_parquet(TTS).filter(
        (pl.col("model") == "gemini-2.5-flash") & (pl.col("benchmark") == "simpleqa")
    )
    agg = ans.group_by("model", "benchmark", "setting").agg(
        pl.col("correct").cast(pl.Float64).mean().alias("accuracy"),
        pl.col("problem_id").n_unique().alias("n_problems"),
        pl.col("output_tokens").mean().alias("mean_output_tokens"),
    )
    assert agg.height == 5 and set(agg["n_problems"]) == {800}  # one answer per problem and level
    (tmp_path / "tts_summary").mkdir()
    agg.write_csv(tmp_path / "tts_summary" / "levels.csv")
    db = tmp_path / "t.duckdb"
    assert ingest_paths(db, [tmp_path / "tts_summary"]).count("failed") == 0
    con = open_ro(db)
    try:
        rows = summary_rows(con).sort("mean_output_tokens")
        stops, recs, notes = thinking_stops(con, None, 0.01, "gain_per_1k_tokens", None, 50, 0)
    finally:
        con.close()
    assert rows.height == 5 and set(rows["measure"]) == {"accuracy"} and set(rows["k"]) == {1}
    t, acc, w = rows["mean_output_tokens"].to_numpy(), rows["value"].to_numpy(), np.full(5, 800.0)
    sat = fit_accuracy_vs_log_tokens(t, acc, "saturating", weights=w)
    lin = fit_accuracy_vs_log_tokens(t, acc, "linear", weights=w)
    st = stops.row(0, named=True)
    assert st["data"] == "summary" and st["n_levels"] == 5 and len(recs) == 1
    # SimpleQA accuracy still climbs at 2048 budget tokens: the saturating ceiling runs to its bound A = 1, so it
    # is not identified and the log-linear form carries the stop (as on the per-answer data)
    assert sat.params["A"] == pytest.approx(1.0, abs=1e-3)
    assert any("saturating fit not identified (ceiling A = 1.000 at its bound)" in n for n in notes)
    assert st["form"] == "linear"
    assert st["q"] == pytest.approx(lin.params["q"], rel=1e-9) and st["p"] == pytest.approx(
        lin.params["p"], rel=1e-9
    )
    assert st["T_stop"] == pytest.approx(1000 * lin.params["q"] / 0.01, rel=1e-9)
    assert st["q_lo"] <= st["q"] <= st["q_hi"]
    assert st["T_stop_lo"] <= st["T_stop"] <= st["T_stop_hi"]
    assert recs[0]["replicates"]["unit"] == "level (binomial)"


def test_summary_rows_schema_matches_the_view_and_survives_an_old_store(tmp_path):
    import duckdb

    from app.services.test_time_fits import SUMMARY_SCHEMA

    db = tmp_path / "e.duckdb"
    ingest_paths(db, [MONKEYS])
    con = open_ro(db)
    try:
        assert summary_rows(con).columns == list(SUMMARY_SCHEMA)  # the README lists these columns
        assert summary_rows(con, "no_such_column = 1").height == 0
    finally:
        con.close()
    old = duckdb.connect(":memory:")  # no v_eval_summary at all
    assert summary_rows(old).schema == pl.Schema(SUMMARY_SCHEMA)
