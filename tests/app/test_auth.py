"""Sign-in and the SQL console allow-list: who may open the console, and that the navigation enforces it."""

from __future__ import annotations

import pytest

from app.auth import console_access, parse_allow_list
from tests.app.conftest import ENTRYPOINT

AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "test-only",
    "client_id": "x",
    "client_secret": "y",
    "server_metadata_url": "https://idp.invalid/.well-known/openid-configuration",
}


def test_parse_allow_list():
    assert parse_allow_list("Alice@Lab.org, @team.org  bob@x.io") == (
        "alice@lab.org",
        "@team.org",
        "bob@x.io",
    )
    assert parse_allow_list("*") == ("*",)
    assert parse_allow_list("  ") == ()
    for bad in ("alice", "@nodot", "a@b@c.org"):
        with pytest.raises(ValueError, match="SCALING_CONSOLE_USERS"):
            parse_allow_list(bad)


@pytest.mark.parametrize(
    ("allow", "sign_in", "email", "verified", "allowed"),
    [
        ("*", False, None, None, True),  # default: everyone who can open the app
        ("", True, "alice@lab.org", True, False),  # console off
        ("alice@lab.org", False, None, None, False),  # a list needs sign-in
        ("alice@lab.org", True, None, None, False),  # not signed in
        ("alice@lab.org", True, "ALICE@lab.org", None, True),  # case-insensitive
        ("alice@lab.org", True, "alice@lab.org", False, False),  # unverified address
        ("@lab.org", True, "carol@lab.org", True, True),  # domain entry
        ("@lab.org", True, "eve@evil-lab.org", True, False),  # not a suffix trick
        ("@lab.org", True, "eve@sub.lab.org", True, False),  # no subdomains
        ("alice@lab.org, @team.org", True, "bob@lab.org", True, False),
    ],
)
def test_console_access(allow, sign_in, email, verified, allowed):
    a = console_access(parse_allow_list(allow), sign_in=sign_in, email=email, email_verified=verified)
    assert a.allowed is allowed
    assert a.reason


def _app(monkeypatch, app_env, users: str, *, secrets=None, user=None):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("SCALING_CONSOLE_USERS", users)
    at = AppTest.from_file(ENTRYPOINT, default_timeout=60)
    if secrets:
        at.secrets["auth"] = secrets
    if user is not None:
        at.user = user
    at.run()
    return at


def _console_opens(at) -> bool:
    try:
        at.switch_page("app_pages/sql_console.py")
    except ValueError as e:  # not registered in st.navigation, so no URL reaches it
        assert "Could not find a navigation page" in str(e)
        return False
    at.run()
    assert not at.exception
    return bool(at.title) and at.title[0].value == "SQL console"


def test_console_open_by_default(monkeypatch, app_env):
    at = _app(monkeypatch, app_env, "*")
    assert not at.exception
    assert _console_opens(at)


def test_listed_console_without_sign_in_is_not_reachable(monkeypatch, app_env):
    at = _app(monkeypatch, app_env, "alice@lab.org")
    assert not at.exception
    assert any("SQL console unavailable" in c.value for c in at.sidebar.caption)
    assert not _console_opens(at)


def test_sign_in_screen_when_auth_is_configured(monkeypatch, app_env):
    import app.auth

    monkeypatch.setattr(app.auth, "authlib_installed", lambda: True)
    at = _app(monkeypatch, app_env, "*", secrets=AUTH, user={"is_logged_in": False})
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    assert at.button(key="auth.login")
    assert not at.metric  # no page ran


@pytest.mark.parametrize(("email", "allowed"), [("alice@lab.org", True), ("mallory@lab.org", False)])
def test_signed_in_user_gets_the_console_only_when_listed(monkeypatch, app_env, email, allowed):
    user = {"is_logged_in": True, "email": email, "email_verified": True}
    at = _app(monkeypatch, app_env, "alice@lab.org", secrets=AUTH, user=user)
    assert not at.exception
    assert any(email in c.value for c in at.sidebar.caption)
    assert _console_opens(at) is allowed


def test_sign_in_without_authlib_says_so_instead_of_crashing(monkeypatch, app_env):
    """[auth] configured but Authlib missing: st.login raised StreamlitMissingAuthlibError (a traceback page)."""
    import app.auth

    monkeypatch.setattr(app.auth, "authlib_installed", lambda: False, raising=False)
    at = _app(monkeypatch, app_env, "*", secrets=AUTH, user={"is_logged_in": False})
    assert not at.exception
    for button in at.button:
        if button.key == "auth.login":
            button.click()
            at.run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Sign in"]
    assert any("Authlib" in e.value and ".[auth]" in e.value for e in at.error)
    assert not at.metric  # the app stays closed
