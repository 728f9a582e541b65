"""logs-mcp: search application logs and run log alerts from AI agents."""

__version__ = "0.1.0"
