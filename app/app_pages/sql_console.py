"""SQL console: one read statement over the store in a sandboxed worker (time, memory, row and byte limits)."""

import streamlit as st

from app import cache, widgets
from app.services.records import js_safe
from data.sql_console import EXAMPLE_QUERY, QueryTimeout, SqlError, StatementRefused, run_sql

st.title("SQL console")
settings = cache.settings()
st.caption(
    f"Each query runs in its own worker process on a fresh, locked, read-only DuckDB instance: only one read "
    f"statement (SELECT, WITH, FROM, VALUES, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN) is accepted. The worker is "
    f"stopped after {settings.sql_timeout_s:g} s (SCALING_SQL_TIMEOUT_S) or {settings.sql_memory_mb:,} MiB "
    f"(SCALING_SQL_MEMORY_MB); results stop at {settings.sql_max_rows:,} rows (SCALING_SQL_MAX_ROWS) or "
    f"{settings.sql_max_bytes / 1e6:,.0f} MB (SCALING_SQL_MAX_BYTES). "
    "Query the public `v_*` views listed below; their names and columns are a stable interface."
)
with st.form("sql_console.form"):
    sql = st.text_area("SQL", EXAMPLE_QUERY, height=180, key="sql_console.sql")
    st.form_submit_button("Run query", type="primary")

db_path = cache.db_state()[0]
try:
    res = run_sql(
        db_path,
        sql,
        timeout_s=settings.sql_timeout_s,
        max_rows=settings.sql_max_rows,
        max_bytes=settings.sql_max_bytes,
        memory_mb=settings.sql_memory_mb,
    )
except QueryTimeout as e:
    st.error(f"Timed out: {e}. Aggregate in SQL or add a `where` / `limit`.")
except StatementRefused as e:
    st.error(f"Not run: {e}.")
except SqlError as e:
    st.error(f"Query failed: {e}")
except ValueError as e:
    st.error(f"Cannot run this: {e}.")
except Exception as e:  # the console must never raise into the page
    st.error(f"Query failed ({type(e).__name__}): {e}")
else:
    c1, c2 = st.columns(2)
    c1.metric("rows returned", f"{res.frame.height:,}")
    c2.metric("elapsed (s)", f"{res.elapsed_s:.3f}")
    if res.truncated:
        st.warning(
            f"Result truncated at {res.frame.height:,} rows: {res.truncated_reason}. Aggregate, filter or "
            "add a `limit`."
        )
    if res.frame.width == 0:
        st.info("The statement returned no result set.")
    else:
        frame, as_text = js_safe(res.frame)
        # beyond 2^53 the table widget flags even float cells, so such columns are text, right-aligned like numbers
        cfg = {c: st.column_config.TextColumn(alignment="right") for c in as_text}
        widgets.table(frame, "sql_result", data=res.frame, key="sql_console.result", column_config=cfg)
        if as_text:
            st.caption(
                f"Shown as text because they exceed 2^53, the largest number the table widget displays exactly "
                f"(floats in scientific notation with 6 significant digits, integers with every digit): "
                f"{', '.join(as_text)}. `scaling sql --csv` prints full values."
            )

st.subheader("Public views")
views = cache.service("app.services.records:public_views")
for row in views.iter_rows(named=True):
    st.markdown(f"- **`{row['view']}`**: {row['description']}")
with st.expander("Columns of each view"):
    widgets.table(views, "public_views", key="sql_console.views")
