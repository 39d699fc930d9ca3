"""Sign-in (identity, through Streamlit's OIDC ``st.login``) and the SQL console allow-list (authorisation).

Sign-in is on only when ``.streamlit/secrets.toml`` has an ``[auth]`` section (see ``.streamlit/secrets.toml.example``
and the Streamlit docs of ``st.login``); then every page asks for it. Who may open the SQL console is ours to decide:
``SCALING_CONSOLE_USERS`` lists e-mail addresses and ``@domain`` entries, ``*`` (default) lets everyone who can
open the app use it, an empty value turns the console off.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True)
class Access:
    """Whether the current user may use the SQL console, and why (shown to the user when not)."""

    allowed: bool
    reason: str


def parse_allow_list(text: str) -> tuple[str, ...]:
    """Entries of ``SCALING_CONSOLE_USERS``: comma- or whitespace-separated, lower-cased, empty ones dropped.

    ``"alice@lab.org, @Team.org"`` -> ``("alice@lab.org", "@team.org")``; ``"*"`` -> ``("*",)``.

    Raises
    ------
    ValueError
        If an entry is neither ``*``, an e-mail address (``name@domain``) nor ``@domain`` (the message names it).
    """
    out = []
    for raw in text.replace(",", " ").split():
        e = raw.strip().lower()
        if e == "*":
            out.append(e)
            continue
        local, at, domain = e.rpartition("@")
        if not at or not domain or "." not in domain or " " in e or local.count("@"):
            raise ValueError(
                f"SCALING_CONSOLE_USERS: {raw!r} is not an e-mail address or @domain (e.g. alice@lab.org, @lab.org)"
            )
        out.append(e)
    return tuple(out)


def console_access(
    allow_list: tuple[str, ...], *, sign_in: bool, email: str | None, email_verified: bool | None = None
) -> Access:
    """Decide whether a user may use the SQL console.

    Parameters
    ----------
    allow_list : tuple of str
        From :func:`parse_allow_list`: ``("*",)`` = everyone who can open the app; ``()`` = nobody; otherwise
        exact addresses and ``@domain`` entries (a domain matches its own addresses only, not subdomains).
    sign_in : bool
        Whether sign-in is configured (an ``[auth]`` section exists). Without it nobody is identified, so only
        ``*`` lets anyone in.
    email : str or None
        The signed-in user's e-mail claim (None when not signed in).
    email_verified : bool or None
        The provider's ``email_verified`` claim when it sends one; an unverified address is refused.

    Returns
    -------
    Access
    """
    if "*" in allow_list:
        return Access(True, "everyone who can open the app may use it")
    if not allow_list:
        return Access(False, "turned off on this server (SCALING_CONSOLE_USERS is empty)")
    if not sign_in:
        return Access(
            False,
            "limited to listed users, and this server has no sign-in configured ([auth] in .streamlit/secrets.toml)",
        )
    if not email:
        return Access(False, "sign in to use it")
    if email_verified is False:
        return Access(False, f"{email} is not verified by the sign-in provider")
    e = email.strip().lower()
    if e in allow_list or any(a.startswith("@") and e.endswith(a) for a in allow_list):
        return Access(True, f"{email} is on the console allow-list")
    return Access(False, f"{email} is not on the allow-list (SCALING_CONSOLE_USERS)")


def sign_in_configured() -> bool:
    """True when ``.streamlit/secrets.toml`` (or the app's secrets) has an ``[auth]`` section."""
    try:
        return bool(st.secrets.get("auth"))
    except Exception:  # no secrets file at all: Streamlit raises on access
        return False


def current_email() -> tuple[str | None, bool | None]:
    """(e-mail, email_verified claim or None) of the signed-in user; (None, None) when nobody is signed in."""
    user = st.user
    if not user.get("is_logged_in", False):
        return None, None
    verified = user.get("email_verified")
    return user.get("email"), (None if verified is None else bool(verified))


def current_console_access(allow_text: str) -> Access:
    """:func:`console_access` for the current session (the settings' allow-list text, st.user, st.secrets)."""
    try:
        allow = parse_allow_list(allow_text)
    except ValueError as e:
        return Access(False, str(e))
    email, verified = current_email()
    return console_access(allow, sign_in=sign_in_configured(), email=email, email_verified=verified)


def authlib_installed() -> bool:
    """True when Authlib (which ``st.login`` needs, Streamlit >= 1.42) can be imported; nothing is imported."""
    return importlib.util.find_spec("authlib") is not None


def sign_in_wall() -> bool:
    """When sign-in is configured: sidebar identity and sign-out, or a sign-in screen. True if the page may run.

    With an ``[auth]`` section but no Authlib installed, ``st.login`` would raise StreamlitMissingAuthlibError
    (a traceback page); the screen says how to fix it instead and the app stays closed.
    """
    if not sign_in_configured():
        return True
    if not st.user.get("is_logged_in", False):
        st.title("Sign in")
        st.write("This dashboard is shared inside the team: sign in to continue.")
        if not authlib_installed():
            st.error(
                "Sign-in is configured (an [auth] section in .streamlit/secrets.toml) but Authlib, which "
                "Streamlit's st.login needs, is not installed: the server admin should run "
                '`pip install -e ".[auth]"` and restart `scaling serve`.'
            )
            return False
        st.button("Sign in", type="primary", on_click=st.login, key="auth.login")
        return False
    with st.sidebar:
        st.caption(f"Signed in as {st.user.get('email') or st.user.get('name') or 'unknown'}")
        st.button("Sign out", on_click=st.logout, key="auth.logout")
    return True
