#!/usr/bin/env sh
# Register a running `logs-mcp serve` with Claude Code (remote, streamable HTTP)...
claude mcp add --transport http logs-mcp http://127.0.0.1:8000/mcp --header "Authorization: Bearer $LOGS_MCP_API_KEY"
# ...or let Claude Code start logs-mcp itself over stdio, bridged to that server:
# claude mcp add logs-mcp -- logs-mcp stdio --server http://127.0.0.1:8000 --api-key "$LOGS_MCP_API_KEY"
