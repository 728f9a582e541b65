"""OTLP/HTTP ingest benchmark: protobuf requests into a real ``logs-mcp serve`` on embedded chDB, by
the native path (ClickHouse maps the request) and by the Python path (``LogIngest.to_columns``).

    .venv/bin/python bench/ingest.py [--records 1000000] [--batch 5000] [--clients 2]

1. For each path, on a fresh data directory with a project made by the CLI: starts a server as a
   subprocess (``logs-mcp serve --no-demo`` itself, which takes the native path from
   ``NATIVE_MIN_RECORDS`` records a request; and the same services and app started by this script
   with ``--serve-path native|python``, as ``serve`` does, with ``LogIngest`` forced to one path), then
   posts pre-encoded ExportLogsServiceRequests (client encoding is not timed) from ``--clients``
   threads until ``--records`` records are stored. Every answer must be 200, which the server sends
   only once the rows are stored. Prints records/s end to end and the server's peak RSS (VmHWM from
   /proc: the server process alone).
2. Restarts ``logs-mcp serve`` on its data directory and times it until ``/healthz`` answers
   (time-to-ready), a few times.
3. Opens that store in this process, checks that every record is there, and times
   the engine's own columnar insert (``LogStore.insert_columns``) of the same rows, pre-built, from as
   many threads: the ceiling end-to-end ingest is compared with. Then the share of the attribute
   rollup views in insert time: the columnar insert and the native insert (``otlp_native``, in
   process) into the logs table and into a copy of it without the views.

The machine's load average is printed at the start and the end: on a shared machine the figures move
with it.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, InstrumentationScope, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from logs_mcp.app import build_asgi_app, build_services
from logs_mcp.config import Settings
from logs_mcp.logs.ingest import LogIngest
from logs_mcp.store import otlp_native
from logs_mcp.store.log_schema import LOGS_TABLE

LOGS_MCP = str(Path(sys.executable).with_name("logs-mcp"))
DISTINCT_REQUESTS = 8
READY_TIMEOUT_SECONDS = 60.0
DAY_NS = 24 * 3600 * 10**9
SERVE = "logs-mcp serve"
SERVICES = ("checkout", "payments", "search", "frontend", "inventory")
ROUTES = ("/api/cart", "/api/pay", "/api/search", "/", "/api/items/{id}")
LEVELS = ("INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR")


def text(key: str, value: str) -> KeyValue:
    return KeyValue(key=key, value=AnyValue(string_value=value))


def build_request(variant: int, batch: int, now_ns: int) -> ExportLogsServiceRequest:
    """One service's batch: resource attributes as an SDK sends them, and records with a typical mix
    of attributes (strings, an int status code, a float duration)."""
    service = SERVICES[variant % len(SERVICES)]
    records = []
    for seq in range(batch):
        status = 500 if seq % 50 == 0 else 200
        records.append(
            LogRecord(
                time_unix_nano=now_ns - seq * 1_000_000,
                severity_text=LEVELS[seq % len(LEVELS)],
                body=AnyValue(string_value=f"{ROUTES[seq % 5]} answered {status} in {seq % 250} ms"),
                attributes=[
                    text("http.route", ROUTES[seq % len(ROUTES)]),
                    text("http.method", "GET" if seq % 3 else "POST"),
                    KeyValue(key="http.status_code", value=AnyValue(int_value=status)),
                    KeyValue(key="duration_ms", value=AnyValue(double_value=(seq % 250) + 0.5)),
                    text("user.id", f"user-{seq % 1000}"),
                ],
                trace_id=(variant * batch + seq + 1).to_bytes(16, "big"),
                span_id=(seq + 1).to_bytes(8, "big"),
                flags=1,
            )
        )
    resource = Resource(
        attributes=[
            text("service.name", service),
            text("deployment.environment", "production"),
            text("host.name", f"node-{variant}"),
            text("k8s.pod.name", f"{service}-{variant}-7f9c"),
        ]
    )
    scope = InstrumentationScope(name="bench", version="1.0")
    return ExportLogsServiceRequest(
        resource_logs=[
            ResourceLogs(resource=resource, scope_logs=[ScopeLogs(scope=scope, log_records=records)])
        ]
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    ready_seconds: float

    def peak_rss_mib(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        (line,) = [line for line in status.splitlines() if line.startswith("VmHWM:")]
        return int(line.split()[1]) / 1024

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_server(data_dir: Path, log_path: Path, path: str = SERVE) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    if path == SERVE:
        command = [LOGS_MCP, "serve", "--data-dir", str(data_dir), "--port", str(port), "--no-demo"]
    else:
        command = [sys.executable, __file__, "--serve-path", path, str(data_dir), "--port", str(port)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    while time.perf_counter() - started < READY_TIMEOUT_SECONDS:
        if process.poll() is not None:
            sys.exit(f"logs-mcp serve exited with {process.returncode}; see {log_path}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Server(process, url, time.perf_counter() - started)
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    process.kill()
    sys.exit(f"logs-mcp serve was not ready within {READY_TIMEOUT_SECONDS}s; see {log_path}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def create_project(data_dir: Path) -> tuple[int, str]:
    output = subprocess.run(
        [LOGS_MCP, "projects", "create", "bench", "--json", "--data-dir", str(data_dir)],
        check=True,
        capture_output=True,
    ).stdout
    project = json.loads(output)
    return int(project["id"]), str(project["ingestion_token"])


def run_concurrently(count: int, clients: int, work: Callable[[int], None]) -> float:
    """Runs ``work(i)`` for i in range(count) on ``clients`` threads; returns the wall time."""
    next_index = iter(range(count))
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                index = next(next_index, None)
            if index is None:
                return
            work(index)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(worker) for _ in range(clients)]:
            future.result()
    return time.perf_counter() - started


def post_all(url: str, token: str, payloads: Sequence[bytes], requests: int, clients: int) -> float:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-protobuf"}
    local = threading.local()

    def post(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(headers=headers, timeout=120)
        response = local.client.post(f"{url}/v1/logs", content=payloads[index % len(payloads)])
        if response.status_code != 200:
            sys.exit(f"request {index} answered {response.status_code}: {response.text[:300]}")

    return run_concurrently(requests, clients, post)


def serve_path(path: str, data_dir: Path, port: int) -> None:
    """``logs-mcp serve --no-demo`` with ingest forced to one path: the same services and app."""
    import uvicorn

    settings = Settings(data_dir=data_dir, port=port)
    services = build_services(settings, owner={"url": settings.base_url})
    native = path == "native"
    services.ingest = LogIngest(
        services.log_store, settings.max_request_bytes, native_protobuf=native, native_min_records=0
    )
    try:
        app = build_asgi_app(services, alert_workers=settings.check_loop_enabled)
        uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    finally:
        services.close()


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5_000, help="records per request")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client threads")
    parser.add_argument("--restarts", type=int, default=3, help="time-to-ready samples")
    parser.add_argument("--serve-path", nargs=2, metavar=("PATH", "DATA_DIR"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_path:
        serve_path(args.serve_path[0], Path(args.serve_path[1]), args.port)
        return
    requests = args.records // args.batch
    records = requests * args.batch

    work_dir = Path(tempfile.mkdtemp(prefix="logs-mcp-bench-"))
    now_ns = time.time_ns()
    payloads = [
        build_request(variant, args.batch, now_ns).SerializeToString() for variant in range(DISTINCT_REQUESTS)
    ]
    print(
        f"{records:,} records in {requests} requests of {args.batch:,} "
        f"({len(payloads[0]) / 1e6:.2f} MB each), {args.clients} client threads; data in {work_dir}"
    )
    print(f"load average (1, 5, 15 min) at the start: {load_average()} on {os.cpu_count()} cores")

    rates, projects = {}, {}
    for path in (SERVE, "native", "python"):
        slug = path.replace(" ", "-")
        data_dir, log_path = work_dir / slug, work_dir / f"server-{slug}.log"
        projects[path], token = create_project(data_dir)
        server = start_server(data_dir, log_path, path)
        try:  # a refused request exits: the server must not outlive the script
            seconds = post_all(server.url, token, payloads, requests, args.clients)
            peak_rss = server.peak_rss_mib()
        finally:
            server.stop()
        rates[path] = records / seconds
        print(
            f"end to end, {path} (OTLP/HTTP protobuf → chDB): {rates[path]:,.0f} records/s "
            f"({seconds:.2f} s); server peak RSS (VmHWM) {peak_rss:,.0f} MiB"
        )
    print(f"native / python: {rates['native'] / rates['python']:.2f}")
    data_dir, log_path = work_dir / "logs-mcp-serve", work_dir / "server-logs-mcp-serve.log"

    ready = []
    for _ in range(args.restarts):
        restarted = start_server(data_dir, log_path)
        ready.append(restarted.ready_seconds)
        restarted.stop()
    print(
        f"logs-mcp serve time-to-ready on this data directory ({records:,} rows): "
        f"median {statistics.median(ready):.2f} s, samples {', '.join(f'{s:.2f}' for s in ready)}"
    )

    engine = engine_insert_rates(data_dir, projects[SERVE], payloads, requests, records, args.clients, now_ns)
    print(
        f"engine columnar insert (LogStore.insert_columns, pre-built columns, {args.clients} threads): "
        f"{engine['columnar']:,.0f} records/s"
    )
    for path in (SERVE, "native", "python"):
        print(f"end to end / engine insert, {path}: {rates[path] / engine['columnar']:.2f}")
    for insert in ("columnar", "native"):
        share = 1 - engine[insert] / engine[f"{insert} without rollups"]
        print(
            f"{insert} insert with the attribute rollup views {engine[insert]:,.0f} records/s, without "
            f"{engine[f'{insert} without rollups']:,.0f} records/s: the views take {share:.0%} of its time"
        )
    print(f"load average at the end: {load_average()}")


def engine_insert_rates(
    data_dir: Path,
    project_id: int,
    payloads: Sequence[bytes],
    requests: int,
    records: int,
    clients: int,
    now_ns: int,
) -> dict[str, float]:
    """Checks the served rows are all stored, then inserts the same rows again (under other project
    ids): as pre-built columns through LogStore.insert_columns, and as request bytes through the native
    view (in process, so without HTTP), each into the logs table and into a copy of it without the
    attribute rollup views."""
    services = build_services(Settings(data_dir=data_dir, port=0))
    try:
        store = services.log_store
        stored = store.query(
            f"SELECT count() FROM {store.logs_table} WHERE project_id = {{p:UInt64}}", {"p": project_id}
        ).rows[0][0]
        if stored != records:
            sys.exit(f"expected {records:,} stored records, found {stored:,}")
        ingest = services.ingest
        columns = [
            ingest.to_columns(project_id + 1, ingest.decode(payload, "application/x-protobuf", None), now_ns)
            for payload in payloads
        ]
        bare, staging = f"{LOGS_TABLE}_without_rollups", "otlp_logs_ingest_without_rollups"
        store.command(f"CREATE TABLE IF NOT EXISTS {store.target.table(bare)} AS {store.logs_table}")
        for statement in otlp_native.native_ingest_statements(store.target, staging, bare):
            store.command(statement)

        def columnar(table: str) -> Callable[[int], None]:
            return lambda index: store.insert_columns(table, columns[index % len(columns)])

        def native(staging: str) -> Callable[[int], None]:
            def insert(index: int) -> None:
                payload = payloads[index % len(payloads)]
                if not otlp_native.insert_request(store, payload, project_id + 2, now_ns, DAY_NS, staging):
                    sys.exit("the native view refused a bench request")

            return insert

        work = {
            "columnar": columnar(store.logs_table),
            "columnar without rollups": columnar(store.target.table(bare)),
            "native": native(otlp_native.STAGING_TABLE),
            "native without rollups": native(staging),
        }
        return {name: records / run_concurrently(requests, clients, insert) for name, insert in work.items()}
    finally:
        services.close()


if __name__ == "__main__":
    main()
