"""Pure scaling-law analysis: numpy, scipy and polars only (no streamlit, duckdb or altair).

Submodules hold one job each; import them directly, e.g. ``from analysis import chinchilla``.
"""
