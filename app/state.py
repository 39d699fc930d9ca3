"""Session-state keys, namespaced by page."""

PRE_SOURCE = "pretraining.source"
PRE_CORPUS = "pretraining.corpus"
PRE_LAW = "pretraining.law"
PRE_BUDGET = "pretraining.budget_flops"
