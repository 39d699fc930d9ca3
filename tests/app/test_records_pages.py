"""AppTest of the SQL console and the stored-fits page on the demo database built from the bundled samples."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import warnings
from pathlib import Path

import pytest

from tests.app.conftest import ENTRYPOINT, run_page

COUNT_GADRE = "select count(*) from v_pretrain_points where source = 'gadre_overtraining'"


def _open(page: str, timeout: float = 60):
    """The page through the entrypoint's navigation; the page script alone if it is not registered yet."""
    if f'"{page}"' in Path(ENTRYPOINT).read_text():
        return run_page(page, timeout=timeout)
    from streamlit.testing.v1 import AppTest

    warnings.warn(
        f"{page} is not registered in app/streamlit_app.py; testing the page script alone", stacklevel=2
    )
    at = AppTest.from_file(str(Path(ENTRYPOINT).parent / page), default_timeout=timeout)
    at.run()
    return at


def _console(sql: str | None = None):
    at = _open("app_pages/sql_console.py")
    assert not at.exception, at.exception
    if sql is not None:
        at.text_area(key="sql_console.sql").input(sql)
        at.button[0].click().run()
        assert not at.exception, at.exception
    return at


def test_console_default_query_and_view_list(app_env):
    at = _console()
    assert at.title[0].value == "SQL console"
    assert not at.error, [e.value for e in at.error]
    df = at.dataframe[0].value
    assert {"source", "n_runs", "min_final_loss"} <= set(df.columns)
    n = dict(zip(df["source"], df["n_runs"], strict=True))
    assert n["gadre_overtraining"] == 104
    # FLOPs exceed 2^53 (the widget flags even float cells there), so they are scientific-notation text
    flops = dict(zip(df["source"], df["max_compute_flops"], strict=True))
    assert flops["gadre_overtraining"] == "7.96036e+21"
    assert flops["porian_compute_optimal"] == "2.56e+19"
    # ... right-aligned like the numbers around them
    assert json.loads(at.dataframe[0].proto.columns)["max_compute_flops"]["alignment"] == "right"
    assert any("max_compute_flops" in c.value and "2^53" in c.value for c in at.caption)
    # the public views are listed, one line each, with their description from the migration
    lines = " ".join(m.value for m in at.markdown)
    for view in ("v_final_loss", "v_pretrain_points", "v_fits_latest", "v_eval_configs"):
        assert f"`{view}`" in lines
    assert "finished pretraining runs with positive N, D, C and loss" in lines


def test_console_counts_gadre_points(app_env):
    at = _console(COUNT_GADRE)
    assert not at.error, [e.value for e in at.error]
    df = at.dataframe[0].value
    assert df.shape == (1, 1)
    assert int(df.iloc[0, 0]) == 104
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["rows returned"] == "1"
    assert 0.0 <= float(metrics["elapsed (s)"]) < 5.0
    assert not at.warning


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("insert into runs (run_id) values ('x')", "read-only"),
        ("selec * form v_runs", "syntax error"),
        ("select * from no_such_view", "no_such_view"),
        ("   ", "empty query"),
    ],
)
def test_console_errors_are_shown_not_raised(app_env, sql, needle):
    at = _console(sql)
    assert len(at.error) == 1
    assert needle in at.error[0].value.lower()
    assert len(at.dataframe) == 1  # only the view list: no stale result frame
    assert not at.metric


def test_console_flags_truncation(app_env, monkeypatch):
    monkeypatch.setenv("SCALING_SQL_MAX_ROWS", "7")
    at = _console("select run_id, loss from v_pretrain_points where source = 'gadre_overtraining'")
    assert not at.error
    assert at.dataframe[0].value.shape == (7, 2)
    assert any("truncated at 7 rows" in w.value for w in at.warning)
    # exactly at the cap is not truncated
    at.text_area(key="sql_console.sql").input("select * from range(7)")
    at.button[0].click().run()
    assert at.dataframe[0].value.shape[0] == 7
    assert not at.warning


def test_console_times_out(app_env, monkeypatch):
    monkeypatch.setenv("SCALING_SQL_TIMEOUT_S", "0.3")
    at = _console("select count(*) from range(100000000000) a")
    assert len(at.error) == 1
    assert "timed out" in at.error[0].value.lower()


@pytest.fixture
def fitted_db(app_env, tmp_path, monkeypatch) -> tuple[Path, dict]:
    """A copy of the demo database with one stored Chinchilla fit of gadre_overtraining (20 replicates)."""
    from app.cli import main

    db = tmp_path / "fits.duckdb"
    shutil.copy2(app_env, db)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(
            [
                "fit",
                "pretraining",
                "--db",
                str(db),
                "--source",
                "gadre_overtraining",
                "--json",
                "--bootstrap",
                "20",
                "--backtest",
            ]
        )
    assert rc == 0
    monkeypatch.setenv("SCALING_DB", str(db))
    return db, json.loads(buf.getvalue())


def test_fits_page_shows_stored_fit(fitted_db):
    _, payload = fitted_db
    (fit_id,) = payload["fit_ids"]
    at = _open("app_pages/fits.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Stored fits"
    table = at.dataframe[0].value
    # law, parameters and selection lead; provenance (loss, optimizer, code version, id) is last
    order = list(at.dataframe[0].proto.column_order)
    assert order[:4] == ["law", "verdict", "params", "selection"] and order[-1] == "fit_id"
    # the stored chinchilla fit on the whole Gadre sweep carries its identifiability verdict
    ident = payload["identifiability"]
    names = ", ".join(ident["not_identified"])
    assert table["verdict"].tolist() == [f"not identified ({names})" if names else ident["verdict"]]
    assert table["fit_id"].tolist() == [fit_id]
    assert table["n_points (fitted)"].tolist() == [104]
    assert table["selection"].tolist() == ["source=gadre_overtraining"]
    assert at.selectbox(key="fits.fit_id").value == fit_id

    metrics = {m.label: m.value for m in at.metric}
    # the Gadre et al. (arXiv 2403.08540) sweep: E ~ 1.74 nats/token, alpha ~ 0.25 (values of the stored fit)
    assert float(metrics["alpha"]) == pytest.approx(payload["params"]["alpha"], rel=1e-3)
    assert 0.22 < float(metrics["alpha"]) < 0.29
    assert float(metrics["E"]) == pytest.approx(1.7377, abs=0.01)
    assert metrics["points"] == "104"
    assert metrics["replicates kept"] == "20 of 20"
    params = at.dataframe[1].value.set_index("name")
    lo, hi = payload["bootstrap"]["intervals_95"]["alpha"]
    assert params.loc["alpha", "ci95_lo"] == pytest.approx(lo)
    assert params.loc["alpha", "ci95_hi"] == pytest.approx(hi)
    assert params.loc["alpha", "ci95_lo"] < params.loc["alpha", "value"] < params.loc["alpha", "ci95_hi"]
    # backtest: fitted on 84 smaller runs, predicted the 20 largest
    bt = payload["backtest"]
    assert metrics["mean |error| on held-out runs"] == f"{bt['mean_abs_rel_error']:.2%}"
    assert bt["n_train"] == 84 and bt["n_test"] == 20
    assert any("Fitted on 84 runs" in c.value for c in at.caption)
    assert at.get("vega_lite_chart")
    assert json.loads(at.json[0].value) == {"source": "gadre_overtraining", "where": None}


def test_fits_page_filters_by_law(fitted_db):
    at = _open("app_pages/fits.py")
    assert at.selectbox(key="fits.law").options == ["all", "chinchilla"]
    at.selectbox(key="fits.axis").select("pretraining").run()
    assert not at.exception, at.exception
    assert at.dataframe[0].value.shape[0] == 1


def test_fits_page_without_fits_says_so(app_env):
    at = _open("app_pages/fits.py")
    assert not at.exception, at.exception
    assert any("No fits stored yet" in i.value for i in at.info)


@pytest.mark.parametrize(
    ("sql", "needle"),
    [
        ("copy (select 42 as x) to '{target}'", "refused a COPY statement"),
        ("select * from read_csv('{target}')", "disabled by configuration"),
        ("select 1; select 2", "one statement at a time"),
    ],
)
def test_console_refuses_file_access_and_batches(app_env, tmp_path, sql, needle):
    target = tmp_path / "leak.csv"
    at = _console(sql.format(target=target))
    assert len(at.error) == 1
    assert needle in at.error[0].value
    assert not target.exists()
