"""Upload page and service: files ingested through the real ingest into the store (AppTest), size limit, zips,
reject report, and the sign-in allow-list gate read defensively."""

from __future__ import annotations

import io
import shutil
import zipfile

import pytest

from app import access
from app.services.upload import ingest_uploads
from data.connect import open_ro
from tests.app.conftest import run_page

TABLE = b"run_id,n_params,n_tokens,final_loss\nup-1,1e8,2e9,3.1\nup-2,-5,2e9,3.0\n"


@pytest.fixture
def db(demo_db, tmp_path, monkeypatch):
    dst = tmp_path / "store.duckdb"
    shutil.copy(demo_db, dst)
    monkeypatch.setenv("SCALING_DB", str(dst))
    monkeypatch.setenv("SCALING_BOOTSTRAP", "10")
    return dst


def _runs(db, source):
    con = open_ro(db)
    try:
        return con.execute("SELECT run_id FROM runs WHERE source = ? ORDER BY 1", [source]).fetchall()
    finally:
        con.close()


def test_upload_service_ingests_rejects_and_limits(db):
    res = ingest_uploads(db, [("my sweep.csv", TABLE)], "team-sweep", max_mb=1)
    assert res["counts"]["loaded"] == 1 and res["n_rejects"] == 1
    assert res["report"]["file"].to_list() == ["my_sweep.csv"]
    assert _runs(db, "team-sweep") == [("up-1",)]
    again = ingest_uploads(db, [("my sweep.csv", TABLE)], "team-sweep", max_mb=1)
    assert again["counts"]["unchanged"] == 1
    with pytest.raises(ValueError, match="the limit is 1e-05 MB"):
        ingest_uploads(db, [("x.csv", TABLE)], "s", max_mb=1e-5)
    with pytest.raises(ValueError, match="no file"):
        ingest_uploads(db, [], "s", max_mb=1)


def test_upload_zip_keeps_folders_and_refuses_escapes(db):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("logs/runs.csv", TABLE.replace(b"up-", b"zip-"))
    res = ingest_uploads(db, [("bundle.zip", buf.getvalue())], "zipped", max_mb=1)
    assert res["counts"]["loaded"] == 1 and res["report"]["file"][0] == "bundle/logs/runs.csv"
    assert _runs(db, "logs") == [("zip-1",)]  # source defaults to the file's folder
    bad = io.BytesIO()
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.csv", TABLE)
    with pytest.raises(ValueError, match="outside the archive"):
        ingest_uploads(db, [("evil.zip", bad.getvalue())], "s", max_mb=1)


def test_upload_page_ingests_a_file(db):
    at = run_page("app_pages/upload.py")
    assert not at.exception, at.exception
    assert at.title[0].value == "Upload run logs"
    assert any("Sign-in is off" in c.value for c in at.caption)
    # AppTest cannot drive st.file_uploader; the browser test uploads through the page (test_browser_workflow.py)


def test_gate_reads_signin_and_allow_list_defensively(monkeypatch):
    monkeypatch.setattr(access, "signin_enabled", lambda: True)
    monkeypatch.setattr(access, "user_email", lambda: None)
    assert access.may_write() == (False, "Sign in to change the store.")
    monkeypatch.setattr(access, "user_email", lambda: "Ann@Lab.org")
    monkeypatch.setattr(access, "allow_list", lambda: {"bob@lab.org"})
    ok, why = access.may_write()
    assert not ok and "not on the allow-list" in why
    monkeypatch.setattr(access, "allow_list", lambda: {"ann@lab.org"})
    assert access.may_write()[0]
    monkeypatch.setattr(access, "allow_list", lambda: {"@lab.org"})
    assert access.may_write()[0]
    monkeypatch.setattr(access, "allow_list", lambda: set())  # an empty list: nobody
    assert not access.may_write()[0]
    monkeypatch.setattr(access, "allow_list", lambda: {"*"})
    assert access.may_write()[0]
    monkeypatch.setattr(access, "allow_list", lambda: None)
    assert access.may_write()[0]  # no allow-list setting at all: any signed-in user
