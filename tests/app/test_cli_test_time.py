"""``scaling fit test-time`` on a copy of the demo database: pass@k values, stored records, input errors."""

from __future__ import annotations

import json
import shutil

import duckdb
import pytest

from app.cli import main


@pytest.fixture
def db_copy(demo_db, tmp_path, monkeypatch):
    """A private copy of the session demo database (the CLI writes fits into it); few bootstrap replicates."""
    monkeypatch.setenv("SCALING_BOOTSTRAP", "20")
    monkeypatch.setenv("SCALING_SEED", "0")
    dst = tmp_path / "tt.duckdb"
    shutil.copy(demo_db, dst)
    return dst


def test_pass_at_1_equals_mean_c_over_n_and_records_are_stored(db_copy, capsys):
    assert main(["fit", "test-time", "--db", str(db_copy), "--k", "1,10,100", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    con = duckdb.connect(str(db_copy), read_only=True)
    try:
        expected = dict(
            con.sql(
                "SELECT model, avg(n_correct / n_samples) FROM eval_counts WHERE model LIKE 'Pythia%' GROUP BY model"
            ).fetchall()
        )
        fits = con.sql(
            "SELECT law, selection_json->>'model', params_json->>'a', replicates_json IS NOT NULL "
            "FROM fits WHERE axis = 'test_time'"
        ).fetchall()
    finally:
        con.close()
    assert len(expected) == 7
    rows = {r["model"]: r for r in out["pass_at_k"] if r["model"].startswith("Pythia")}
    assert set(rows) == set(expected)
    for model, p1 in expected.items():
        assert rows[model]["pass@1"] == pytest.approx(p1, rel=1e-12)
        assert rows[model]["pass@1"] < rows[model]["pass@10"] < rows[model]["pass@100"] <= 1
    # single-answer tts configurations: pass@1 is their accuracy, pass@10 is not estimable
    gem = next(
        r
        for r in out["pass_at_k"]
        if (r["model"], r["setting"]) == ("gemini-2.5-flash", "no_think") and r["benchmark"] == "simpleqa"
    )
    assert gem["pass@1"] == pytest.approx(0.12625) and gem["pass@10"] is None
    cov = {c["model"]: c for c in out["coverage_fits"]}
    assert cov["Pythia 12B"]["a"] == pytest.approx(-4.32, abs=0.02)
    assert cov["Pythia 12B"]["b"] == pytest.approx(-0.38, abs=0.01)
    lo, hi = cov["Pythia 12B"]["a_ci95"]
    assert lo < cov["Pythia 12B"]["a"] < hi
    assert cov["Pythia 70M"]["coverage@k_max"] == pytest.approx(34 / 128)
    assert len(out["fit_ids"]) == 7
    assert len(fits) == 7 and all(law == "coverage_exp_power" and reps for law, _, _, reps in fits)
    assert float(dict((m, a) for _, m, a, _ in fits)["Pythia 12B"]) == pytest.approx(-4.3169, abs=1e-3)
    assert any("Majority@k needs the sampled answers" in n for n in out["notes"])


@pytest.mark.parametrize(
    ("k", "message"),
    [
        ("1,x", "'x' is not a whole number"),
        ("0,5", "k must be >= 1"),
        ("1,20000", "k = 20000 > n = 10000"),
    ],
)
def test_bad_k_exits_2_with_a_clear_message(db_copy, capsys, k, message):
    assert main(["fit", "test-time", "--db", str(db_copy), "--k", k, "--json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_bad_filter_exits_2(db_copy, capsys):
    assert main(["fit", "test-time", "--db", str(db_copy), "--where", "no_such_column = 1"]) == 2
    assert "bad filter" in capsys.readouterr().err
