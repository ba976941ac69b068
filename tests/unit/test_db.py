import sqlite3

import pytest

from secondme.node.core.db import Database
from secondme.node.core.errors import SchemaTooNew
from secondme.node.core.migrations import MIGRATIONS


def test_new_database_is_migrated_and_in_wal_mode(tmp_path):
    db = Database(tmp_path / "node.db")
    assert db.schema_version == len(MIGRATIONS)
    assert db.query_one("PRAGMA journal_mode")[0] == "wal"
    db.close()
    again = Database(tmp_path / "node.db")  # reopening applies nothing twice
    assert again.query_one("SELECT COUNT(*) FROM schema_migrations")[0] == len(MIGRATIONS)


def test_newer_schema_is_refused_without_touching_it(tmp_path):
    path = tmp_path / "node.db"
    Database(path).close()
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO schema_migrations VALUES (999, 'future', 0)")
    conn.commit()
    conn.close()
    with pytest.raises(SchemaTooNew, match="newer secondme-node"):
        Database(path)
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT MAX(id) FROM schema_migrations").fetchone()[0] == 999


def test_failed_transaction_leaves_nothing(tmp_path):
    db = Database(tmp_path / "node.db")
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO settings VALUES ('a', '1')")
        raise RuntimeError("boom")
    assert db.get_setting("a") is None
    db.set_setting("a", "2")
    assert db.get_setting("a") == "2"
