// The C++ client in one page: connect to a running sextantd, create a collection, write points
// with payloads, search with and without a filter, read a point back, and drop the collection.
//
//   sextantd --data /tmp/sextant-data --listen 127.0.0.1:7070 &
//   sextant_client_quickstart 127.0.0.1:7070            # [API key as a second argument]
#include <cstdio>
#include <string>
#include <vector>

#include "sextant/client.h"

namespace {

int Fail(const char* what, const sextant::Status& status) {
  std::fprintf(stderr, "%s: %s\n", what, status.ToString().c_str());
  return 1;
}

void PrintHits(const char* title, const std::vector<sextant::Hit>& hits) {
  std::printf("%s\n", title);
  for (const sextant::Hit& hit : hits) {
    std::printf("  %-8s score %.4f  %s\n", hit.id.ToString().c_str(), hit.score, hit.payload.c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  sextant::ClientOptions options;
  options.address = argc > 1 ? argv[1] : "127.0.0.1:7070";
  if (argc > 2) options.api_key = argv[2];
  options.timeout_ms = 10000;

  // Connect makes no network call; Info is the first one and checks the address and the key.
  auto client = sextant::Client::Connect(options);
  if (!client.ok()) return Fail("connect", client.status());
  auto info = (*client)->Info();
  if (!info.ok()) return Fail("server info", info.status());
  std::printf("sextantd %s (%s kernels) at %s\n", info->version.c_str(), info->simd_level.c_str(),
              options.address.c_str());

  // A collection of 4-dimensional vectors compared by cosine similarity, with an HNSW index and
  // an indexed payload field. Start from scratch if an earlier run left it behind.
  sextant::Status dropped = (*client)->DropCollection("quickstart");
  if (!dropped.ok() && dropped.code() != sextant::StatusCode::kNotFound) return Fail("drop", dropped);
  sextant::CollectionOptions collection_options;
  collection_options.dimension = 4;
  collection_options.metric = sextant::Metric::kCosine;
  collection_options.index = sextant::IndexOptions::Parse("HNSW16").value();
  collection_options.payload_indexes = {{.field = "lang", .type = sextant::PayloadFieldType::kKeyword}};
  auto created = (*client)->CreateCollection("quickstart", collection_options);
  if (!created.ok()) return Fail("create", created.status());

  std::unique_ptr<sextant::RemoteCollection> docs = (*client)->Collection("quickstart");

  // Ids are numbers or strings; vectors are row-major; payloads are JSON objects.
  std::vector<sextant::PointId> ids = {"doc-1", "doc-2", "doc-3", 42};
  std::vector<float> vectors = {
      0.9f, 0.1f, 0.0f, 0.0f,  //
      0.8f, 0.2f, 0.1f, 0.0f,  //
      0.0f, 0.1f, 0.9f, 0.2f,  //
      0.1f, 0.0f, 0.2f, 0.9f,
  };
  std::vector<std::string> payloads = {R"({"lang": "en", "title": "Sextants"})",
                                       R"({"lang": "fr", "title": "Le sextant"})",
                                       R"({"lang": "en", "title": "Octants"})",
                                       R"({"lang": "de", "title": "Der Sextant"})"};
  sextant::Status s = docs->Upsert({}, ids, vectors, payloads);
  if (!s.ok()) return Fail("upsert", s);

  // Bulk loads go through a stream: each Write is one batch, committed and acknowledged.
  auto stream = docs->OpenUpsertStream();
  for (int batch = 0; batch < 3; ++batch) {
    std::vector<sextant::PointId> batch_ids;
    std::vector<float> batch_vectors;
    batch_ids.reserve(100);
    for (int i = 0; i < 100; ++i) {
      batch_ids.emplace_back(static_cast<uint64_t>(1000 + batch * 100 + i));
      batch_vectors.insert(batch_vectors.end(), {0.1f, 0.1f, 0.1f + 0.001f * static_cast<float>(i),
                                                 1.0f});
    }
    s = stream->Write(batch_ids, batch_vectors);
    if (!s.ok()) return Fail("stream write", s);
  }
  auto streamed = stream->Finish();
  if (!streamed.ok()) return Fail("stream finish", streamed.status());
  std::printf("streamed %llu points\n", static_cast<unsigned long long>(*streamed));

  std::vector<float> query = {1.0f, 0.15f, 0.05f, 0.0f};
  sextant::SearchOptions search;
  search.k = 3;
  search.with_payload = true;
  sextant::SearchPlan plan;
  auto hits = docs->Search(search, query, &plan);
  if (!hits.ok()) return Fail("search", hits.status());
  PrintHits("nearest 3:", *hits);
  std::printf("  (answered by %s, %llu distance computations)\n", plan.index.c_str(),
              static_cast<unsigned long long>(plan.distance_computations));

  search.filter = R"({"lang": "en"})";
  auto english = docs->Search(search, query);
  if (!english.ok()) return Fail("filtered search", english.status());
  PrintHits("nearest 3 in English:", *english);

  auto point = docs->Get(42);
  if (!point.ok()) return Fail("get", point.status());
  std::printf("point 42: %s\n", point->payload.c_str());

  auto count = docs->Count();
  if (!count.ok()) return Fail("count", count.status());
  std::printf("%llu points\n", static_cast<unsigned long long>(*count));

  // Errors carry the engine's Status kinds: a 3-float vector in a 4-dimensional collection.
  s = docs->Upsert({}, std::vector<sextant::PointId>{7}, std::vector<float>{1, 2, 3});
  std::printf("wrong dimension -> %s\n", s.ToString().c_str());

  s = (*client)->DropCollection("quickstart");
  if (!s.ok()) return Fail("drop", s);
  return 0;
}
