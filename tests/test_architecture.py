"""Import-direction rules (ARCHITECTURE.md 2.1), checked on the source with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {
    "analysis": {"streamlit", "duckdb", "altair", "app", "data"},
    "data": {"streamlit", "altair", "analysis", "app"},
}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_point_one_way(package):
    files = sorted((REPO / package).rglob("*.py"))
    assert files, f"no python files under {package}/"
    bad = {str(f.relative_to(REPO)): sorted(imported_roots(f) & FORBIDDEN[package]) for f in files}
    assert {k: v for k, v in bad.items() if v} == {}


def test_pages_hold_no_sql_and_no_scipy():
    for page in sorted((REPO / "app" / "app_pages").glob("*.py")):
        roots = imported_roots(page)
        assert not roots & {"scipy", "duckdb"}, f"{page.name} imports {roots & {'scipy', 'duckdb'}}"
        text = page.read_text().upper()
        for kw in ("SELECT ", "INSERT ", "CREATE TABLE"):
            if kw in text and page.name != "sql_console.py":
                raise AssertionError(f"{page.name} contains SQL ({kw.strip()})")


def test_only_cache_module_uses_streamlit_caches():
    offenders = [
        str(p.relative_to(REPO))
        for p in (REPO / "app").rglob("*.py")
        if p.name != "cache.py" and ("st.cache_data" in p.read_text() or "st.cache_resource" in p.read_text())
    ]
    assert offenders == []


def test_sql_runs_only_in_the_data_layer():
    """No module outside data/ executes SQL (all SQL strings and connections are owned by data/)."""
    offenders = []
    for p in sorted((REPO / "app").rglob("*.py")) + sorted((REPO / "analysis").rglob("*.py")):
        tree = ast.parse(p.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                if node.func.attr in {"execute", "executemany", "sql"}:
                    offenders.append(f"{p.relative_to(REPO)}:{node.lineno}")
    assert offenders == []
