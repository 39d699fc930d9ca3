"""Links that reproduce a view: selections go to the URL query, come back from it, survive page switches, and bad
parameters fall back to defaults with a note (AppTest on the bundled samples)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from app import links
from tests.app.conftest import ENTRYPOINT


def _fresh(page: str, params: dict) -> AppTest:
    at = AppTest.from_file(ENTRYPOINT, default_timeout=120)
    for k, v in params.items():
        at.query_params[k] = v
    at.switch_page(page)
    at.run()
    return at


def _notes(at) -> str:
    return " ".join(t.value for t in at.toast)


def test_encode_decode_round_trip():
    assert links.decode("rl.transient_cut", [links.encode(0.25)]) == (True, 0.25)
    assert links.decode("compute_optimal.lbfgs", [links.encode(True)]) == (True, True)
    assert links.decode("compute_optimal.neighbors", ["3"]) == (True, 3)
    assert links.decode("rl.runs", links.encode(["a", "b"])) == (True, ["a", "b"])
    assert links.decode("pretraining.budget_flops", ["1e23"]) == (True, "1e23")  # text stays text
    assert links.decode("budget.assume.anything", ["0.5"]) == (True, 0.5)  # declared by prefix
    ok, why = links.decode("rl.transient_cut", ["nan"])
    assert not ok and "rl.transient_cut" in why


def test_selection_goes_to_url_and_a_fresh_session_reproduces_it(app_env):
    at = _fresh("app_pages/pretraining.py", {})
    at.selectbox(key="pretraining.source").select("gadre_overtraining").run()
    at.selectbox(key="pretraining.corpus").select("rpj").run()
    at.text_input(key="pretraining.budget_flops").input("5.76e23").run()
    assert not at.exception
    params = dict(at.query_params)
    assert params["pretraining.source"] == "gadre_overtraining"
    assert params["pretraining.corpus"] == "rpj"
    assert params["pretraining.budget_flops"] == "5.76e23"
    tiles = {m.label: m.value for m in at.metric}

    again = _fresh("app_pages/pretraining.py", params)  # "the link pasted in a new browser"
    assert not again.exception
    assert again.selectbox(key="pretraining.source").value == "gadre_overtraining"
    assert again.selectbox(key="pretraining.corpus").value == "rpj"
    assert again.text_input(key="pretraining.budget_flops").value == "5.76e23"
    assert {m.label: m.value for m in again.metric} == tiles  # same numbers: the same view
    assert _notes(again) == ""


def test_selections_survive_a_page_switch(app_env):
    at = _fresh("app_pages/pretraining.py", {})
    at.selectbox(key="pretraining.source").select("gadre_overtraining").run()
    at.switch_page("app_pages/fits.py").run()
    assert not at.exception
    at.switch_page("app_pages/pretraining.py").run()
    assert at.selectbox(key="pretraining.source").value == "gadre_overtraining"
    assert at.query_params["pretraining.source"] == "gadre_overtraining"


def test_unknown_and_stale_parameters_fall_back_with_a_note(app_env):
    at = _fresh(
        "app_pages/pretraining.py",
        {"pretraining.source": "no_such_sweep", "pretraining.bogus": "1", "other_page.x": "y"},
    )
    assert not at.exception
    source = at.selectbox(key="pretraining.source")
    assert source.value == source.options[0]  # the default
    notes = _notes(at)
    assert "pretraining.source='no_such_sweep' is not available" in notes
    assert "pretraining.bogus is not used" in notes
    assert "pretraining.bogus" not in at.query_params


def test_wrong_type_and_out_of_range_values_never_raise(app_env):
    at = _fresh("app_pages/rl.py", {"rl.transient_cut": "lots", "rl.target": "0.7"})
    assert not at.exception
    assert at.number_input(key="rl.transient_cut").value == 0.1  # default
    assert at.number_input(key="rl.target").value == 0.7
    assert "is not a float" in _notes(at)

    at = _fresh("app_pages/rl.py", {"rl.transient_cut": "5"})  # outside the widget's [0, 0.9]
    assert not at.exception
    assert at.number_input(key="rl.transient_cut").value == 0.1
    assert "rl.transient_cut=5.0 is not available" in _notes(at)


_PAGES = re.findall(r'"app_pages/(\w+)\.py"', Path(ENTRYPOINT).read_text())
_WIDGETS = ("selectbox", "radio", "multiselect", "number_input", "text_input", "text_area", "checkbox")


@pytest.mark.parametrize("stem", _PAGES)
def test_every_widget_has_a_key_in_its_page_namespace(app_env, stem):
    """Only keyed widgets can be put in a link; the page's namespace keeps links of different pages apart."""
    at = _fresh(f"app_pages/{stem}.py", {})
    assert not at.exception, at.exception
    keys = [(kind, w.label, w.key) for kind in _WIDGETS for w in getattr(at, kind)]
    assert [k for k in keys if not (k[2] or "").startswith(f"{stem}.")] == []


def test_budget_page_numbers_round_trip_through_the_link(app_env):
    """Numeric widgets (declared in app.state.URL_TYPES, some by prefix) come back from a link as numbers."""
    at = _fresh("app_pages/budget.py", {"budget.pre": "40.0", "budget.queries": "1e8"})
    assert not at.exception, at.exception
    assert at.slider(key="budget.pre").value == 40.0
    assert at.text_input(key="budget.queries").value == "1e8"
    assert at.query_params["budget.pre"] == "40.0"
    sliders = [s for s in at.slider if s.key.startswith("budget.assume.")]
    if sliders:
        key, lo = sliders[0].key, sliders[0].min
        again = _fresh("app_pages/budget.py", {key: repr(float(lo))})
        assert not again.exception, again.exception
        assert again.slider(key=key).value == float(lo)
