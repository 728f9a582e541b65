"""All settings of logs-mcp in one place, read from the environment (prefix ``LOGS_MCP_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LOGS_MCP_", extra="ignore")

    data_dir: Path = Field(Path(".logs-mcp"), description="Where the embedded stores keep their files.")
    clickhouse_url: str | None = Field(
        None, description="http(s)://user:password@host:8123 of a ClickHouse server; unset = embedded chDB."
    )
    clickhouse_database: str = "logs_mcp"
    clickhouse_cluster: str | None = Field(
        None,
        description="Cluster name: tables become ReplicatedMergeTree ON CLUSTER behind a Distributed table.",
    )
    clickhouse_pool_size: int = Field(4, ge=1, le=64)
    database_url: str | None = Field(
        None, description="SQLAlchemy URL of the state store; unset = SQLite file."
    )

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    public_url: str | None = Field(None, description="Base URL clients use to reach this server.")

    retention_days: int = Field(30, ge=1, description="Logs older than this are dropped by ClickHouse TTL.")
    max_request_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Decompressed OTLP body limit.")
    query_timeout_seconds: float = Field(30.0, gt=0)
    mcp_token_budget: int = Field(
        20_000, ge=500, description="Most tokens (chars/4) one MCP result may take."
    )
    export_row_limit: int = Field(1_000_000, ge=1)

    project_id: int | None = Field(None, description="Project that `logs-mcp stdio` acts on.")

    alerts_per_project_cap: int = Field(20, ge=1, description="Most alerts (drafts included) per project.")
    alerts_uncapped_project_ids: frozenset[int] = Field(
        frozenset(), description="Projects exempt from the alert cap (JSON list, e.g. [3, 7])."
    )
    alert_window_minutes: tuple[int, ...] = Field(
        (5, 10, 15, 30, 60), description="Allowed alert windows in minutes (JSON list)."
    )
    alert_max_evaluation_periods: int = Field(10, ge=1, description="Largest M (and N) of an N-of-M alert.")
    allow_private_webhooks: bool = Field(
        False,
        description=(
            "Let webhook, Discord and Teams destinations reach loopback, private and link-local addresses "
            "(a self-hosted receiver on the same network)."
        ),
    )
    alert_simulate_max_days: int = Field(30, ge=1, description="How far back simulate may replay, in days.")
    alert_simulate_max_buckets: int = Field(
        15_000, ge=1, description="Most checks one simulate or suggest-threshold may replay."
    )

    slack_api_url: str = Field(
        "https://slack.com/api/", description="Slack Web API base URL (tests point it at a local stand-in)."
    )
    delivery_timeout_seconds: float = Field(
        10.0, gt=0, description="Longest one notification delivery (connect to response) may take."
    )

    check_loop_enabled: bool = Field(
        True, description="Run the alert check loop and the notification deliverer in `serve` and `stdio`."
    )
    check_tick_seconds: float = Field(
        60.0, gt=0, description="How often the check loop looks for due alerts."
    )
    check_claim_batch: int = Field(500, ge=1, description="Alerts one worker claims (and counts) at a time.")
    check_notifying_per_save: int = Field(
        25,
        ge=1,
        description="Most notifying checks one transaction saves: each save's notifications are sent as one "
        "burst right after its commit, and a smaller burst is delivered sooner.",
    )
    check_claim_lease_seconds: float = Field(
        300.0, gt=0, description="How long a claim lasts; a crashed worker's alerts are checked after it."
    )
    check_query_batch: int = Field(
        200, ge=1, description="Most distinct filters one ClickHouse statement matches the log rows against."
    )
    check_query_timeout_seconds: float = Field(30.0, gt=0, description="max_execution_time of a check query.")
    check_max_bytes_to_read: int = Field(
        5 * 1024**3, ge=1, description="max_bytes_to_read of a check query (5 GiB, as PostHog)."
    )
    delivery_lease_seconds: float = Field(
        30.0, gt=0, description="How long one delivery attempt holds its notification."
    )
    delivery_retry_base_seconds: float = Field(
        5.0, gt=0, description="First retry delay; doubles per attempt."
    )
    delivery_retry_max_seconds: float = Field(900.0, gt=0, description="Longest delay between two attempts.")
    delivery_max_attempts: int = Field(12, ge=1, description="Attempts before a notification is dead.")
    delivery_batch: int = Field(100, ge=1, description="Notifications one delivery pass leases at a time.")
    delivery_concurrency: int = Field(
        100, ge=1, description="Notifications sent side by side (the default sends a whole batch at once)."
    )
    delivery_poll_seconds: float = Field(
        1.0, gt=0, description="How often the deliverer looks for due retries."
    )
    delivery_retention_days: float = Field(
        30.0,
        gt=0,
        description="Delivered and dead notifications (with their attempts) older than this are deleted.",
    )

    @property
    def clickhouse_path(self) -> Path:
        return self.data_dir / "clickhouse"

    @property
    def state_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'state.db'}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://{self.host}:{self.port}"
