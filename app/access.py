"""Who may change the store from the browser (upload, label, delete), read defensively from Streamlit's sign-in.

Sign-in is on when Streamlit's ``st.login`` is configured (an ``[auth]`` section in ``secrets.toml``). Then only a
signed-in user whose e-mail is on the allow-list (a ``Settings`` field, see :func:`allow_list`) may write; with an
empty or absent allow-list any signed-in user may. With sign-in off the app is a local tool and anyone who can open
it may write (pages say so).
"""

from __future__ import annotations

import streamlit as st

#: Settings field names an allow-list may have (the sign-in slice owns the setting; read whichever exists):
#: comma-separated e-mails, "@domain" entries, "*" = every signed-in user.
_ALLOW_FIELDS = ("console_users", "allow_list", "allowlist", "allowed_emails", "allowed_users")


def signin_enabled() -> bool:
    """Whether ``st.login`` is configured for this app."""
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def user_email() -> str | None:
    """The signed-in user's e-mail, or None (signed out, sign-in off, or an older Streamlit)."""
    try:
        user = st.user
        if not getattr(user, "is_logged_in", False):
            return None
        email = user.get("email") if hasattr(user, "get") else getattr(user, "email", None)
        return str(email) if email else None
    except Exception:
        return None


def allow_list() -> set[str] | None:
    """Lower-cased e-mails allowed to write, from the first allow-list setting that exists; None when none does."""
    from app import cache

    settings = cache.settings()
    for name in _ALLOW_FIELDS:
        raw = getattr(settings, name, None)
        if raw is None:
            continue
        items = (
            raw if isinstance(raw, list | tuple | set | frozenset) else str(raw).replace(";", ",").split(",")
        )
        return {str(i).strip().lower() for i in items if str(i).strip()}
    return None


def _listed(email: str, allowed: set[str]) -> bool:
    e = email.lower()
    return "*" in allowed or e in allowed or any(a.startswith("@") and e.endswith(a) for a in allowed)


def may_write() -> tuple[bool, str]:
    """(allowed, why) for changing the store from this session; ``why`` is shown next to the controls."""
    if not signin_enabled():
        return (
            True,
            "Sign-in is off: anyone who can open this app may change the store (changes are audited).",
        )
    email = user_email()
    if email is None:
        return False, "Sign in to change the store."
    allowed = allow_list()
    if allowed is not None and not _listed(email, allowed):
        return False, f"{email} is not on the allow-list of people who may change the store."
    return True, f"Signed in as {email}; changes are recorded under this e-mail."


def actor() -> str:
    """Name recorded in the audit trail: the signed-in e-mail, else "app (no sign-in)"."""
    return user_email() or "app (no sign-in)"
