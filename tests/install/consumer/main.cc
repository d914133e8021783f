// Uses the installed engine and client: writes and searches a collection in the embedded engine,
// and makes one client call to an address where no server listens (a clear UNAVAILABLE error).
// Prints "consumer ok" and exits 0 when everything behaves.
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "sextant/client.h"
#include "sextant/sextant.h"

namespace {

int Fail(const char* what, const sextant::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: consumer DIR\n");
    return 2;
  }
  auto db = sextant::Database::Open(sextant::DatabaseOptions{}, argv[1]);
  if (!db.ok()) return Fail("open", db.status());
  sextant::CollectionOptions options;
  options.dimension = 2;
  options.metric = sextant::Metric::kL2;
  auto col = (*db)->CreateCollection("c", options);
  if (!col.ok()) return Fail("create", col.status());
  std::vector<sextant::PointId> ids = {1, "two"};
  std::vector<float> vectors = {0.0f, 0.0f, 1.0f, 1.0f};
  sextant::Status s = (*col)->Upsert({}, ids, vectors, {});
  if (!s.ok()) return Fail("upsert", s);
  sextant::SearchOptions search;
  search.k = 1;
  std::vector<float> query = {0.9f, 0.9f};
  auto hits = (*col)->Search(search, query);
  if (!hits.ok()) return Fail("search", hits.status());
  if (hits->size() != 1 || hits->front().id.ToString() != "two") {
    std::fprintf(stderr, "search: expected the point \"two\"\n");
    return 1;
  }

  sextant::ClientOptions client_options;
  client_options.address = std::string("unix:") + argv[1] + "/no-server.sock";
  client_options.timeout_ms = 2000;
  auto client = sextant::Client::Connect(client_options);
  if (!client.ok()) return Fail("connect", client.status());
  auto info = (*client)->Info();
  if (info.ok() || info.status().code() != sextant::StatusCode::kUnavailable) {
    std::fprintf(stderr, "info without a server: expected Unavailable, got %s\n",
                 info.ok() ? "OK" : info.status().ToString().c_str());
    return 1;
  }
  std::printf("consumer ok\n");
  return 0;
}
