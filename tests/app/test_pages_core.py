"""AppTest of the entrypoint, the Overview page and the Pretraining page on the real bundled samples."""

from __future__ import annotations

from tests.app.conftest import run_page


def test_overview_shows_counts_and_no_exception(app_env):
    at = run_page()
    assert not at.exception
    assert at.title[0].value == "Overview"
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["runs"].replace(",", "")) > 2800
    # three o4-mini FRAMES answers carry negative token counts upstream; ingest keeps them in rejects with a reason
    assert metrics["rejected records"] == "3"
    rejects = at.dataframe[1].value
    assert sorted(rejects["line"].tolist()) and all("is negative" in r for r in rejects["reason"])
    assert set(rejects["source_file"]) == {
        "tts_knowledge/answers.parquet"
    }  # folder/name, not the absolute path


def test_pretraining_page_fits_gadre_and_shows_alpha(app_env):
    at = run_page("app_pages/pretraining.py")
    assert not at.exception, at.exception
    at.selectbox(key="pretraining.source").select("gadre_overtraining").run()
    assert not at.exception, at.exception
    at.selectbox(key="pretraining.corpus").select("rpj").run()
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    alpha = float(metrics["alpha"])
    assert 0.1 < alpha < 0.6
    assert at.get("vega_lite_chart")
    at.text_input(key="pretraining.budget_flops").input("5.76e23").run()
    metrics = {m.label: m.value for m in at.metric}
    n_opt = metrics["N_opt (params)"]
    assert n_opt[-1] in "BT" and float(n_opt[:-1]) > 0  # e.g. "52.41B": a B/T suffix, not 4-decimal floats
    assert at.radio(key="pretraining.law").options == ["Chinchilla L(N, D)", "Compute law L(C)"]


def test_pretraining_page_rejects_bad_budget(app_env):
    at = run_page("app_pages/pretraining.py")
    at.text_input(key="pretraining.budget_flops").input("lots").run()
    assert not at.exception
    assert any("not a number" in e.value for e in at.error)


def test_pretraining_degenerate_selection_warns_instead_of_failing(app_env):
    """Marin's 7 'validation-optimal' runs cannot pin down a 5-parameter law: warn, never raise."""
    at = run_page("app_pages/pretraining.py")
    at.selectbox(key="pretraining.source").select("marin_isoflops").run()
    at.selectbox(key="pretraining.corpus.recipe").select("validation-optimal").run()
    assert not at.exception, at.exception
    warnings = " ".join(w.value for w in at.warning)
    assert "beta = 0 is at its bound" in warnings and "not identified" in warnings  # README "Fit verdicts"
    at.text_input(key="pretraining.budget_flops").input("1e40").run()
    assert not at.exception
    assert any("far extrapolation" in w.value for w in at.warning) or any("allocation" in e.value for e in at.error)
