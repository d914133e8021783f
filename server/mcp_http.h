// sextantd's MCP endpoint (--mcp-listen ADDR; docs/mcp.md): the Model Context Protocol's
// streamable HTTP transport at /mcp over mcp::Server (mcp/mcp_server.h), stateless (no sessions,
// no server-initiated stream):
//   POST /mcp    one JSON-RPC message or batch -> 200 application/json with the answer, or 202
//                for notifications only; 400 for a body that is not JSON-RPC; 401 without a valid
//                "Authorization: Bearer KEY" when keys are configured; 403 for a browser Origin
//                that is not this server's (DNS rebinding)
//   GET|DELETE /mcp  405 (Allow: POST)
// A read-only key may call every tool but ingest.
#ifndef SEXTANT_SERVER_MCP_HTTP_H_
#define SEXTANT_SERVER_MCP_HTTP_H_

#include "server/http_server.h"
#include "server/service.h"

namespace sextant::server {

// Registers /mcp on `http`; `service` must outlive it.
void RegisterMcpRoutes(HttpServer& http, SextantService& service);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_MCP_HTTP_H_
