"""Send logs from a Python service to logs-mcp with the OpenTelemetry SDK.

    pip install opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
    LOGS_MCP_INGESTION_TOKEN=lmi_... python examples/otel_python_sdk.py
"""

import logging
import os

from opentelemetry._logs import set_logger_provider
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
from opentelemetry.sdk.resources import Resource

endpoint = os.environ.get("LOGS_MCP_OTLP_ENDPOINT", "http://127.0.0.1:8000/v1/logs")
token = os.environ["LOGS_MCP_INGESTION_TOKEN"]

provider = LoggerProvider(resource=Resource.create({"service.name": "my-service", "deployment.environment": "dev"}))
provider.add_log_record_processor(
    BatchLogRecordProcessor(OTLPLogExporter(endpoint=endpoint, headers={"Authorization": f"Bearer {token}"}))
)
set_logger_provider(provider)
logging.getLogger().addHandler(LoggingHandler(logger_provider=provider))
logging.getLogger().setLevel(logging.INFO)

log = logging.getLogger("checkout")
log.info("order placed", extra={"order.id": "o-123", "http.status_code": 201})
log.error("payment declined", extra={"error.type": "CardDeclined"})
provider.shutdown()  # flushes the batch
