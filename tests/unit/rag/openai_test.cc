// The OpenAI-compatible embedder and generator against a canned HTTP server on 127.0.0.1 run in
// a thread of the test (every success and error path, deterministically), and against a real
// OpenAI-compatible server when SEXTANT_LLM_URL names one (scripts/llama-server.sh starts
// llama-cpp-python on the tiny stories260K model; see tests/llm/README.md).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "fake_http.h"
#include "rag/http.h"
#include "sextant/rag.h"

namespace sextant::rag {
namespace {

using json = nlohmann::json;

// An /embeddings answer for the request's inputs: input i gets [len, i + 1, 2] (not unit length),
// listed in reverse order so that the client must sort by "index".
std::string EmbeddingsFor(const Received& r) {
  json in = r.Json()["input"];
  json data = json::array();
  for (size_t k = in.size(); k-- > 0;) {
    data.push_back({{"object", "embedding"},
                    {"index", k},
                    {"embedding", {static_cast<double>(in[k].get<std::string>().size()), k + 1.0, 2.0}}});
  }
  return json{{"object", "list"}, {"data", data}, {"model", "m"}}.dump();
}

std::vector<float> Expected(const std::string& text, size_t k) {
  std::vector<float> v = {static_cast<float>(text.size()), static_cast<float>(k + 1), 2.f};
  float n = std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
  for (float& x : v) x /= n;
  return v;
}

OpenAIOptions Endpoint(const FakeServer& s) {
  OpenAIOptions o;
  o.base_url = s.base_url();
  o.model = "test-model";
  o.timeout_ms = 20000;  // the tests that want a timeout set a short one
  return o;
}

// ---------------------------------------------------------------- embedder

TEST(OpenAIEmbedderTest, EmbedsInBatchesSortsByIndexAndNormalises) {
  FakeServer s([](const Received& r, int, Conn& c) { c.Respond(200, EmbeddingsFor(r)); });
  OpenAIOptions o = Endpoint(s);
  o.batch = 2;
  o.api_key = "sk-secret";
  auto e = MakeOpenAIEmbedder(o, 3);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dimension(), 3u);
  EXPECT_EQ((*e)->spec(), "openai:test-model@" + s.base_url());
  std::vector<std::string> texts = {"a", "bb", "ccc", "dddd", "eeeee"};
  auto v = (*e)->Embed(texts);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_EQ(v->size(), 15u);
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<float> want = Expected(texts[i], i % 2);  // index within its batch
    for (size_t k = 0; k < 3; ++k) EXPECT_NEAR((*v)[i * 3 + k], want[k], 1e-6) << i << "," << k;
  }
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 3u);  // 2 + 2 + 1
  EXPECT_EQ(reqs[0].method, "POST");
  EXPECT_EQ(reqs[0].path, "/v1/embeddings");
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer sk-secret");
  EXPECT_EQ(reqs[0].headers["content-type"], "application/json");
  EXPECT_EQ(reqs[0].Json()["model"], "test-model");
  EXPECT_EQ(reqs[0].Json()["input"], json({"a", "bb"}));
  EXPECT_EQ(reqs[2].Json()["input"], json({"eeeee"}));
}

TEST(OpenAIEmbedderTest, LearnsTheDimensionWhenNotGiven) {
  FakeServer s([](const Received& r, int, Conn& c) { c.Respond(200, EmbeddingsFor(r)); });
  OpenAIOptions o = Endpoint(s);
  o.base_url += "/";  // a trailing slash is dropped
  auto e = MakeOpenAIEmbedder(o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dimension(), 3u);
  EXPECT_EQ((*e)->spec(), "openai:test-model@" + s.base_url());
  ASSERT_EQ(s.requests().size(), 1u);  // the probe
  EXPECT_EQ(s.requests()[0].path, "/v1/embeddings");
  EXPECT_EQ(s.requests()[0].headers.count("authorization"), 0u);  // no key, no header
  std::vector<std::string> none;
  auto empty = (*e)->Embed(none);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  EXPECT_EQ(s.requests().size(), 1u);
}

TEST(OpenAIEmbedderTest, ConcurrentCallsOnOneEmbedder) {
  FakeServer s([](const Received& r, int, Conn& c) { c.Respond(200, EmbeddingsFor(r)); });
  auto e = MakeOpenAIEmbedder(Endpoint(s), 3);
  ASSERT_TRUE(e.ok());
  Embedder* embedder = e->get();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        std::vector<std::string> texts = {std::string(static_cast<size_t>(t + 1), 'x'),
                                          std::string(static_cast<size_t>(10 + i), 'y')};
        auto v = embedder->Embed(texts);
        if (!v.ok() || v->size() != 6) {
          ++wrong;
          continue;
        }
        for (size_t k = 0; k < 2; ++k) {
          std::vector<float> want = Expected(texts[k], k);
          for (size_t d = 0; d < 3; ++d) {
            if (std::abs((*v)[k * 3 + d] - want[d]) > 1e-6) ++wrong;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(s.requests().size(), 20u);
}

TEST(OpenAIEmbedderTest, PerTokenEmbeddingsAreMeanPooled) {
  // llama-cpp-python answers so for a model without pooling: one vector per token.
  FakeServer s([](const Received&, int, Conn& c) {
    c.Respond(200, R"({"data": [{"index": 0, "embedding": [[1, 0, 4], [3, 2, 0]]}]})");
  });
  auto e = MakeOpenAIEmbedder(Endpoint(s));
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ((*e)->dimension(), 3u);
  std::vector<std::string> texts = {"two tokens"};
  auto v = (*e)->Embed(texts);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  const float n = std::sqrt(2.f * 2 + 1 + 2 * 2);  // mean [2, 1, 2], norm 3
  EXPECT_NEAR((*v)[0], 2 / n, 1e-6);
  EXPECT_NEAR((*v)[1], 1 / n, 1e-6);
  EXPECT_NEAR((*v)[2], 2 / n, 1e-6);
}

TEST(OpenAIEmbedderTest, WrongDimensionIsAnError) {
  FakeServer s([](const Received& r, int, Conn& c) { c.Respond(200, EmbeddingsFor(r)); });
  auto e = MakeOpenAIEmbedder(Endpoint(s), 4);
  ASSERT_TRUE(e.ok());
  std::vector<std::string> texts = {"x"};
  auto v = (*e)->Embed(texts);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(v.status().message().find("dimension 3, expected 4"), std::string::npos) << v.status().ToString();
}

TEST(OpenAIEmbedderTest, RetriesServerErrorsAndRateLimits) {
  for (int first : {500, 503, 429}) {
    FakeServer s([first](const Received& r, int n, Conn& c) {
      if (n == 0) {
        c.Respond(first, R"({"error": {"message": "busy"}})");
      } else {
        c.Respond(200, EmbeddingsFor(r));
      }
    });
    auto e = MakeOpenAIEmbedder(Endpoint(s), 3);
    ASSERT_TRUE(e.ok());
    std::vector<std::string> texts = {"abc"};
    auto v = (*e)->Embed(texts);
    ASSERT_TRUE(v.ok()) << first << ": " << v.status().ToString();
    EXPECT_EQ(s.requests().size(), 2u) << first;
  }
}

TEST(OpenAIEmbedderTest, GivesUpAfterTheRetries) {
  FakeServer s([](const Received&, int, Conn& c) {
    c.Respond(503, R"({"error": {"message": "model is loading"}})");
  });
  OpenAIOptions o = Endpoint(s);
  o.retries = 2;
  auto e = MakeOpenAIEmbedder(o, 3);
  ASSERT_TRUE(e.ok());
  std::vector<std::string> texts = {"abc"};
  auto v = (*e)->Embed(texts);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(v.status().message().find("after 3 tries"), std::string::npos) << v.status().ToString();
  EXPECT_NE(v.status().message().find("HTTP 503: model is loading"), std::string::npos);
  EXPECT_EQ(s.requests().size(), 3u);

  FakeServer limited([](const Received&, int, Conn& c) { c.Respond(429, R"({"error": "slow down"})"); });
  o = Endpoint(limited);
  o.retries = 0;
  auto e2 = MakeOpenAIEmbedder(o, 3);
  ASSERT_TRUE(e2.ok());
  auto v2 = (*e2)->Embed(texts);
  EXPECT_EQ(v2.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(v2.status().message().find("slow down"), std::string::npos);
  EXPECT_EQ(limited.requests().size(), 1u);
}

TEST(OpenAIEmbedderTest, ClientErrorsMapToCodesWithTheServersMessageAndAreNotRetried) {
  struct Case {
    int status;
    std::string body;
    StatusCode code;
    std::string message;
  };
  std::vector<Case> cases = {
      {401, R"({"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})",
       StatusCode::kUnauthenticated, "HTTP 401: Incorrect API key provided"},
      {403, R"({"error": "not allowed"})", StatusCode::kPermissionDenied, "HTTP 403: not allowed"},
      {404, R"({"detail": "Not Found"})", StatusCode::kNotFound, "HTTP 404: Not Found"},
      {400, R"({"error": {"message": "input too long"}})", StatusCode::kInvalidArgument,
       "HTTP 400: input too long"},
      {422, "plain text reason", StatusCode::kInvalidArgument, "HTTP 422: plain text reason"},
  };
  for (const Case& k : cases) {
    FakeServer s([&k](const Received&, int, Conn& c) { c.Respond(k.status, k.body); });
    auto e = MakeOpenAIEmbedder(Endpoint(s), 3);
    ASSERT_TRUE(e.ok());
    std::vector<std::string> texts = {"abc"};
    auto v = (*e)->Embed(texts);
    ASSERT_FALSE(v.ok()) << k.status;
    EXPECT_EQ(v.status().code(), k.code) << v.status().ToString();
    EXPECT_NE(v.status().message().find(k.message), std::string::npos) << v.status().ToString();
    EXPECT_NE(v.status().message().find(s.base_url() + "/embeddings"), std::string::npos);
    EXPECT_EQ(s.requests().size(), 1u) << k.status;
  }
}

TEST(OpenAIEmbedderTest, MalformedAnswersAreInternalErrors) {
  std::vector<std::pair<std::string, std::string>> cases = {
      {"{not json", "not JSON"},
      {R"({"object": "list"})", "no \"data\" array"},
      {R"({"data": []})", "0 embeddings for 1 inputs"},
      {R"({"data": [{"index": 0}]})", "no \"embedding\" array"},
      {R"({"data": [{"index": 5, "embedding": [1, 2, 3]}]})", "not an input position"},
      {R"({"data": [{"index": 0, "embedding": [1, "x", 3]}]})", "non-number"},
      {R"({"data": [{"index": 0, "embedding": [0, 0, 0]}]})", "zero embedding"},
      {R"({"data": [{"index": 0, "embedding": [[1, 2, 3], [1, 2]]}]})", "different lengths"},
      {R"({"data": [{"index": 0, "embedding": [[1, 2, 3], 4]}]})", "mixes numbers and arrays"},
  };
  for (const auto& [body, message] : cases) {
    FakeServer s([&body](const Received&, int, Conn& c) { c.Respond(200, body); });
    auto e = MakeOpenAIEmbedder(Endpoint(s), 3);
    ASSERT_TRUE(e.ok());
    std::vector<std::string> texts = {"abc"};
    auto v = (*e)->Embed(texts);
    ASSERT_FALSE(v.ok()) << body;
    EXPECT_EQ(v.status().code(), StatusCode::kInternal) << body;
    EXPECT_NE(v.status().message().find("malformed answer from " + s.base_url() + "/embeddings"),
              std::string::npos) << v.status().ToString();
    EXPECT_NE(v.status().message().find(message), std::string::npos) << v.status().ToString();
    EXPECT_EQ(s.requests().size(), 1u);  // not retried
  }
}

TEST(OpenAIEmbedderTest, SlowServerTimesOutAndIsRetried) {
  std::atomic<int> closed{0};
  FakeServer s([&closed](const Received&, int, Conn& c) {
    if (c.WaitForClose(10000)) ++closed;  // never answers; the client gives up
  });
  OpenAIOptions o = Endpoint(s);
  o.timeout_ms = 200;
  o.retries = 1;
  auto e = MakeOpenAIEmbedder(o, 3);
  ASSERT_TRUE(e.ok());
  std::vector<std::string> texts = {"abc"};
  auto v = (*e)->Embed(texts);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(v.status().message().find("did not answer within 200 ms"), std::string::npos)
      << v.status().ToString();
  // The server's thread sees the last request and the client's hang-up a moment after the client
  // has given up.
  for (int i = 0; i < 500 && closed.load() < 2; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(s.requests().size(), 2u);
  EXPECT_EQ(closed.load(), 2);
}

TEST(OpenAIEmbedderTest, EndpointDownIsUnavailableNamingTheUrl) {
  OpenAIOptions o;
  o.base_url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/v1";
  o.model = "m";
  o.retries = 1;
  auto e = MakeOpenAIEmbedder(o);  // the dimension probe fails
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(e.status().message().find("cannot reach " + o.base_url + "/embeddings: Connection refused"),
            std::string::npos) << e.status().ToString();

  auto given = MakeOpenAIEmbedder(o, 8);  // no probe when the dimension is given
  ASSERT_TRUE(given.ok());
  std::vector<std::string> texts = {"abc"};
  auto v = (*given)->Embed(texts);
  EXPECT_EQ(v.status().code(), StatusCode::kUnavailable);
}

TEST(OpenAIEmbedderTest, BadOptions) {
  OpenAIOptions o;
  o.model = "m";
  o.base_url = "ftp://x/v1";
  EXPECT_EQ(MakeOpenAIEmbedder(o, 3).status().code(), StatusCode::kInvalidArgument);
  o.base_url = "http://127.0.0.1:1/v1";
  o.batch = 0;
  EXPECT_EQ(MakeOpenAIEmbedder(o, 3).status().code(), StatusCode::kInvalidArgument);
  o.batch = 4;
  o.model = "";
  EXPECT_EQ(MakeOpenAIEmbedder(o, 3).status().code(), StatusCode::kInvalidArgument);
  o.model = "m";
  o.timeout_ms = 0;
  EXPECT_EQ(MakeOpenAIEmbedder(o, 3).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- generator

Prompt TwoChunkPrompt() {
  Prompt p;
  p.system = "Answer from the context; cite it as [n].";
  p.user = "Context:\n[1] Paris is in France.\n[2] Rome is in Italy.\n\nQuestion: where is Paris?";
  p.context = {{"doc-a", 0, 0.9f, "Paris is in France."}, {"doc-b", 3, 0.5f, "Rome is in Italy."}};
  return p;
}

std::string Delta(const std::string& piece) {
  return "data: " + json{{"id", "c1"}, {"object", "chat.completion.chunk"},
                         {"choices", {{{"index", 0}, {"delta", {{"content", piece}}}, {"finish_reason", nullptr}}}}}
                        .dump() + "\n\n";
}

TEST(OpenAIGeneratorTest, NonStreaming) {
  FakeServer s([](const Received&, int, Conn& c) {
    c.Respond(200, json{{"choices", {{{"index", 0},
                                     {"message", {{"role", "assistant"},
                                                  {"content", "Paris is in France [1]. See [2, 7] and [9]."}}},
                                     {"finish_reason", "stop"}}}}}.dump());
  });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(s);
  o.endpoint.api_key = "k";
  o.stream = false;
  o.max_tokens = 64;
  o.temperature = 0.5f;
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok()) << g.status().ToString();
  EXPECT_EQ((*g)->name(), "openai:test-model");
  std::vector<std::string> pieces;
  auto r = (*g)->Generate("where is Paris?", TwoChunkPrompt(), [&](std::string_view p) {
    pieces.emplace_back(p);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "Paris is in France [1]. See [2, 7] and [9].");
  EXPECT_EQ(r->cited, (std::vector<uint32_t>{1, 2}));  // [7] and [9] name no context item
  EXPECT_EQ(r->generator, "openai:test-model");
  EXPECT_EQ(pieces, std::vector<std::string>{r->text});
  auto reqs = s.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].path, "/v1/chat/completions");
  EXPECT_EQ(reqs[0].headers["authorization"], "Bearer k");
  json body = reqs[0].Json();
  EXPECT_EQ(body["model"], "test-model");
  EXPECT_EQ(body["max_tokens"], 64);
  EXPECT_FLOAT_EQ(body["temperature"].get<float>(), 0.5f);
  EXPECT_EQ(body["stream"], false);
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0]["role"], "system");
  EXPECT_EQ(body["messages"][0]["content"], TwoChunkPrompt().system);
  EXPECT_EQ(body["messages"][1]["role"], "user");
  EXPECT_EQ(body["messages"][1]["content"], TwoChunkPrompt().user);
}

TEST(OpenAIGeneratorTest, StreamingDeliversEachPiece) {
  FakeServer s([](const Received&, int, Conn& c) {
    c.StartChunked();
    // A role-only first delta, a comment, CRLF line ends, an event split over two chunks.
    c.Chunk("data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\"}}]}\r\n\r\n");
    c.Chunk(": keep-alive\r\n\r\n");
    c.Chunk(Delta("Paris"));
    std::string d = Delta(" is in France");
    c.Chunk(d.substr(0, 10));
    c.Chunk(d.substr(10));
    c.Chunk(Delta(" [1]."));
    c.Chunk("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n");
    c.Chunk("data: [DONE]\n\n");
    c.EndChunked();
  });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(s);
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  std::vector<std::string> pieces;
  auto r = (*g)->Generate("q", TwoChunkPrompt(), [&](std::string_view p) {
    pieces.emplace_back(p);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(pieces, (std::vector<std::string>{"Paris", " is in France", " [1]."}));
  EXPECT_EQ(r->text, "Paris is in France [1].");
  EXPECT_EQ(r->cited, std::vector<uint32_t>{1});
  json body = s.requests()[0].Json();
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(s.requests()[0].headers["accept"], "text/event-stream");

  auto quiet = (*g)->Generate("q", TwoChunkPrompt());  // no callback: still collects the text
  ASSERT_TRUE(quiet.ok());
  EXPECT_EQ(quiet->text, "Paris is in France [1].");
}

TEST(OpenAIGeneratorTest, StoppingAStreamCutsTheTransfer) {
  std::atomic<bool> client_closed{false};
  FakeServer s([&](const Received&, int, Conn& c) {
    c.StartChunked();
    c.Chunk(Delta("one"));
    c.Chunk(Delta(" two"));
    // More would follow; the client must hang up instead of waiting.
    client_closed = c.WaitForClose(10000);
  });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(s);
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  int calls = 0;
  auto r = (*g)->Generate("q", TwoChunkPrompt(), [&](std::string_view) { return ++calls < 2; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(r->text, "one two");
  // The server object is destroyed at scope end; make sure its handler saw the hang-up.
  for (int i = 0; i < 200 && !client_closed; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_TRUE(client_closed.load());
}

TEST(OpenAIGeneratorTest, StreamThatStallsTimesOut) {
  FakeServer s([](const Received&, int, Conn& c) {
    c.StartChunked();
    c.Chunk(Delta("first"));
    c.WaitForClose(10000);
  });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(s);
  o.endpoint.timeout_ms = 300;
  o.endpoint.retries = 3;  // not retried: a piece was delivered
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  std::string got;
  auto r = (*g)->Generate("q", TwoChunkPrompt(), [&](std::string_view p) {
    got += p;
    return true;
  });
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(r.status().message().find("sent nothing for 300 ms"), std::string::npos) << r.status().ToString();
  EXPECT_EQ(got, "first");
  EXPECT_EQ(s.requests().size(), 1u);
}

TEST(OpenAIGeneratorTest, StreamingErrorsAndRetries) {
  // 500 then a good stream: retried, since nothing had been delivered.
  FakeServer flaky([](const Received&, int n, Conn& c) {
    if (n == 0) {
      c.Respond(500, R"({"error": {"message": "oops"}})");
      return;
    }
    c.StartChunked();
    c.Chunk(Delta("ok"));
    c.Chunk("data: [DONE]\n\n");
    c.EndChunked();
  });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(flaky);
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  auto r = (*g)->Generate("q", TwoChunkPrompt());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->text, "ok");
  EXPECT_EQ(flaky.requests().size(), 2u);

  FakeServer denied([](const Received&, int, Conn& c) {
    c.Respond(401, R"({"error": {"message": "Invalid API key"}})");
  });
  o.endpoint = Endpoint(denied);
  g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_EQ(r.status().code(), StatusCode::kUnauthenticated);
  EXPECT_NE(r.status().message().find("HTTP 401: Invalid API key"), std::string::npos) << r.status().ToString();

  FakeServer garbled([](const Received&, int, Conn& c) {
    c.StartChunked();
    c.Chunk("data: {\"choices\": [oops\n\n");
    c.EndChunked();
  });
  o.endpoint = Endpoint(garbled);
  g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("not a JSON object"), std::string::npos) << r.status().ToString();

  FakeServer cut([](const Received&, int, Conn& c) {
    c.StartChunked();
    c.Chunk(Delta("first"));
    // Closes without the last chunk: the answer is cut short.
  });
  o.endpoint = Endpoint(cut);
  o.endpoint.retries = 2;  // not retried: a piece was delivered
  g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(r.status().message().find("the stream broke after 5 bytes"), std::string::npos) << r.status().ToString();
  EXPECT_NE(r.status().message().find("/chat/completions broke off its answer (HTTP 200)"), std::string::npos)
      << r.status().ToString();
  EXPECT_EQ(cut.requests().size(), 1u);

  FakeServer midstream([](const Received&, int, Conn& c) {
    c.StartChunked();
    c.Chunk(R"(data: {"error": {"message": "context length exceeded"}})" "\n\n");
    c.EndChunked();
  });
  o.endpoint = Endpoint(midstream);
  g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("context length exceeded"), std::string::npos) << r.status().ToString();
}

TEST(OpenAIGeneratorTest, NonStreamingMalformedAndSlow) {
  FakeServer bad([](const Received&, int, Conn& c) { c.Respond(200, R"({"choices": []})"); });
  OpenAIChatOptions o;
  o.endpoint = Endpoint(bad);
  o.stream = false;
  auto g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  auto r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
  EXPECT_NE(r.status().message().find("choices[0].message.content"), std::string::npos);

  FakeServer slow([](const Received&, int, Conn& c) { c.WaitForClose(10000); });
  o.endpoint = Endpoint(slow);
  o.endpoint.timeout_ms = 200;
  o.endpoint.retries = 0;
  g = MakeOpenAIGenerator(o);
  ASSERT_TRUE(g.ok());
  r = (*g)->Generate("q", TwoChunkPrompt());
  EXPECT_EQ(r.status().code(), StatusCode::kDeadlineExceeded);
}

TEST(OpenAIGeneratorTest, EndpointDownAndBadOptions) {
  OpenAIChatOptions o;
  o.endpoint.base_url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/v1";
  o.endpoint.model = "m";
  o.endpoint.retries = 0;
  for (bool stream : {true, false}) {
    o.stream = stream;
    auto g = MakeOpenAIGenerator(o);
    ASSERT_TRUE(g.ok());
    auto r = (*g)->Generate("q", TwoChunkPrompt());
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable);
    EXPECT_NE(r.status().message().find("cannot reach " + o.endpoint.base_url +
                                        "/chat/completions: Connection refused"),
              std::string::npos) << r.status().ToString();
  }
  o.max_tokens = 0;
  EXPECT_EQ(MakeOpenAIGenerator(o).status().code(), StatusCode::kInvalidArgument);
  o.max_tokens = 8;
  o.temperature = -1;
  EXPECT_EQ(MakeOpenAIGenerator(o).status().code(), StatusCode::kInvalidArgument);
  o.temperature = 0;
  o.endpoint.model.clear();
  EXPECT_EQ(MakeOpenAIGenerator(o).status().code(), StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------- a real server

// SEXTANT_LLM_URL=http://127.0.0.1:PORT/v1 (and SEXTANT_LLM_MODEL, default "stories260K"):
// see tests/llm/README.md.
#define SEXTANT_REQUIRE_LLM(url, model)                                                         \
  const char* url##_env = std::getenv("SEXTANT_LLM_URL");                                       \
  if (url##_env == nullptr || *url##_env == '\0') {                                             \
    GTEST_SKIP() << "SEXTANT_LLM_URL not set: no OpenAI-compatible server to test against "     \
                    "(bash tests/llm/run.sh starts one and runs this test)";                    \
  }                                                                                             \
  const std::string url = url##_env;                                                            \
  const char* model##_env = std::getenv("SEXTANT_LLM_MODEL");                                   \
  const std::string model = model##_env && *model##_env ? model##_env : "stories260K"

TEST(OpenAIRealServerTest, Embeddings) {
  SEXTANT_REQUIRE_LLM(url, model);
  OpenAIOptions o;
  o.base_url = url;
  o.model = model;
  o.timeout_ms = 60000;
  auto e = MakeOpenAIEmbedder(o);
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const uint32_t dim = (*e)->dimension();
  EXPECT_GT(dim, 0u);
  std::vector<std::string> texts = {"Once upon a time there was a little dog.",
                                    "The girl went to the park with her mom.",
                                    "Tim liked to play with his red ball."};
  auto a = (*e)->Embed(texts);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_EQ(a->size(), texts.size() * dim);
  for (size_t i = 0; i < texts.size(); ++i) {
    double n2 = 0;
    for (size_t k = 0; k < dim; ++k) n2 += double((*a)[i * dim + k]) * (*a)[i * dim + k];
    EXPECT_NEAR(n2, 1.0, 1e-4) << i;
  }
  // Different texts, different vectors.
  double diff = 0;
  for (size_t k = 0; k < dim; ++k) diff += std::abs((*a)[k] - (*a)[dim + k]);
  EXPECT_GT(diff, 1e-3);
  auto b = (*e)->Embed(texts);  // deterministic
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  for (size_t k = 0; k < a->size(); ++k) ASSERT_NEAR((*a)[k], (*b)[k], 1e-5) << k;
  std::printf("real server: %s, dimension %u, first values %.4f %.4f %.4f\n", (*e)->spec().c_str(), dim,
              (*a)[0], (*a)[1], (*a)[2]);
}

TEST(OpenAIRealServerTest, GenerateStreamingAndNot) {
  SEXTANT_REQUIRE_LLM(url, model);
  Prompt p;
  p.system = "You tell short stories.";
  p.user = "Once upon a time, there was a little girl named Lily.";
  p.context = {{"story", 0, 1.f, "Lily had a cat."}};
  OpenAIChatOptions o;
  o.endpoint.base_url = url;
  o.endpoint.model = model;
  o.endpoint.timeout_ms = 60000;
  o.max_tokens = 32;
  o.temperature = 0;

  o.stream = false;
  auto whole = MakeOpenAIGenerator(o);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  auto a = (*whole)->Generate("q", p);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_FALSE(a->text.empty());

  o.stream = true;
  auto streamed = MakeOpenAIGenerator(o);
  ASSERT_TRUE(streamed.ok());
  std::vector<std::string> pieces;
  auto b = (*streamed)->Generate("q", p, [&](std::string_view piece) {
    pieces.emplace_back(piece);
    return true;
  });
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_GE(pieces.size(), 3u);
  EXPECT_EQ(b->text, a->text);  // temperature 0: the same answer either way
  std::string joined;
  for (const std::string& s : pieces) joined += s;
  EXPECT_EQ(joined, b->text);
  std::printf("real server: %zu pieces: \"%s\"\n", pieces.size(), b->text.c_str());

  // Stop after two pieces: what was produced comes back, and the server is still fine after.
  std::vector<std::string> first;
  auto c = (*streamed)->Generate("q", p, [&](std::string_view piece) {
    first.emplace_back(piece);
    return first.size() < 2;
  });
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(c->text, first[0] + first[1]);
  EXPECT_EQ(b->text.rfind(c->text, 0), 0u);  // a prefix of the full answer
  auto d = (*whole)->Generate("q", p);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  EXPECT_EQ(d->text, a->text);
}

}  // namespace
}  // namespace sextant::rag
