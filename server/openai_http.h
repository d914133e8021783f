// The OpenAI-compatible HTTP endpoint of sextantd (--openai-listen ADDR; docs/openai.md):
// POST /v1/chat/completions (model = a text collection, or "collection@model"; SSE streaming;
// citations in the extra field "citations"), POST /v1/embeddings (model = a text collection: its
// embedder), GET /v1/models (the text collections). Same API keys as the gRPC service; errors in
// OpenAI's shape {"error": {"message", "type", "param", "code"}}.
#ifndef SEXTANT_SERVER_OPENAI_HTTP_H_
#define SEXTANT_SERVER_OPENAI_HTTP_H_

#include "server/http_server.h"
#include "server/service.h"

namespace sextant::server {

// Registers the /v1 routes on `http`; `service` must outlive it.
void RegisterOpenAIRoutes(HttpServer& http, SextantService& service);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_OPENAI_HTTP_H_
