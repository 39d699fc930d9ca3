"""No module under app/ passes Python callbacks to polars (issue 8: they deadlock a served app).

``map_elements`` / ``map_rows`` / ``map_batches`` / ``map_groups`` / ``apply`` run a Python function from polars'
thread pool; in a served Streamlit app another script thread can hold the GIL while waiting on that pool, and the
whole server stops (health check included). Pages format with ``app.fmt`` / ``st.column_config`` instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"map_elements", "map_rows", "map_batches", "map_groups", "apply", "map_dict"}


def _offenders(root: Path, base: Path = REPO) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            name = None
            if isinstance(node, ast.Attribute) and node.attr in FORBIDDEN:
                name = node.attr
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr":
                args = node.args
                if len(args) >= 2 and isinstance(args[1], ast.Constant) and args[1].value in FORBIDDEN:
                    name = args[1].value
            if name:
                found.append(f"{path.relative_to(base)}:{node.lineno}: {name}")
    return found


def test_app_uses_no_polars_python_callbacks():
    assert _offenders(REPO / "app") == []


def test_the_check_catches_a_callback(tmp_path):
    (tmp_path / "bad.py").write_text(
        "import polars as pl\nx = pl.col('a').map_elements(str)\ny = getattr(pl.col('a'), 'map_rows')\n"
    )
    found = sorted(f.split(": ")[-1] for f in _offenders(tmp_path, tmp_path))
    assert found == ["map_elements", "map_rows"]
