"""Links that reproduce a view: every page's widget selections live in the URL query (``st.query_params``).

The entrypoint calls :func:`run_page` instead of ``page.run()``. Before the page runs, the widget keys of that
page (``"<page>.<widget>"``, see ``app.state``) are restored into ``st.session_state`` from the URL -- or, when the
URL has none (a page switch through the navigation clears the query), from what this session last selected on
that page. After it ran (also after ``st.stop()``), the values of the page's widgets are written back to the URL.

Invalid or stale parameters never raise: a value of the wrong type is dropped before the page runs, one the
widget does not offer (a selectbox option that no longer exists) is replaced by the widget's default, a key no
widget uses is removed, and if the page still fails with restored values it is rerun with its defaults; each
case leaves a note (``st.toast`` and a caption in the sidebar).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from urllib.parse import urlencode

import streamlit as st

from app.state import URL_SKIP_PARTS, URL_TYPES

_META = "_links"  # {"saved": {page: {key: value}}, "last": page, "notes": [...]} (a plain dict, see run_page)
#: Query parameters Streamlit itself reads; never touched.
_RESERVED = {"embed", "embed_options"}


def _namespace(page) -> str:
    """Key prefix of a page: its URL path (the page file's stem), or "overview" for the default page."""
    path = getattr(page, "url_path", "") or ""
    return (path or "overview") + "."


def url_type(key: str) -> type | None:
    """The declared type of a widget key (exact, or the longest declared prefix ending with "."), else None."""
    if key in URL_TYPES:
        return URL_TYPES[key]
    prefixes = [p for p in URL_TYPES if p.endswith(".") and key.startswith(p)]
    return URL_TYPES[max(prefixes, key=len)] if prefixes else None


def _linkable(key: str, value) -> bool:
    if any(part in key for part in URL_SKIP_PARTS):
        return False
    want = url_type(key)
    if want is not None:
        if want is list:
            return isinstance(value, list | tuple) and all(isinstance(v, str | int | float) for v in value)
        if want is float:
            return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        return isinstance(value, want)
    return isinstance(value, str)


def decode(key: str, raw: list[str]) -> tuple[bool, object]:
    """(ok, value) of query parameter ``key`` given all its values ``raw`` (strings), coerced to its widget type.

    Text keys take the last value; ``URL_TYPES`` keys become int, float (finite), bool ("true"/"false") or a list.
    Returns (False, reason) when the text cannot be converted.
    """
    want = url_type(key) or str
    if want is list:
        return True, [v for v in raw if v != ""]
    text = raw[-1] if raw else ""
    if want is str:
        return True, text
    try:
        if want is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError
            return True, text.lower() in ("true", "1")
        value = want(text)
        if want is float and not math.isfinite(value):
            raise ValueError
        return True, value
    except ValueError:
        return False, f"{key}={text!r} is not a {want.__name__}"


def encode(value) -> str | list[str]:
    """Query text of a widget value (inverse of :func:`decode`)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    if isinstance(value, float):
        return repr(value)
    return str(value)


def _meta() -> dict:
    return st.session_state.setdefault(_META, {"saved": {}, "last": None, "notes": []})


def _rendered(ns: str, state: dict) -> set[str] | None:
    """User keys of the page's widgets created in this run (None if Streamlit does not expose them)."""
    try:
        from streamlit.runtime.scriptrunner_utils.script_run_context import get_script_run_ctx

        keys = get_script_run_ctx().shared.widget_user_keys_this_run
        return {k for k in state if k.startswith(ns) and k in keys}
    except Exception:  # internal API moved: treat every key in session state as rendered
        return None


def _restore(ns: str, meta: dict) -> dict[str, object]:
    """Put the page's selections into session state before it runs; returns what was restored."""
    params = st.query_params
    from_url = {k: params.get_all(k) for k in params.keys() if k.startswith(ns)}
    restored: dict[str, object] = {}
    if from_url:
        for key, raw in from_url.items():
            ok, value = decode(key, raw)
            if ok:
                restored[key] = value
            else:
                meta["notes"].append(f"Ignored link parameter {value}; the default is shown.")
    else:
        restored = dict(meta["saved"].get(ns, {}))
    for key, value in restored.items():
        st.session_state[key] = value
    return restored


def _write_back(ns: str, restored: dict[str, object], meta: dict, stopped: bool = False) -> dict[str, object]:
    """After the page ran: drop and note unusable parameters, remember the selections; returns them.

    After ``st.stop()`` Streamlit raises on any further session-state item access, so this reads the state
    through ``to_dict()`` and writes only into ``meta`` (a dict fetched before the run); widgets below the stop
    were not created, so their restored values are kept rather than dropped.
    """
    state = st.session_state.to_dict()
    rendered = _rendered(ns, state)
    current = {
        k: v
        for k, v in state.items()
        if k.startswith(ns) and (rendered is None or k in rendered) and _linkable(k, v)
    }
    for key, value in restored.items():
        if rendered is not None and key not in rendered:
            if stopped:
                if _linkable(key, value):
                    current[key] = value
                continue
            meta["notes"].append(f"Link parameter {key} is not used by this page (any more) and was dropped.")
            if key in state:
                del st.session_state[key]
        elif key in current and current[key] != value and not isinstance(value, list):
            meta["notes"].append(
                f"Link parameter {key}={value!r} is not available here; showing {current[key]!r}."
            )
    meta["saved"][ns] = dict(current)
    meta["last"] = ns
    return current


def _publish(current: dict[str, object]) -> None:
    """Write the selections to the URL query (only when they changed: each write is a message to the browser)."""
    wanted = {k: encode(v) for k, v in sorted(current.items())}
    keep = {k: st.query_params.get_all(k) for k in st.query_params.keys() if k in _RESERVED}
    have = {k: st.query_params.get_all(k) for k in st.query_params.keys() if k not in _RESERVED}
    as_lists = {k: v if isinstance(v, list) else [v] for k, v in wanted.items()}
    if have != as_lists:
        st.query_params.from_dict({**keep, **wanted})


def query_string() -> str:
    """The current page's selections as a URL query string ("" when there are none)."""
    pairs = []
    for k in st.query_params.keys():
        for v in st.query_params.get_all(k):
            pairs.append((k, v))
    return urlencode(pairs)


def link_box() -> None:
    """Sidebar "Link to this view": the full URL with the page's selections, in a box with a copy button."""
    base = None
    try:
        base = st.context.url
    except Exception:  # outside a browser session (AppTest)
        base = None
    qs = query_string()
    url = (base or "") + (("?" + qs) if qs else "")
    with st.sidebar:
        st.caption("Link to this view (copy with the button at the right of the box):")
        # a short scrolling box: long links (many selections) do not push the sidebar down; copy takes all of it
        st.code(
            url or "(no selections)",
            language=None,
            wrap_lines=True,
            height="content" if len(url) < 160 else 150,
        )


def show_notes(meta: dict) -> None:
    """Toast and caption every note left while restoring link parameters (then forget them)."""
    notes, meta["notes"] = meta["notes"], []
    for text in notes:
        st.toast(text, icon=":material/link_off:")
    if notes:
        with st.sidebar:
            st.caption("  \n".join(notes))


def run_page(page, run: Callable[[], None] | None = None) -> None:
    """Run ``page`` (an ``st.navigation`` result) with its selections restored from and written to the URL.

    Selections are restored on the first run of a page in a session or after a switch from another page (later
    reruns leave the widgets alone). ``run`` replaces ``page.run`` (tests).

    Raises
    ------
    Exception
        Whatever the page raises when no link parameter was restored (a real bug is not hidden).
    """
    ns = _namespace(page)
    meta = _meta()
    restored = _restore(ns, meta) if meta["last"] != ns else {}
    try:
        (run or page.run)()
    except Exception:
        if not restored:
            raise
        for key in restored:
            st.session_state.pop(key, None)
        meta["saved"].pop(ns, None)
        meta["last"] = ns
        st.query_params.clear()
        meta["notes"].append(
            "This page could not use the selections in the link ("
            + ", ".join(sorted(restored))
            + "); it shows its defaults."
        )
        st.rerun()
    except BaseException:
        # st.stop() / st.rerun() in the page: remember the selections; after a stop Streamlit accepts no more
        # messages in this run, so the URL is brought up to date by the next run that completes
        _write_back(ns, restored, meta, stopped=True)
        raise
    _publish(_write_back(ns, restored, meta))
    link_box()
    show_notes(meta)
