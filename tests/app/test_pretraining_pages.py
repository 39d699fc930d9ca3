"""AppTests of the compute-optimal, data-mix and inference-sizing pages on the bundled real samples."""

from __future__ import annotations

from pathlib import Path

from tests.app.conftest import ENTRYPOINT, run_page

APP = Path(ENTRYPOINT).parent


def _open(page: str):
    """The page through the entrypoint when it is registered in the navigation, else the page script alone."""
    if page in Path(ENTRYPOINT).read_text():
        return run_page(page)
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP / page), default_timeout=120)
    at.run()
    return at


def _metrics(at) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _count(text: str) -> float:
    """ "393.3B" -> 3.933e11 (the pages show parameters and tokens with k/M/B/T suffixes)."""
    scale = {"k": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
    return float(text[:-1]) * scale[text[-1]] if text[-1] in scale else float(text)


def test_compute_optimal_llama3_approach2_exponent(app_env):
    at = _open("app_pages/compute_optimal.py")
    assert not at.exception, at.exception
    at.selectbox(key="compute_optimal.source").select("llama3_isoflops").run()
    at.selectbox(key="compute_optimal.neighbors").select(0).run()
    at.text_input(key="compute_optimal.budget").input("3.8e25").run()
    assert not at.exception, at.exception
    m = _metrics(at)
    assert abs(float(m["b (Approach 2)"]) - 0.537) < 1e-3  # Llama 3: D_opt ~ C^0.537
    assert m["N_opt at 3.8e+25 FLOPs (Approach 2)"] == "393.3B"  # Llama 3 paper: 402B, our refit 393.3B
    assert 0.3 < float(m["a (Approach 3)"]) < 0.7
    assert any("not applicable" in i.value for i in at.info)  # no per-step curves: Approach 1 explains why
    assert len(at.get("vega_lite_chart")) == 2  # N_opt vs C and the isoFLOP profiles


def test_compute_optimal_defaults_to_a_source_where_two_approaches_apply(app_env):
    at = _open("app_pages/compute_optimal.py")
    assert not at.exception, at.exception
    assert at.selectbox(key="compute_optimal.source").value == "llama3_isoflops"
    m = _metrics(at)
    assert {"a (Approach 2)", "a (Approach 3)"} <= set(m)
    assert 0.45 < float(m["a (Approach 2)"]) < 0.5  # local parabola, +/- 2 sizes at 1e23
    assert 1e10 < _count(m["N_opt at 1e+23 FLOPs (Approach 2)"]) < 1e11
    table = at.dataframe[0].value
    assert list(table.columns[:4]) == ["approach", "a", "b", "N_opt"]
    a2 = table["a"].tolist()[1]  # "0.475 [lo, hi]": value and 95% interval as text, "" where not applicable
    assert a2.startswith(m["a (Approach 2)"] + " [") and table["a"].tolist()[0] == ""
    assert table["N_opt"].tolist()[1].startswith(m["N_opt at 1e+23 FLOPs (Approach 2)"] + " [")
    assert list(table.columns) == ["approach", "a", "b", "N_opt", "D_opt", "n_points"]  # fits the page width
    minima = at.dataframe[1].value
    assert minima["C"].tolist()[0] == "6.00e+18" and len(minima) == 10


def test_compute_optimal_porian_local_parabola(app_env):
    at = _open("app_pages/compute_optimal.py")
    at.selectbox(key="compute_optimal.source").select("porian_compute_optimal").run()
    at.selectbox(key="compute_optimal.corpus").select("rw").run()
    at.selectbox(key="compute_optimal.recipe").select("tuned-short-const-standard-val").run()
    assert not at.exception, at.exception
    a = float(_metrics(at)["a (Approach 2)"])
    assert 0.491 < a < 0.505  # Porian et al. 2024: 0.497 (0.491, 0.505)


def test_compute_optimal_bad_budget_shows_error(app_env):
    at = _open("app_pages/compute_optimal.py")
    at.text_input(key="compute_optimal.budget").input("-5").run()
    assert not at.exception
    assert any("positive" in e.value for e in at.error)


def test_data_mix_marin_multiplier(app_env):
    at = _open("app_pages/data_mix.py")
    assert not at.exception, at.exception
    at.selectbox(key="data_mix.source").select("marin_isoflops").run()
    at.selectbox(key="data_mix.recipe").select("isoflop-ladder").run()
    at.selectbox(key="data_mix.reference").select("comma").run()
    at.text_input(key="data_mix.budget").input("1e21").run()
    assert not at.exception, at.exception
    m = _metrics(at)
    assert abs(float(m["multiplier nemotron vs comma"].rstrip("x")) - 3.79) < 0.08
    assert abs(float(m["multiplier dclm vs comma"].rstrip("x")) - 2.57) < 0.06
    assert at.get("vega_lite_chart")
    table = at.dataframe[0].value
    assert "C" not in table.columns and "E_lo" not in table.columns  # budget in the header, intervals as text
    ci = dict(zip(table["mix"], table["mult_ci"], strict=True))
    lo, hi = (float(v) for v in ci["nemotron"].strip("[]").split(","))
    assert lo < 3.79 < hi
    at.text_input(key="data_mix.budget").input("abc").run()
    assert not at.exception
    assert any("not a number" in e.value for e in at.error)


def test_inference_sizing_sardana_preset(app_env):
    at = _open("app_pages/inference_sizing.py")
    assert not at.exception, at.exception
    m = _metrics(at)  # defaults: unrounded Chinchilla, 13B reference, 2T inference tokens
    assert m["N* (params)"] == "7.12B"
    assert m["D* (tokens)"] == "1.295T"
    assert m["saving (%)"] == "16.3"
    assert at.get("vega_lite_chart")
    table = at.dataframe[0].value
    assert table["inference-aware"].tolist()[:2] == ["7.12B", "1.295T"]
    assert table["Chinchilla-optimal"].tolist()[0] == "13B"
    assert table["inference-aware"].tolist()[3] == "8.381e+22"
    assert "95% interval" not in table.columns  # a preset has no replicates: no empty column
    at.selectbox(key="inference_sizing.preset").select("Chinchilla (rounded, Eq. 10)").run()
    assert _metrics(at)["N* (params)"] == "8.02B"
    at.radio(key="inference_sizing.mode").set_value("target loss").run()
    at.text_input(key="inference_sizing.target_loss").input("1.5").run()
    assert not at.exception
    assert any("target_loss" in e.value for e in at.error)  # below E = 1.69: unreachable, shown not raised


def test_inference_sizing_fresh_fit_intervals_in_the_same_units(app_env):
    at = _open("app_pages/inference_sizing.py")
    at.radio(key="inference_sizing.origin").set_value("fresh fit").run()
    at.selectbox(key="inference_sizing.source").select("datablations_data_constrained").run()
    assert not at.exception, at.exception
    m = _metrics(at)
    assert (
        m["N* (params)"] == "3.95B"
    )  # fresh Chinchilla fit of the datablations runs, 13B reference, 2T tokens
    assert m["D* (tokens)"] == "260.7B"  # below 1T: a B suffix, not "0.261T"
    table = at.dataframe[0].value
    lo, hi = (_count(v) for v in table["95% interval"].tolist()[0].strip("[]").split(", "))
    assert lo < 3.953e9 < hi  # the interval of N in the same B units as the value
