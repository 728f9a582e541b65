"""Demo logs: the six services of a small online shop over the last N days, with a daily rhythm and three
incidents (``INCIDENTS``) an agent can discover, so a new user has something real to explore at once.

Rows are generated as whole user requests (a trace across frontend, cart, checkout, payments, inventory and
auth) minute by minute, following a per-minute row budget fixed up front: the total is known before the first
insert, and the data is a pure function of the seed and ``now``.
"""

from __future__ import annotations

import json
import math
import random
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate
from typing import Any

from logs_mcp.errors import InvalidInput
from logs_mcp.logs.ingest import COLUMNS, NO_SPAN, NO_TRACE, SEVERITY_NUMBERS
from logs_mcp.store.clickhouse import LogStore

CHUNK_ROWS = 50_000
BASELINE_ROWS_PER_DAY = 42_000
MICROS_PER_MS = 1_000
MICROS_PER_MINUTE = 60 * 10**6
MICROS_PER_HOUR = 60 * MICROS_PER_MINUTE
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
MINUTES_PER_DAY = 1440
PRODUCTION = "production"
STAGING = "staging"
STAGING_SHARE = 0.02
REGION = "eu-west-1"
# k8s names pod-template hashes and pod suffixes from this alphabet (no vowels, no look-alikes).
K8S_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
# The chunk fills these per-row constant columns; ``_emit`` records the others, in the insert's order.
CHUNK_COLUMNS = ("project_id", "observed_timestamp", "trace_flags")
ROW_FIELDS = tuple(name for name in COLUMNS if name not in CHUNK_COLUMNS)
ATTACKER_ADDRESSES = ("203.0.113.45", "203.0.113.77", "198.51.100.23")


@dataclass(frozen=True)
class Service:
    name: str
    version: str
    language: str
    scope: str
    replicas: int


SERVICES = (
    Service("frontend", "3.4.1", "nodejs", "@opentelemetry/instrumentation-http@0.52.1", 4),
    Service(
        "checkout", "2.8.1", "go", "go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp@0.53.0", 3
    ),
    Service("payments", "1.19.0", "java", "io.opentelemetry.spring-webmvc-6.0@2.6.0-alpha", 2),
    Service("cart", "5.2.0", "python", "opentelemetry.instrumentation.flask@0.48b0", 3),
    Service("inventory", "0.31.4", "python", "opentelemetry.instrumentation.sqlalchemy@0.48b0", 2),
    Service("auth", "4.0.2", "python", "opentelemetry.instrumentation.fastapi@0.48b0", 2),
)
SCOPES = {service.name: service.scope for service in SERVICES}


@dataclass(frozen=True)
class Incident:
    """An episode the demo data tells the story of; its window is minute-aligned, counted back from now."""

    name: str
    service: str
    starts_before_now: timedelta
    duration: timedelta
    extra_rows_per_minute: int
    summary: str
    release: str | None = None  # the service runs this version during the incident (a bad deploy)

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        start = now.astimezone(UTC).replace(second=0, microsecond=0) - self.starts_before_now
        return start, start + self.duration


PAYMENTS_OUTAGE = Incident(
    "payments-outage",
    "payments",
    timedelta(hours=46),
    timedelta(minutes=40),
    60,
    "payment provider acme-pay times out: bursts of error logs with error.type=TimeoutError in payments, "
    "failed checkouts (http.status_code=504) in checkout and frontend",
)
AUTH_401_SPIKE = Incident(
    "auth-401-spike",
    "auth",
    timedelta(hours=21),
    timedelta(minutes=25),
    90,
    "credential stuffing from three client.address values: warn logs with http.status_code=401 and "
    "error.type=InvalidCredentials in auth and frontend, some AccountLocked errors",
)
CHECKOUT_LATENCY = Incident(
    "checkout-latency",
    "checkout",
    timedelta(hours=4),
    timedelta(minutes=35),
    30,
    "checkout 2.9.0 rolled out, then slow-request and slow-query warnings (duration_ms in the thousands) "
    "and 'db connection pool exhausted' errors (error.type=PoolTimeout) until the rollback to 2.8.1",
    release="2.9.0",
)
INCIDENTS = (PAYMENTS_OUTAGE, AUTH_401_SPIKE, CHECKOUT_LATENCY)

USERS = tuple(f"u_{number}" for number in range(10_001, 13_001))
SKUS = tuple(f"SKU-{number}" for number in range(1000, 1080))
SEARCH_TERMS = ("running shoes", "rain jacket", "backpack", "socks", "water bottle", "headlamp", "tent")
DECLINE_REASONS = ("card_expired", "insufficient_funds", "do_not_honor", "incorrect_cvc")


def load_demo(
    store: LogStore,
    project_id: int,
    *,
    days: int = 7,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
    seed: int = 7,
) -> int:
    """Insert ``days`` of demo logs ending at ``now`` into ``project_id``, ~50k rows per insert; returns the
    number of rows inserted. ``progress(done, total)`` is called after each insert."""
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInput("days must be a whole number of at least 1", attr="days")
    shop = ShopSimulation(days=days, now=now or datetime.now(UTC), seed=seed)
    done = 0
    for chunk in shop.chunks(project_id):
        store.insert_columns(store.logs_table, chunk)
        done += len(chunk["timestamp"])
        if progress is not None:
            progress(done, shop.total_rows)
    return done


class ShopSimulation:
    """Generates the rows. Each flow is one user request (or one background job) emitting a few records
    that share a trace id; ``_emit`` appends a record straight into the current chunk's columns."""

    def __init__(self, *, days: int, now: datetime, seed: int) -> None:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._rng = random.Random(seed)
        self._end = _micros(now)
        self._start = self._end - days * MICROS_PER_DAY
        self._incidents = [
            (incident, _micros(start), _micros(end))
            for incident in INCIDENTS
            for start, end in [incident.window(now)]
            if _micros(start) >= self._start and _micros(end) <= self._end
        ]
        self._pods = {
            environment: {service.name: self._pod_resources(service, environment) for service in SERVICES}
            for environment in (PRODUCTION, STAGING)
        }
        # During a bad release, production pods of the released service report the new version.
        self._release_pods = {
            incident.name: {
                **self._pods[PRODUCTION],
                incident.service: self._pod_resources(
                    _service(incident.service), PRODUCTION, incident.release
                ),
            }
            for incident, _, _ in self._incidents
            if incident.release
        }
        self._budgets = self._minute_budgets()
        self.total_rows = sum(baseline + extra for baseline, extra in self._budgets)
        self._flows = (
            (self._browse, 38),
            (self._view_cart, 18),
            (self._add_to_cart, 14),
            (self._search, 12),
            (self._login, 8),
            (self._checkout, 6),
            (self._background, 4),
        )
        self._flow_weights = list(accumulate(weight for _, weight in self._flows))
        self._bursts = {
            PAYMENTS_OUTAGE.name: self._payment_timeouts,
            AUTH_401_SPIKE.name: self._failed_logins,
            CHECKOUT_LATENCY.name: self._slow_queries,
        }
        self._rows: list[tuple[Any, ...]] = []
        self._flushed = 0
        self._active: tuple[str, ...] = ()
        self._environment = PRODUCTION
        self._flow_pods = self._pods[PRODUCTION]
        self._trace = NO_TRACE
        self._cursor = 0

    def chunks(self, project_id: int) -> Iterator[dict[str, list[Any]]]:
        """The rows in chunks of about ``CHUNK_ROWS``. Each minute generates flows until the rows so far
        reach the budgets so far, so an overshoot is absorbed by the next minute; only the very last flow
        may be cut short."""
        planned = 0
        for minute, (baseline, extra) in enumerate(self._budgets):
            minute_start = self._start + minute * MICROS_PER_MINUTE
            planned += baseline
            self._generate_until(planned, minute_start, minute_start + MICROS_PER_MINUTE)
            planned += extra
            for incident, start, end in self._incidents:
                self._incident_minute(incident, start, end, minute_start, planned)
            if len(self._rows) >= CHUNK_ROWS or minute == len(self._budgets) - 1:
                yield self._finish_chunk(project_id)

    def _generate_until(
        self, planned: int, start: int, end: int, burst: Callable[[], None] | None = None
    ) -> None:
        """Flows starting in [start, end) until ``planned`` rows exist: ordinary traffic, or ``burst``."""
        rng = self._rng
        rows = self._rows
        while len(rows) + self._flushed < planned:
            self._begin(start + int(rng.random() * (end - start)))
            (burst or self._pick_flow())()

    def _finish_chunk(self, project_id: int) -> dict[str, list[Any]]:
        """Cuts the last flow's overshoot (final chunk only), turns rows into columns and fills the
        per-row constant columns."""
        rows = self._rows[: self.total_rows - self._flushed]
        self._rows = []
        self._flushed += len(rows)
        columns: dict[str, list[Any]] = {
            name: list(values) for name, values in zip(ROW_FIELDS, zip(*rows, strict=True), strict=True)
        }
        columns["project_id"] = [project_id] * len(rows)
        columns["observed_timestamp"] = columns["timestamp"]
        columns["trace_flags"] = [0 if trace is NO_TRACE else 1 for trace in columns["trace_id"]]
        return columns

    def _incident_minute(
        self, incident: Incident, start: int, end: int, minute_start: int, planned: int
    ) -> None:
        """The incident's own rows in the part of this minute that lies inside its window (loop minutes
        count from now - days, incident windows from whole minutes)."""
        low, high = max(minute_start, start), min(minute_start + MICROS_PER_MINUTE, end)
        if low >= high:
            return
        if low == start:
            self._begin(start, traced=False)
            self._marker(incident, opening=True)
        self._generate_until(planned, low, high, self._bursts[incident.name])
        if high == end:
            self._begin(end - 100 * MICROS_PER_MS, traced=False)
            self._marker(incident, opening=False)

    # -- planning ---------------------------------------------------------------------------------------

    def _minute_budgets(self) -> list[tuple[int, int]]:
        """Rows per minute: (baseline traffic, incident extras). Traffic peaks mid-afternoon UTC, bottoms
        out around 03:00, and weekends run at 60%."""
        rng = self._rng
        minutes = (self._end - self._start) // MICROS_PER_MINUTE
        weights = []
        for minute in range(minutes):
            at = self._start + minute * MICROS_PER_MINUTE
            hour = (at % MICROS_PER_DAY) / MICROS_PER_HOUR
            daily = 0.2 + 0.8 * (0.5 - 0.5 * math.cos(2 * math.pi * (hour - 3) / 24))
            weekday = (at // MICROS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday; Monday is 0
            weekly = 0.6 if weekday >= 5 else 1.0
            weights.append(daily * weekly * (0.85 + 0.3 * rng.random()))
        scale = BASELINE_ROWS_PER_DAY * minutes / MINUTES_PER_DAY / sum(weights)
        budgets = []
        for minute, weight in enumerate(weights):
            at = self._start + minute * MICROS_PER_MINUTE
            extra = sum(
                incident.extra_rows_per_minute
                * (min(at + MICROS_PER_MINUTE, end) - max(at, start))
                // MICROS_PER_MINUTE
                for incident, start, end in self._incidents
                if max(at, start) < min(at + MICROS_PER_MINUTE, end)
            )
            budgets.append((int(weight * scale + rng.random()), extra))
        return budgets

    def _pod_resources(
        self, service: Service, environment: str, version: str | None = None
    ) -> list[dict[str, str]]:
        rng = self._rng
        replicas = service.replicas if environment == PRODUCTION else 1
        template_hash = "".join(rng.choice(K8S_ALPHABET) for _ in range(9))
        nodes = 4 if environment == PRODUCTION else 1
        subnet = 12 if environment == PRODUCTION else 40
        resources = []
        for _ in range(replicas):
            pod = f"{service.name}-{template_hash}-" + "".join(rng.choice(K8S_ALPHABET) for _ in range(5))
            node = (
                f"ip-10-0-{subnet + rng.randrange(nodes)}-{rng.randrange(4, 250)}.{REGION}.compute.internal"
            )
            resources.append(
                {
                    "cloud.region": REGION,
                    "deployment.environment": environment,
                    "host.name": node,
                    "k8s.namespace.name": "shop" if environment == PRODUCTION else "shop-staging",
                    "k8s.pod.name": pod,
                    "service.name": service.name,
                    "service.version": version or service.version,
                    "telemetry.sdk.language": service.language,
                }
            )
        return resources

    # -- emitting ---------------------------------------------------------------------------------------

    def _begin(self, at: int, traced: bool = True) -> None:
        rng = self._rng
        self._cursor = at
        self._trace = rng.getrandbits(128).to_bytes(16, "little") if traced else NO_TRACE
        self._environment = STAGING if rng.random() < STAGING_SHARE else PRODUCTION
        self._active = tuple(incident.name for incident, start, end in self._incidents if start <= at < end)
        self._flow_pods = self._pods[self._environment]
        if self._environment == PRODUCTION:
            for name in self._active:
                self._flow_pods = self._release_pods.get(name, self._flow_pods)

    def _pick_flow(self) -> Callable[[], None]:
        """A kind of user request, by how common it is."""
        return self._flows[bisect(self._flow_weights, self._rng.random() * self._flow_weights[-1])][0]

    def _during(self, incident: Incident) -> bool:
        return incident.name in self._active and self._environment == PRODUCTION

    def _emit(
        self, service: str, severity: str, body: str, attributes: dict[str, str], event: str = ""
    ) -> None:
        # The hottest path: random() and getrandbits() are much cheaper than randrange() and choice().
        random = self._rng.random
        self._cursor = min(self._cursor + 200 + int(random() * 30_000), self._end - 1)
        pods = self._flow_pods[service]
        span = NO_SPAN if self._trace is NO_TRACE else self._rng.getrandbits(64).to_bytes(8, "little")
        self._rows.append(
            (
                self._cursor,
                self._trace,
                span,
                severity,
                SEVERITY_NUMBERS[severity],
                service,
                body,
                attributes,
                pods[int(random() * len(pods))],
                SCOPES[service],
                event,
            )
        )

    def _emit_json(
        self, service: str, severity: str, message: str, attributes: dict[str, str], **fields: Any
    ) -> None:
        """Checkout (Go, zap) and payments (Java, logstash encoder) log structured JSON bodies."""
        body = json.dumps({"level": severity, "msg": message, **fields}, separators=(",", ":"))
        self._emit(service, severity, body, attributes)

    def _access(
        self, method: str, route: str, path: str, status: int, duration: int, user: str | None
    ) -> None:
        """The frontend's access log line for one API call."""
        severity = "error" if status >= 500 else "warn" if status >= 400 else "info"
        attributes = {
            "http.method": method,
            "http.route": route,
            "http.target": path,
            "http.status_code": str(status),
            "duration_ms": str(duration),
        }
        if user:
            attributes["user.id"] = user
        self._emit("frontend", severity, f"{method} {path} {status} in {duration}ms", attributes)

    def _latency(self, median_ms: float) -> int:
        return max(1, int(median_ms * self._rng.lognormvariate(0, 0.45)))

    def _user(self, anonymous_share: float = 0.0) -> str | None:
        rng = self._rng
        return None if rng.random() < anonymous_share else rng.choice(USERS)

    def _order_id(self) -> str:
        return f"ord_{self._rng.getrandbits(40):010x}"

    # -- flows: ordinary traffic ------------------------------------------------------------------------

    def _browse(self) -> None:
        rng = self._rng
        sku = rng.choice(SKUS)
        user = self._user(anonymous_share=0.35)
        if rng.random() < 0.02:
            self._access(
                "GET",
                "/api/products/{sku}",
                f"/api/products/SKU-{rng.randrange(2000, 9999)}",
                404,
                self._latency(8),
                user,
            )
            return
        if rng.random() < 0.5:
            stock = rng.randrange(0, 60)
            self._emit(
                "inventory",
                "debug",
                f"stock lookup sku={sku} available={stock}",
                {"sku": sku, "db.system": "postgresql", "duration_ms": str(self._latency(3))},
            )
        self._access("GET", "/api/products/{sku}", f"/api/products/{sku}", 200, self._latency(22), user)

    def _view_cart(self) -> None:
        rng = self._rng
        user = self._user()
        self._validate_token(user)
        if rng.random() < 0.003:
            self._emit(
                "cart",
                "error",
                "unhandled exception in GET /api/cart: KeyError: 'variant_id'",
                {"error.type": "KeyError", "http.route": "/api/cart", "user.id": str(user)},
            )
            self._access("GET", "/api/cart", "/api/cart", 500, self._latency(30), user)
            return
        items = rng.randrange(0, 7)
        duration = self._latency(12)
        if rng.random() < 0.01:
            self._emit(
                "cart",
                "warn",
                f"redis GET cart:{user} took {rng.randrange(120, 400)}ms (budget 100ms)",
                {"db.system": "redis", "user.id": str(user)},
            )
        self._emit(
            "cart",
            "info",
            f"loaded cart user={user} items={items}",
            {"user.id": str(user), "cart.items": str(items), "duration_ms": str(duration)},
        )
        self._access("GET", "/api/cart", "/api/cart", 200, duration + self._latency(4), user)

    def _add_to_cart(self) -> None:
        rng = self._rng
        user = self._user()
        sku = rng.choice(SKUS)
        quantity = rng.choice((1, 1, 1, 2, 3))
        self._validate_token(user)
        self._emit(
            "inventory",
            "debug",
            f"reserved {quantity} x {sku} for cart {user}",
            {"sku": sku, "quantity": str(quantity), "user.id": str(user)},
        )
        self._emit(
            "cart",
            "info",
            f"added item sku={sku} qty={quantity} to cart",
            {"sku": sku, "quantity": str(quantity), "user.id": str(user)},
        )
        self._access("POST", "/api/cart/items", "/api/cart/items", 201, self._latency(31), user)

    def _search(self) -> None:
        rng = self._rng
        term = rng.choice(SEARCH_TERMS)
        hits = rng.randrange(0, 80)
        user = self._user(anonymous_share=0.5)
        self._emit(
            "inventory",
            "debug",
            f"search q={term!r} hits={hits}",
            {"search.query": term, "search.hits": str(hits), "db.system": "postgresql"},
        )
        path = "/api/search?q=" + term.replace(" ", "+")
        self._access("GET", "/api/search", path, 200, self._latency(45), user)

    def _login(self) -> None:
        user = self._user()
        if self._rng.random() < 0.04:
            self._failed_login(user, self._rng.choice(("10.0.3.17", "81.2.69.142", "92.184.105.98")))
            return
        self._emit(
            "auth",
            "info",
            f"login succeeded user={user} mfa=false",
            {"user.id": str(user), "auth.method": "password"},
            event="auth.login",
        )
        self._access("POST", "/api/login", "/api/login", 200, self._latency(85), user)

    def _checkout(self) -> None:
        rng = self._rng
        user = self._user()
        order = self._order_id()
        items = rng.randrange(1, 6)
        amount = rng.randrange(900, 25_000)
        slow = self._during(CHECKOUT_LATENCY)
        order_attributes = {"order.id": order, "user.id": str(user)}
        self._validate_token(user)
        self._emit_json("checkout", "info", "checkout started", order_attributes, order_id=order, items=items)
        if self._during(PAYMENTS_OUTAGE):
            self._payment_timeout(order, attempt=3, attempts=3)
            self._emit_json(
                "checkout",
                "error",
                "payment authorization timed out",
                {**order_attributes, "error.type": "TimeoutError", "http.status_code": "504"},
                order_id=order,
            )
            self._access("POST", "/api/checkout", "/api/checkout", 504, 10_000 + self._latency(40), user)
            return
        if rng.random() < 0.004:
            self._emit_json(
                "payments",
                "error",
                "upstream gateway returned 502",
                {**order_attributes, "error.type": "BadGateway", "payment.provider": "acme-pay"},
                order_id=order,
                provider="acme-pay",
            )
            self._access("POST", "/api/checkout", "/api/checkout", 502, self._latency(900), user)
            return
        if rng.random() < 0.05:
            reason = rng.choice(DECLINE_REASONS)
            self._emit_json(
                "payments",
                "warn",
                f"payment declined: {reason}",
                {**order_attributes, "payment.provider": "acme-pay", "payment.decline_code": reason},
                order_id=order,
                amount_cents=amount,
                decline_code=reason,
            )
            self._access("POST", "/api/checkout", "/api/checkout", 402, self._latency(420), user)
            return
        self._emit_json(
            "payments",
            "info",
            "payment authorized",
            {**order_attributes, "payment.provider": "acme-pay", "duration_ms": str(self._latency(300))},
            order_id=order,
            amount_cents=amount,
            currency="EUR",
        )
        self._emit(
            "inventory",
            "info",
            f"committed stock for order {order}: {items} items",
            {"order.id": order, "db.system": "postgresql"},
        )
        duration = self._latency(3_500 if slow else 640)
        if slow:
            self._emit_json(
                "checkout",
                "warn",
                "slow request",
                {**order_attributes, "http.route": "/api/checkout", "duration_ms": str(duration)},
                route="/api/checkout",
                duration_ms=duration,
                threshold_ms=2000,
            )
        self._emit(
            "checkout",
            "info",
            f"order placed {order} total={amount / 100:.2f} EUR",
            {**order_attributes, "order.total_cents": str(amount)},
            event="order.placed",
        )
        self._access("POST", "/api/checkout", "/api/checkout", 200, duration, user)

    def _background(self) -> None:
        rng = self._rng
        self._trace = NO_TRACE
        job = rng.randrange(6)
        if job == 0:
            count = rng.randrange(1100, 1300)
            self._emit(
                "inventory",
                "info",
                f"stock sync finished: {count} SKUs refreshed in {rng.uniform(1, 5):.1f}s",
                {"job.name": "stock-sync", "sku.count": str(count)},
            )
        elif job == 1:
            ratio = rng.uniform(0.88, 0.97)
            self._emit(
                "cart",
                "debug",
                f"cache stats: hit_ratio={ratio:.2f} keys={rng.randrange(40_000, 52_000)}",
                {"job.name": "cache-stats", "db.system": "redis"},
            )
        elif job == 2:
            self._emit("auth", "info", "JWKS refreshed: 3 signing keys", {"job.name": "jwks-refresh"})
        elif job == 3:
            self._emit_json(
                "payments",
                "info",
                "settlement batch uploaded",
                {"job.name": "settlement"},
                batch_id=f"stl_{rng.getrandbits(32):08x}",
                orders=rng.randrange(20, 200),
            )
        elif job == 4:
            self._emit_json(
                "checkout",
                "debug",
                "outbox relay tick",
                {"job.name": "outbox-relay"},
                pending=rng.randrange(0, 12),
            )
        else:
            self._emit(
                "frontend",
                "debug",
                "GET /healthz 200 in 1ms",
                {
                    "http.method": "GET",
                    "http.route": "/healthz",
                    "http.status_code": "200",
                    "duration_ms": "1",
                },
            )

    def _validate_token(self, user: str | None) -> None:
        if self._rng.random() < 0.3:
            self._emit("auth", "debug", f"token validated user={user} scopes=shop", {"user.id": str(user)})

    def _failed_login(self, user: str | None, client_address: str) -> None:
        self._emit(
            "auth",
            "warn",
            f"login failed: invalid credentials user={user}",
            {
                "user.id": str(user),
                "client.address": client_address,
                "error.type": "InvalidCredentials",
                "http.status_code": "401",
            },
            event="auth.login",
        )
        self._access("POST", "/api/login", "/api/login", 401, self._latency(40), user)

    # -- flows: incidents -------------------------------------------------------------------------------

    def _marker(self, incident: Incident, *, opening: bool) -> None:
        if incident is PAYMENTS_OUTAGE:
            state = "OPEN: 50 consecutive failures" if opening else "CLOSED: probe succeeded"
            self._emit_json(
                "payments",
                "error" if opening else "info",
                f"circuit breaker {state}",
                {"payment.provider": "acme-pay"},
                provider="acme-pay",
            )
        elif incident is AUTH_401_SPIKE:
            text = "failed logins 14x above baseline" if opening else "failed-login rate back to baseline"
            self._emit(
                "auth",
                "warn" if opening else "info",
                f"anomaly detector: {text}",
                {"job.name": "login-anomaly-detector"},
            )
        else:
            version = incident.release if opening else _service(incident.service).version
            verb = "rolled out" if opening else "rolled back to"
            self._emit(
                "checkout",
                "info",
                f"deployment {verb} checkout {version}",
                {"service.version": str(version)},
                event="deployment",
            )

    def _payment_timeout(self, order: str, *, attempt: int, attempts: int) -> None:
        final = attempt == attempts
        message = "authorization failed after retries" if final else "authorization attempt failed, retrying"
        self._emit_json(
            "payments",
            "error" if final else "warn",
            message,
            {
                "order.id": order,
                "payment.provider": "acme-pay",
                "error.type": "TimeoutError",
                "duration_ms": str(10_000 + self._rng.randrange(200)),
            },
            order_id=order,
            attempt=attempt,
            error="TimeoutError: acme-pay did not answer within 10000ms",
        )

    def _payment_timeouts(self) -> None:
        order = self._order_id()
        for attempt in (1, 2, 3):
            self._payment_timeout(order, attempt=attempt, attempts=3)

    def _failed_logins(self) -> None:
        rng = self._rng
        user = rng.choice(USERS)
        address = rng.choice(ATTACKER_ADDRESSES)
        self._failed_login(user, address)
        if rng.random() < 0.1:
            self._emit(
                "auth",
                "error",
                f"account locked after 5 failed attempts user={user}",
                {"user.id": user, "client.address": address, "error.type": "AccountLocked"},
            )

    def _slow_queries(self) -> None:
        rng = self._rng
        duration = rng.randrange(1_500, 6_000)
        if rng.random() < 0.15:
            self._emit_json(
                "checkout",
                "error",
                "db connection pool exhausted",
                {"error.type": "PoolTimeout", "db.system": "postgresql", "duration_ms": str(duration)},
                pool_size=20,
                waiting=rng.randrange(20, 60),
            )
            return
        self._emit_json(
            "checkout",
            "warn",
            "slow query",
            {"db.system": "postgresql", "duration_ms": str(duration)},
            statement="SELECT * FROM orders WHERE user_id = $1 AND status = $2",
            duration_ms=duration,
        )


def _service(name: str) -> Service:
    return next(service for service in SERVICES if service.name == name)


def _micros(moment: datetime) -> int:
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 10**6 + delta.microseconds
