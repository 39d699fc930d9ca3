from data.connect import open_ro, open_rw
from data.migrate import migrate, migration_files


def test_migrate_twice_is_noop(tmp_path):
    db = tmp_path / "s.duckdb"
    con = open_rw(db)
    first = migrate(con)
    assert first == [f.name for f in migration_files()]
    assert migrate(con) == []
    names = [r[0] for r in con.execute("SELECT name FROM schema_migrations").fetchall()]
    assert sorted(names) == sorted(first) and len(names) == len(set(names))
    con.close()


def test_read_only_connection_refuses_insert(tmp_path):
    import duckdb
    import pytest

    db = tmp_path / "s.duckdb"
    con = open_rw(db)
    migrate(con)
    con.close()
    ro = open_ro(db)
    with pytest.raises(duckdb.Error, match="read-only"):
        ro.execute("INSERT INTO rejects VALUES (1, 'f', 1, 'x', 'y', now())")
    ro.close()


def test_open_ro_missing_file_names_the_path(tmp_path):
    import pytest

    with pytest.raises(FileNotFoundError, match="nope.duckdb"):
        open_ro(tmp_path / "nope.duckdb")
