"""``scaling fit test-time --what ...`` and the Test-time page on a synthetic store with known answers: majority@k
with exact tie counts and unparsed answers, logged vs priced USD costs, a summary table with an exact coverage law."""

from __future__ import annotations

import json
import math

import polars as pl
import pytest

from app.cli import main
from data.ingest import ingest_paths


def _answers() -> pl.DataFrame:
    rows = []
    # model m: p1 = a, a, b, b ("a" correct); p2 = "42" and three unparsed; p3 = four unparsed
    m = {"p1": ["a", "a", "b", "b"], "p2": ["42", None, None, None], "p3": [None] * 4}
    good = {"p1": "a", "p2": "42", "p3": "x"}
    # model m2: every sample agrees; right on p1 and p2, wrong ("7") on p3
    m2 = {"p1": ["a"] * 4, "p2": ["42"] * 4, "p3": ["7"] * 4}
    for model, answers, tokens in (("m", m, 100.0), ("m2", m2, 300.0)):
        for pid, ans in answers.items():
            for i, a in enumerate(ans):
                rows.append(
                    {"run_id": f"toy/{model}", "model": model, "benchmark": "toy", "setting": "s", "problem_id": pid,
                     "sample_idx": i, "answer": a, "correct": a == good[pid], "output_tokens": tokens,
                     # only model m's problem p1 logged a cost
                     "cost_usd": 0.5 if (model == "m" and pid == "p1") else None}
                )  # fmt: skip
    return pl.DataFrame(rows)


def _summary() -> pl.DataFrame:
    ks = [1, 2, 4, 8, 16, 32]
    return pl.DataFrame(
        {"model": "s1", "benchmark": "toy-sum", "setting": "t1", "k": ks,
         "pass_at_k": [math.exp(-2.0 * k**-0.5) for k in ks], "n_problems": 50, "n_samples": 32}
    )  # fmt: skip


@pytest.fixture(scope="module")
def toy_db(tmp_path_factory):
    root = tmp_path_factory.mktemp("toy")
    (root / "answers").mkdir()
    (root / "summary").mkdir()
    _answers().write_csv(root / "answers" / "answers.csv")
    _summary().write_csv(root / "summary" / "passk.csv")
    db = root / "toy.duckdb"
    rep = ingest_paths(db, [root / "answers", root / "summary"])
    assert rep.count("failed") == 0 and rep.n_rejects == 0
    return db


def _json(capsys, *argv) -> dict:
    rc = main(["fit", "test-time", *argv, "--json", "--no-save"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    return json.loads(out.out)


def test_majority_ties_and_unparsed_exact(toy_db, capsys):
    p = _json(capsys, "--db", str(toy_db), "--what", "majority", "--k", "1,2", "--ties", "wrong")
    rows = {r["model"]: r for r in p["rows"]}
    m = rows["m"]
    assert m["n_problems"] == 3 and m["n_answers"] == 12 and m["n_unparsed"] == 7  # p3 is not dropped
    assert m["pass@1"] == pytest.approx((0.5 + 0.25 + 0.0) / 3)
    assert m["majority@1"] == pytest.approx(m["pass@1"])
    # k = 2: p1 scores 1/6 (ties count as wrong, 4 ties), p2 1/2 ("42" votes alone in 3 of 6 pairs), p3 0
    assert m["majority@2"] == pytest.approx((1 / 6 + 0.5 + 0.0) / 3) and m["ties@2"] == 4
    assert rows["m2"]["majority@2"] == pytest.approx(2 / 3) and rows["m2"]["ties@2"] == 0
    assert p["ties"] == "wrong" and "counts as wrong" in p["tie_rule"] and p["seed"] == 0
    exp = _json(capsys, "--db", str(toy_db), "--what", "majority", "--k", "2", "--ties", "expected")
    assert {r["model"]: r for r in exp["rows"]}["m"]["majority@2"] == pytest.approx((0.5 + 0.5) / 3)
    vote = _json(
        capsys,
        "--db",
        str(toy_db),
        "--what",
        "majority",
        "--k",
        "2",
        "--ties",
        "wrong",
        "--unparsed",
        "wrong_vote",
    )
    # p2 with unparsed as one wrong vote: {42, none} ties (wrong), {none, none} loses: 0
    assert {r["model"]: r for r in vote["rows"]}["m"]["majority@2"] == pytest.approx((1 / 6) / 3)
    r1 = _json(capsys, "--db", str(toy_db), "--what", "majority", "--k", "2", "--seed", "3")
    r2 = _json(capsys, "--db", str(toy_db), "--what", "majority", "--k", "2", "--seed", "3")
    assert r1["rows"] == r2["rows"]  # random tie breaks are seeded
    rc = main(["fit", "test-time", "--db", str(toy_db), "--what", "majority", "--k", "5", "--no-save"])
    out = capsys.readouterr().out
    assert rc == 0 and "maj@5=n/a" in out and "k = 5 > n = 4" in out


def test_frontier_uses_logged_cost_and_prices_the_rest(toy_db, capsys):
    p = _json(capsys, "--db", str(toy_db), "--what", "frontier", "--unit", "usd", "--price", "m2=1,2")
    (b,) = p["benchmarks"]
    assert b["benchmark"] == "toy" and b["unit"] == "usd" and b["units_available"] == ["tokens", "usd"]
    notes = " | ".join(b["notes"])
    assert "4 answer(s) costed from logged cost_usd (m)" in notes
    assert "12 answer(s) costed from your price list (m2)" in notes
    assert "8 answer(s) costed from the placeholder price $1 in / $4 out per 1M tokens (m)" in notes
    pts = {r["model"]: r for r in b["points"]}
    # m: per question, p1 = 4 x $0.5 logged, p2 and p3 = 4 x 100 tokens x $4/1M each -> mean over 3 questions
    assert pts["m"]["cost"] == pytest.approx((2.0 + 2 * 4 * 100 * 4e-6) / 3)
    assert pts["m2"]["cost"] == pytest.approx(4 * 300 * 2e-6)  # 4 answers x 300 tokens x $2 / 1M
    text = main(["fit", "test-time", "--db", str(toy_db), "--what", "frontier", "--no-save"])
    assert text == 0 and "cost in tokens per question" in capsys.readouterr().out


def test_coverage_on_summary_table_recovers_the_law(toy_db, capsys):
    p = _json(capsys, "--db", str(toy_db), "--what", "coverage", "--bootstrap", "0")
    (s,) = p["summary"]
    assert s["model"] == "s1" and s["n_k"] == 6 and s["k_max"] == 32
    assert s["a"] == pytest.approx(-2.0, abs=1e-6) and s["b"] == pytest.approx(-0.5, abs=1e-6)
    assert p["per_problem"] == []  # 4 samples per problem: too few for a coverage curve
    assert any("4 sample(s) per problem" in m for m in p["skipped"])


def test_thinking_and_adaptive_on_demo(demo_db, capsys):
    p = _json(capsys, "--db", str(demo_db), "--what", "thinking", "--bootstrap", "10", "--threshold", "0.01")
    rows = {(r["model"], r["benchmark"]): r for r in p["stops"]}
    gem = rows[
        ("gemini-2.5-flash", "frames")
    ]  # 5 thinking levels that flatten: the saturating form, identified
    assert gem["n_levels"] == 5 and gem["form"] == "saturating" and gem["data"] == "per-answer"
    assert gem["T_stop_lo"] <= gem["T_stop"] <= gem["T_stop_hi"]
    assert gem["A_lo"] <= gem["A"] <= gem["A_hi"] and gem["A"] == pytest.approx(0.54, abs=0.01)
    # on SimpleQA its ceiling runs to the bound: not identified, the log-linear form is used and the notes say so
    assert rows[("gemini-2.5-flash", "simpleqa")]["form"] == "linear"
    assert any("gemini-2.5-flash / simpleqa: saturating fit not identified" in n for n in p["notes"])
    assert rows[("o4-mini", "simpleqa")]["stop_status"] == "at the first level"
    assert p["metric_unit"] == "accuracy per 1k output tokens"
    a = _json(capsys, "--db", str(demo_db), "--what", "adaptive", "--target", "0.5")
    ad = {r["model"]: r for r in a["rows"]}
    assert ad["Pythia 12B"]["uniform_samples_per_problem"] == 112  # as on the page
    assert "optimistic" in a["caveat"]


def test_test_time_page_on_the_toy_store(toy_db, monkeypatch):
    monkeypatch.setenv("SCALING_DB", str(toy_db))
    monkeypatch.setenv("SCALING_BOOTSTRAP", "10")
    from tests.app.test_test_time_page import frame_with, open_page

    at = open_page()
    assert not at.exception, at.exception
    summ = frame_with(at, "n_k")
    assert float(summ["a"][0]) == pytest.approx(-2.0, abs=1e-6) and float(summ["b"][0]) == pytest.approx(
        -0.5, abs=1e-6
    )
    at.text_input(key="test_time.maj_k").input("1,2").run()
    at.radio(key="test_time.ties").set_value("wrong").run()
    assert not at.exception, at.exception
    maj = frame_with(at, "majority@2").set_index("model")
    assert float(maj.loc["m", "majority@2"]) == pytest.approx((1 / 6 + 0.5) / 3)
    assert int(maj.loc["m", "ties@2"]) == 4 and int(maj.loc["m", "n_unparsed"]) == 7
    assert any("a tie for the most votes counts as wrong (seed 0)" in i.value for i in at.info)


def test_per_dollar_stop_uses_the_logged_cost(tmp_path):
    """A model whose every answer logged cost_usd is priced from it ($ per output token), not from the list."""
    from app.services.test_time_fits import output_prices, thinking_stops
    from data.connect import open_ro

    rows = []
    for setting, tokens, n_right in (("low", 100.0, 2), ("mid", 400.0, 5), ("high", 1600.0, 7)):
        for i in range(10):
            rows.append(
                {"run_id": f"c/{setting}", "model": "paid", "benchmark": "toy", "setting": setting,
                 "problem_id": f"q{i}", "correct": i < n_right, "output_tokens": tokens,
                 "cost_usd": tokens * 2e-6}  # $2 per 1M output tokens, logged
            )  # fmt: skip
    (tmp_path / "paid").mkdir()
    pl.DataFrame(rows).write_csv(tmp_path / "paid" / "answers.csv")
    db = tmp_path / "paid.duckdb"
    assert ingest_paths(db, [tmp_path / "paid"]).count("failed") == 0
    con = open_ro(db)
    try:
        price, basis = output_prices(con, ["paid", "other"], (("other", 1.0, 3.0),))
        assert price["paid"] == pytest.approx(2.0) and basis["paid"] == "logged cost_usd"
        assert price["other"] == 3.0 and basis["other"] == "price list"
        table, _, notes = thinking_stops(con, None, 100.0, "gain_per_usd", (("paid", 9.0, 9.0),), 0, 0)
    finally:
        con.close()
    row = table.row(0, named=True)
    # 100 accuracy per $ per question at $2 per 1M tokens = 0.2 accuracy per 1k tokens (the list's $9 is ignored)
    assert row["threshold_per_1k"] == pytest.approx(0.2) and row["price_basis"] == "logged cost_usd"
    assert any(n.startswith("$ per output token from: logged cost_usd (paid)") for n in notes)


def test_passk_lists_summary_values(toy_db, capsys):
    p = _json(capsys, "--db", str(toy_db), "--k", "1,2", "--bootstrap", "0")
    assert p["what"] == "passk"
    summ = {r["k"]: r for r in p["summary_pass_at_k"]}
    assert set(summ) == {1, 2} and summ[1]["model"] == "s1" and summ[1]["n_problems"] == 50
    assert summ[2]["pass_at_k"] == pytest.approx(math.exp(-2.0 * 2**-0.5))
    per = {r["model"]: r for r in p["pass_at_k"]}
    assert per["m"]["pass@1"] == pytest.approx(0.25) and per["m"]["pass@2"] == pytest.approx(
        (5 / 6 + 0.5) / 3
    )


@pytest.mark.parametrize(
    ("what", "first_line"),
    [
        ("passk", "pass@k (1, 2) per model / benchmark / setting"),
        ("coverage", "coverage law c(k) = exp(a k^b) (Brown et al. 2024, arXiv:2407.21787)"),
        ("majority", "majority@k (1, 2), ties: a tie for the most votes is broken uniformly at random"),
        (
            "thinking",
            "thinking tokens: stop where the FITTED curve gains < 0.01 (accuracy per 1k output tokens)",
        ),
        ("frontier", "cost-accuracy frontier (Kapoor et al. 2024, arXiv:2407.01502)"),
        ("adaptive", "adaptive allocation for coverage 0.5 (Snell et al. 2024, arXiv:2408.03314)"),
    ],
)
def test_every_what_prints_readable_text(toy_db, capsys, what, first_line):
    rc = main(
        [
            "fit",
            "test-time",
            "--db",
            str(toy_db),
            "--what",
            what,
            "--k",
            "1,2",
            "--bootstrap",
            "0",
            "--no-save",
        ]
    )
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert out.out.splitlines()[0].startswith(first_line)
