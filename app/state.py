"""Session-state keys, namespaced by page, and the types of the widget values links carry.

A page's widget keys are ``"<page file stem>.<name>"`` (e.g. ``pretraining.source``). ``app.links`` puts them in the
URL query and restores them from it; text values need no declaration, other widget values (numbers, booleans,
multiselect lists) are carried only when their type is declared in :data:`URL_TYPES`.
"""

PRE_SOURCE = "pretraining.source"
PRE_CORPUS = "pretraining.corpus"
PRE_LAW = "pretraining.law"
PRE_BUDGET = "pretraining.budget_flops"

#: Widget keys whose value is not text: the type a link's string is converted to (``list`` = repeated values).
#: A key ending with "." declares every key under that prefix (widgets created in a loop).
URL_TYPES: dict[str, type] = {
    "compute_optimal.neighbors": int,
    "compute_optimal.lbfgs": bool,
    "rl.runs": list,
    "rl.transient_cut": float,
    "rl.target": float,
    "test_time.threshold": float,
    "test_time.mixing": bool,
    "test_time.target": float,
    "test_time.adapt_target": float,
    "test_time.split_half": bool,
    "runs.log_x": bool,
    "runs.log_y": bool,
    "runs.overlay": list,
    "budget.pre": float,
    "budget.rl_share": float,
    "budget.s0.pct": float,
    "budget.s0.qf": float,
    "budget.s1.pct": float,
    "budget.s1.qf": float,
    # prefixes (ending with "."): every key under them
    "budget.assume.": float,
    "budget.cost.": float,
}

#: Keys never put in a link (tables' selection state, buttons, editors, upload widgets).
URL_SKIP_PARTS = (".dl", ".table", ".prices", ".upload", ".result", ".views", "._")
