"""Time-to-ready of ``logs-mcp serve`` on a populated data directory, and the first requests after it.

    .venv/bin/python bench/startup.py [--records 300000] [--batch 15000] [--restarts 5] [--data-dir DIR]

Ready means all three faces answer: the script starts ``logs-mcp serve --no-demo`` as a subprocess, times
it until ``/healthz`` answers, then times a REST query (``POST .../logs/query``) and an MCP session
(initialize and one ``logs-count`` tool call, official client over streamable HTTP) sent right after.
It also reads the server's CPU time at ready, the whole process and its main thread: the main thread's
is the start's critical path, and moves less than wall time on a loaded machine.

The data directory is filled once, like bench/ingest.py's: a project made by the CLI, ``--records`` OTLP
records posted to a real server; ``--data-dir`` keeps it for later runs (it is reused when it holds a
``bench-startup.json`` from an earlier run). The load average is printed at the start and the end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import anyio
import httpx
import httpx2
from ingest import (
    DISTINCT_REQUESTS,
    LOGS_MCP,
    build_request,
    create_project,
    load_average,
    post_all,
    start_server,
)
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

CREDENTIALS_FILE = "bench-startup.json"


@dataclass(frozen=True)
class Credentials:
    project_id: int
    api_key: str


@dataclass(frozen=True)
class Start:
    ready_seconds: float
    rest_seconds: float
    mcp_seconds: float
    cpu_seconds: float
    main_thread_cpu_seconds: float


def populate(data_dir: Path, records: int, batch: int) -> Credentials:
    """A project, ``records`` records stored through a real server, and a read key; reused if present."""
    saved = data_dir / CREDENTIALS_FILE
    if saved.exists():
        return Credentials(**json.loads(saved.read_text()))
    project_id, token = create_project(data_dir)
    now_ns = time.time_ns()
    payloads = [
        build_request(variant, batch, now_ns).SerializeToString() for variant in range(DISTINCT_REQUESTS)
    ]
    server = start_server(data_dir, data_dir.parent / "populate.log")
    try:
        post_all(server.url, token, payloads, records // batch, clients=2)
    finally:
        server.stop()
    created = subprocess.run(
        [LOGS_MCP, "keys", "create", "--project", str(project_id), "--json", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
    ).stdout
    credentials = Credentials(project_id, json.loads(created)["key"])
    saved.write_text(json.dumps({"project_id": project_id, "api_key": credentials.api_key}))
    return credentials


def cpu_seconds(pid: int, task: int) -> float:
    """User plus system CPU time of a process (``task == pid``: its main thread alone, else all)."""
    path = f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat"
    fields = Path(path).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_start(data_dir: Path, credentials: Credentials) -> Start:
    server = start_server(data_dir, data_dir.parent / "serve.log")
    try:
        pid = server.process.pid
        cpu, main_thread_cpu = cpu_seconds(pid, 0), cpu_seconds(pid, pid)
        begun = time.perf_counter()
        answer = httpx.post(
            f"{server.url}/api/projects/{credentials.project_id}/logs/query",
            json={"query": {"dateRange": {"date_from": "-7d"}, "limit": 10}},
            headers={"Authorization": f"Bearer {credentials.api_key}"},
            timeout=60,
        )
        answer.raise_for_status()
        rest = time.perf_counter() - begun
        begun = time.perf_counter()
        anyio.run(count_over_mcp, server.url, credentials.api_key)
        mcp = time.perf_counter() - begun
    finally:
        server.stop()
    return Start(server.ready_seconds, rest, mcp, cpu, main_thread_cpu)


async def count_over_mcp(url: str, api_key: str) -> None:
    async with (
        httpx2.AsyncClient(headers={"Authorization": f"Bearer {api_key}"}, timeout=60) as http,
        Client(streamable_http_client(f"{url}/mcp", http_client=http)) as client,
    ):
        result = await client.call_tool("logs-count", {"date_from": "-7d"})
    if result.is_error:
        raise SystemExit(f"logs-count over MCP failed: {result.content}")


def summary(values: Sequence[float]) -> str:
    return f"median {statistics.median(values):.2f} s ({', '.join(f'{value:.2f}' for value in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=15_000, help="records per request while filling")
    parser.add_argument("--restarts", type=int, default=5)
    parser.add_argument("--data-dir", type=Path, help="keep (or reuse) the populated directory here")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="logs-mcp-startup-")) / "data"
    print(f"load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} cores")
    credentials = populate(data_dir, args.records, args.batch)
    starts = [timed_start(data_dir, credentials) for _ in range(args.restarts)]
    print(f"logs-mcp serve on {data_dir}, {args.restarts} starts:")
    print(f"  time to /healthz                     {summary([s.ready_seconds for s in starts])}")
    print(f"  then a REST query                    {summary([s.rest_seconds for s in starts])}")
    print(f"  then an MCP session (init + 1 call)  {summary([s.mcp_seconds for s in starts])}")
    print(f"  server CPU time at ready             {summary([s.cpu_seconds for s in starts])}")
    print(f"    of it the main thread              {summary([s.main_thread_cpu_seconds for s in starts])}")
    print(f"load average at the end: {load_average()}")


if __name__ == "__main__":
    main()
