"""Identifiability of Gadre's over-training law and the loss-to-error map (service, CLI text/json, stored record,
Pretraining page), of `scaling size --law fit:...`, and the Stored fits verdict column, on the bundled samples."""

from __future__ import annotations

import json
import shutil

import pytest

from app import state
from app.cli import main
from app.services.laws_extra import fit_overtraining_and_error
from app.services.records import stored_fits
from app.services.sizing import size_model, sizing_warnings
from data.connect import open_ro
from data.fits import load_fit
from tests.app.conftest import run_page

RPJ = "corpus = 'rpj'"
NARROW = "corpus = 'rpj' AND n_params < 2e8 AND n_tokens/n_params BETWEEN 10 AND 90"


@pytest.fixture(scope="module")
def con(demo_db):
    c = open_ro(demo_db)
    yield c
    c.close()


@pytest.fixture
def db_copy(demo_db, tmp_path):
    dst = tmp_path / "copy.duckdb"
    shutil.copy(demo_db, dst)
    return dst


def test_gadre_paper_set_is_not_identified_but_keeps_the_published_fit(con):
    """Gadre et al. (arXiv 2403.08540) default fit on RedPajama: 5 runs for 4 parameters (1 residual dof), so the
    objective profiles of eta and E stay within the noise up to the ends of their ranges: NOT identified, although
    the law extrapolates within 1% (tests/app/test_reproductions.py pins E = 1.837, 2 eta = 0.273)."""
    fit = fit_overtraining_and_error(con, "gadre_overtraining", RPJ, fit_set="paper")
    assert round(fit.loss_fit.params["E"], 3) == 1.837
    li = fit.loss_fit.extra["identifiability"]
    assert li["verdict"] == "not identified"
    assert (li["n_points"], li["n_free_params"], li["dof"]) == (5, 4, 1)
    assert set(li["not_identified"]) == {"eta", "E"}
    assert li["spans_decades"]["C"] == pytest.approx(3.18, abs=0.01)
    assert li["spans_decades"]["M"] == pytest.approx(1.20, abs=0.01)  # M = 20 and 320
    assert any("too few runs: 5 for 4" in w for w in li["warnings"])
    assert {"eta", "E", "a", "b", "M_star"} <= set(li["untrustworthy_intervals"])
    ei = fit.error_fit.extra["identifiability"]
    assert ei["verdict"] == "not identified" and ei["not_identified"] == ["eps"]
    assert ei["parameters"]["gamma"]["verdict"] == "weakly identified"
    lo, hi = ei["parameters"]["gamma"]["range"]
    assert lo < fit.error_fit.params["gamma"] < hi  # 0.715 inside [0.30, 1.20]
    # the stored records carry the verdicts (result extra and checklist)
    rec = fit.records[0]
    assert rec["result"]["extra"]["identifiability"]["verdict"] == "not identified"
    assert rec["checklist"]["identifiability"]["parameters"] == {
        "eta": "not identified",
        "E": "not identified",
    }
    assert fit.records[1]["checklist"]["identifiability"]["verdict"] == "not identified"


def test_cli_overtraining_text_json_and_stored_record(db_copy, capsys):
    argv = ["fit", "pretraining", "--db", str(db_copy), "--source", "gadre_overtraining", "--where", RPJ]
    assert main([*argv, "--law", "overtraining", "--no-save"]) == 0
    text = capsys.readouterr().out
    assert "law identifiability: NOT IDENTIFIED (5 points, 4 free parameters, 1 residual dof" in text
    assert "spans in decades: C 3.18, M 1.20" in text
    assert "error map identifiability: NOT IDENTIFIED" in text
    assert "WARNING (law): eta is not identified" in text
    assert main([*argv, "--law", "overtraining", "--json", "--bootstrap", "4"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["identifiability"]["verdict"] == "not identified"
    assert d["error_law"]["identifiability"]["not_identified"] == ["eps"]
    assert any("E is not identified" in w for w in d["warnings"])
    con = open_ro(db_copy)
    try:
        rows = stored_fits(con, "pretraining", "overtraining")
        assert rows["verdict"].to_list() == ["not identified (eta, E)"]
        rec = load_fit(con, rows["fit_id"][0])
        assert rec["result"]["extra"]["identifiability"]["spans_decades"]["M"] == pytest.approx(
            1.204, abs=1e-3
        )
        assert stored_fits(con, "pretraining", "loss_to_error")["verdict"].to_list() == [
            "not identified (eps)"
        ]
    finally:
        con.close()


def test_size_from_fit_carries_the_verdict_and_warns_when_not_identified(con, db_copy, capsys):
    ok = size_model(
        con, f"fit:gadre_overtraining|{RPJ}", inference_tokens=1e13, reference_params=7e9, n_boot=0
    )
    assert ok.identifiability["verdict"] == "identified" and ok.warnings == []
    bad = size_model(
        con, f"fit:gadre_overtraining|{NARROW}", inference_tokens=1e13, reference_params=7e9, n_boot=0
    )
    assert bad.identifiability["not_identified"] == ["E"]
    assert bad.warnings[0].startswith("this sizing rests on a law that is NOT identified by its runs (E")
    # presets and older stored records carry no record: no verdict, no warning
    pre = size_model(con, "preset:Chinchilla (unrounded)", inference_tokens=2e12, reference_params=13e9)
    assert pre.identifiability == {} and pre.warnings == []
    assert sizing_warnings({}) == []
    argv = [
        "size",
        "--db",
        str(db_copy),
        "--law",
        f"fit:gadre_overtraining|{NARROW}",
        "--inference-tokens",
        "1e13",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "law identifiability: NOT IDENTIFIED (E not identified" in out
    assert "WARNING: this sizing rests on a law that is NOT identified" in out
    assert main([*argv, "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["identifiability"]["verdict"] == "not identified" and d["warnings"]


def test_fits_page_verdict_column(db_copy, monkeypatch, capsys):
    # one fit with a verdict, one record stored before verdicts existed (identifiability stripped)
    assert main(["fit", "pretraining", "--db", str(db_copy), "--source", "gadre_overtraining", "--where", RPJ,
                 "--law", "overtraining", "--json"]) == 0  # fmt: skip
    capsys.readouterr()
    import duckdb

    c = duckdb.connect(str(db_copy))
    try:
        c.execute(
            'UPDATE fits SET result_json = json_merge_patch(result_json, \'{"extra": {"identifiability": null}}\') '
            "WHERE law = 'loss_to_error'"
        )
    finally:
        c.close()
    monkeypatch.setenv("SCALING_DB", str(db_copy))
    at = run_page("app_pages/fits.py", timeout=60)
    assert not at.exception, at.exception
    order = list(at.dataframe[0].proto.column_order)
    assert order[:2] == ["law", "verdict"]
    t = at.dataframe[0].value.set_index("law")
    assert t.loc["overtraining", "verdict"] == "not identified (eta, E)"
    assert t.loc["loss_to_error", "verdict"] == "—"


def test_pretraining_page_overtraining_section(app_env):
    at = run_page("app_pages/pretraining.py", timeout=120)
    assert not at.exception, at.exception
    at.selectbox(key="pretraining.source").select("gadre_overtraining").run()
    at.selectbox(key=state.PRE_CORPUS).select("rpj").run()
    assert not at.exception, at.exception
    at.toggle(key="pretraining.overtraining").set_value(True).run()
    assert not at.exception, at.exception
    md = " ".join(m.value for m in at.markdown)
    assert "**L(C, M)** on" in md and "identifiability: **not identified**" in md
    tables = [d.value for d in at.dataframe if "parameter" in d.value.columns]
    verdicts = [dict(zip(t["parameter"], t["verdict"], strict=True)) for t in tables]
    assert {"eta": "not identified", "E": "not identified"} in verdicts
    assert {"gamma": "weakly identified", "eps": "not identified"} in verdicts
    assert any("L(C, M): E is not identified" in w.value for w in at.warning)
