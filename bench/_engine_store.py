"""The engine benchmark's own copy of the 10M bench rows (bench/_common.py), in bench/.data-engine/.

chDB lets one process hold a data directory, and the other benchmarks hold bench/.data/store while they
run; this copy is loaded from the same ``rows.parquet`` (same rows, same anchor time), so the engine can
be measured next to them. Generated first by bench/_common.py when the parquet file is missing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from _common import META, PARQUET, TARGET, Dataset, _load_parquet, _wait_for_merges, schema_fingerprint

from logs_mcp.store.clickhouse import LogStore

BENCH_DIR = Path(__file__).resolve().parent
ENGINE_DATA_DIR = BENCH_DIR / ".data-engine"
ENGINE_META = ENGINE_DATA_DIR / "meta.json"


def open_engine_store(rows: int) -> tuple[LogStore, Dataset]:
    """The engine bench's log store holding the ``rows`` generated rows, loaded once."""
    source = _source_meta(rows)
    wanted = {"rows": rows, "end": source["end"], "schema": schema_fingerprint()}
    loaded = _read(ENGINE_META)
    if loaded != wanted:
        shutil.rmtree(ENGINE_DATA_DIR, ignore_errors=True)
    store = LogStore.open(url=None, data_dir=ENGINE_DATA_DIR / "store", target=TARGET, pool_size=4)
    if loaded != wanted:
        store.migrate()
        started = time.perf_counter()
        _load_parquet(store)
        _wait_for_merges(store)
        print(f"loaded {rows:,} rows into {ENGINE_DATA_DIR.name} in {time.perf_counter() - started:.0f} s")
        ENGINE_META.write_text(json.dumps(wanted))
    return store, Dataset(rows, datetime.fromisoformat(str(source["end"])))


def _source_meta(rows: int) -> dict[str, object]:
    meta = _read(META)
    if meta.get("rows") != rows or not PARQUET.exists():
        # bench/_common.py generates the rows (and its own store) in a process of its own.
        code = "import sys; from _common import open_store; open_store(int(sys.argv[1]))[0].close()"
        subprocess.run([sys.executable, "-c", code, str(rows)], cwd=BENCH_DIR, check=True)
        meta = _read(META)
    return meta


def _read(path: Path) -> dict[str, object]:
    try:
        meta: dict[str, object] = json.loads(path.read_text())
        return meta
    except (OSError, ValueError):
        return {}
