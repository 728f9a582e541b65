"""Opening the embedded log store from settings, in a fresh process: migrated, and without pyarrow."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from logs_mcp.store.log_schema import MIGRATIONS

OPEN_AND_REPORT = """
import json, sys
from pathlib import Path
from logs_mcp.config import Settings
from logs_mcp.log_store import open_log_store

store = open_log_store(Settings(data_dir=Path(sys.argv[1]), port=0))
try:
    table = store.target.table("schema_migrations")
    versions = sorted(row[0] for row in store.query(f"SELECT version FROM {table}").rows)
    imported = [name for name in ("pyarrow", "numpy") if name in sys.modules]
    print(json.dumps({"versions": versions, "imported": imported}))
finally:
    store.close()
"""


def test_opening_the_embedded_store_migrates_it_and_imports_neither_pyarrow_nor_numpy(tmp_path: Path) -> None:
    """chDB would import them (~0.3 s of every start) for Arrow formats the store never asks for."""
    opened = subprocess.run(
        [sys.executable, "-c", OPEN_AND_REPORT, str(tmp_path)], capture_output=True, text=True, timeout=120
    )

    assert opened.returncode == 0, opened.stderr
    report = json.loads(opened.stdout)
    assert report == {"versions": [version for version, _name, _migration in MIGRATIONS], "imported": []}
