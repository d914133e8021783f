// The cross-client scenario, C++ edition (the Python and Go clients run the same steps and the
// integration test compares the JSON they write):
//
//   sextant_client_scenario --address HOST:PORT --siftsmall DIR --out FILE [--api-key KEY]
//   sextant_client_scenario --embedded DATA_DIR --siftsmall DIR --out FILE
//
// With --address it drives a running sextantd through the C++ client; with --embedded it runs
// the same steps in-process on sextant::Database in DATA_DIR (no server), which gives the answers
// the clients are compared with.
//
//  1. drop collection "scenario" if it exists; create it: dimension 128, L2, Flat, payload index
//     "group" INTEGER
//  2. upsert siftsmall_base.fvecs in batches of 1000 (the streaming upsert through a server),
//     id = row i, payload {"group": i % 10, "name": "p<i>"}
//  3. count_after_upsert        4. search: first 10 queries, k = 10, ids
//  5. filtered: same with filter {"group": 3}
//  6. deleted_ids: delete every i with i % 7 == 0     7. deleted_filter: delete {"group": 9}
//  8. count_final               9. search_after_delete: as 4
// 10. get_5: {"id": 5, "payload": {...}}
// Exits 0 after writing FILE, 1 with a message on any error, 2 on a usage error.
#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "sextant/client.h"
#include "sextant/sextant.h"
#include "tools/vector_file.h"

namespace sextant {
namespace {

using nlohmann::json;

constexpr const char* kCollection = "scenario";
constexpr size_t kBatch = 1000;
constexpr size_t kQueries = 10;

struct Args {
  std::string address;
  std::string embedded;
  std::string api_key;
  std::string siftsmall;
  std::string out;
};

void Usage() {
  std::fprintf(stderr,
               "usage: sextant_client_scenario --address HOST:PORT --siftsmall DIR --out FILE [--api-key KEY]\n"
               "       sextant_client_scenario --embedded DATA_DIR --siftsmall DIR --out FILE\n");
}

// Reads a .fvecs file into row-major floats (the one vector-file reader, tools/vector_file.h).
StatusOr<std::vector<float>> ReadFvecs(const std::string& path, size_t* dim) {
  SEXTANT_ASSIGN_OR_RETURN(vecfile::TexmexRows<float> rows, vecfile::ReadTexmex<float>(path));
  if (rows.rows == 0) return Status::InvalidArgument(path + ": no vectors");
  *dim = rows.dim;
  return std::move(rows.values);
}

struct Sift {
  size_t dim = 0;
  size_t n = 0;
  std::vector<float> base;
  std::vector<float> queries;  // the first kQueries
};

StatusOr<Sift> LoadSift(const std::string& dir) {
  Sift sift;
  SEXTANT_ASSIGN_OR_RETURN(sift.base, ReadFvecs(dir + "/siftsmall_base.fvecs", &sift.dim));
  size_t qdim = 0;
  SEXTANT_ASSIGN_OR_RETURN(std::vector<float> queries, ReadFvecs(dir + "/siftsmall_query.fvecs", &qdim));
  if (sift.dim != 128 || qdim != 128) return Status::InvalidArgument("siftsmall: expected 128 dimensions");
  if (queries.size() < kQueries * qdim) return Status::InvalidArgument("siftsmall: fewer than 10 queries");
  sift.n = sift.base.size() / sift.dim;
  sift.queries.assign(queries.begin(), queries.begin() + static_cast<ptrdiff_t>(kQueries * qdim));
  return sift;
}

CollectionOptions ScenarioOptions() {
  CollectionOptions options;
  options.dimension = 128;
  options.metric = Metric::kL2;
  options.index = IndexOptions{};  // Flat
  options.payload_indexes = {{.field = "group", .type = PayloadFieldType::kInteger}};
  return options;
}

// One batch of step 2: rows [start, start + count).
struct Batch {
  std::vector<PointId> ids;
  std::vector<std::string> payloads;
  std::span<const float> vectors;
};
Batch MakeBatch(const Sift& sift, size_t start, size_t count) {
  Batch b;
  b.ids.reserve(count);
  for (size_t i = start; i < start + count; ++i) {
    b.ids.emplace_back(static_cast<uint64_t>(i));
    b.payloads.push_back(json{{"group", i % 10}, {"name", "p" + std::to_string(i)}}.dump());
  }
  b.vectors = std::span<const float>(sift.base).subspan(start * sift.dim, count * sift.dim);
  return b;
}

template <typename C>
StatusOr<json> SearchIds(C& c, const Sift& sift, const std::string& filter) {
  SearchOptions options;
  options.k = 10;
  options.filter = filter;
  json out = json::array();
  for (size_t q = 0; q < kQueries; ++q) {
    SEXTANT_ASSIGN_OR_RETURN(std::vector<Hit> hits,
                             c.Search(options, std::span<const float>(sift.queries).subspan(q * sift.dim, sift.dim)));
    json ids = json::array();
    for (const Hit& h : hits) {
      if (!h.id.is_number()) return Status::Internal("unexpected string id " + h.id.str());
      ids.push_back(h.id.number());
    }
    out.push_back(std::move(ids));
  }
  return out;
}

// Steps 3 to 10 on a collection that holds the upserted points: the same code for the client's
// RemoteCollection and the engine's Collection.
template <typename C>
StatusOr<json> RunQueries(C& c, const Sift& sift) {
  json out;
  SEXTANT_ASSIGN_OR_RETURN(uint64_t count, c.Count());
  out["count_after_upsert"] = count;
  SEXTANT_ASSIGN_OR_RETURN(out["search"], SearchIds(c, sift, ""));
  SEXTANT_ASSIGN_OR_RETURN(out["filtered"], SearchIds(c, sift, R"({"group": 3})"));
  std::vector<PointId> sevens;
  for (size_t i = 0; i < sift.n; i += 7) sevens.emplace_back(static_cast<uint64_t>(i));
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted_ids, c.Delete(WriteOptions{}, sevens));
  out["deleted_ids"] = deleted_ids;
  SEXTANT_ASSIGN_OR_RETURN(uint64_t deleted_filter, c.DeleteWhere(WriteOptions{}, R"({"group": 9})"));
  out["deleted_filter"] = deleted_filter;
  SEXTANT_ASSIGN_OR_RETURN(count, c.Count());
  out["count_final"] = count;
  SEXTANT_ASSIGN_OR_RETURN(out["search_after_delete"], SearchIds(c, sift, ""));
  SEXTANT_ASSIGN_OR_RETURN(Point p, c.Get(PointId(uint64_t{5})));
  json payload = json::parse(p.payload, nullptr, /*allow_exceptions=*/false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Status::Internal("get 5: payload is not a JSON object: " + p.payload);
  }
  out["get_5"] = json{{"id", 5}, {"payload", std::move(payload)}};
  return out;
}

StatusOr<json> RunRemote(const Args& args, const Sift& sift) {
  ClientOptions options;
  options.address = args.address;
  options.api_key = args.api_key;
  options.timeout_ms = 120000;
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(options));
  Status dropped = client->DropCollection(kCollection);
  if (!dropped.ok() && dropped.code() != StatusCode::kNotFound) return dropped.WithPrefix("drop");
  SEXTANT_RETURN_IF_ERROR(client->CreateCollection(kCollection, ScenarioOptions()).status().WithPrefix("create"));
  auto c = client->Collection(kCollection);
  auto stream = c->OpenUpsertStream();
  for (size_t start = 0; start < sift.n; start += kBatch) {
    const Batch b = MakeBatch(sift, start, std::min(kBatch, sift.n - start));
    SEXTANT_RETURN_IF_ERROR(stream->Write(b.ids, b.vectors, b.payloads).WithPrefix("stream write"));
  }
  SEXTANT_ASSIGN_OR_RETURN(uint64_t streamed, stream->Finish());
  if (streamed != sift.n) {
    return Status::Internal("stream committed " + std::to_string(streamed) + " points, sent " +
                            std::to_string(sift.n));
  }
  return RunQueries(*c, sift);
}

StatusOr<json> RunEmbedded(const Args& args, const Sift& sift) {
  SEXTANT_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, Database::Open({}, args.embedded));
  Status dropped = db->DropCollection(kCollection);
  if (!dropped.ok() && dropped.code() != StatusCode::kNotFound) return dropped.WithPrefix("drop");
  SEXTANT_ASSIGN_OR_RETURN(std::shared_ptr<Collection> c, db->CreateCollection(kCollection, ScenarioOptions()));
  for (size_t start = 0; start < sift.n; start += kBatch) {
    const Batch b = MakeBatch(sift, start, std::min(kBatch, sift.n - start));
    SEXTANT_RETURN_IF_ERROR(c->Upsert({}, b.ids, b.vectors, b.payloads).WithPrefix("upsert"));
  }
  return RunQueries(*c, sift);
}

int Main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    std::string* target = flag == "--address"     ? &args.address
                          : flag == "--embedded"  ? &args.embedded
                          : flag == "--api-key"   ? &args.api_key
                          : flag == "--siftsmall" ? &args.siftsmall
                          : flag == "--out"       ? &args.out
                                                  : nullptr;
    if (target == nullptr || i + 1 >= argc) {
      std::fprintf(stderr, "%s: %s\n", flag.c_str(), target ? "needs a value" : "unknown flag");
      Usage();
      return 2;
    }
    *target = argv[++i];
  }
  if (args.address.empty() == args.embedded.empty() || args.siftsmall.empty() || args.out.empty() ||
      (!args.embedded.empty() && !args.api_key.empty())) {
    Usage();
    return 2;
  }
  auto sift = LoadSift(args.siftsmall);
  if (!sift.ok()) {
    std::fprintf(stderr, "sextant_client_scenario: %s\n", sift.status().ToString().c_str());
    return 1;
  }
  auto result = args.embedded.empty() ? RunRemote(args, *sift) : RunEmbedded(args, *sift);
  if (!result.ok()) {
    std::fprintf(stderr, "sextant_client_scenario: %s\n", result.status().ToString().c_str());
    return 1;
  }
  const std::string tmp = args.out + ".tmp";
  {
    std::ofstream out(tmp);
    out << result->dump(2) << "\n";
    if (!out.flush()) {
      std::fprintf(stderr, "sextant_client_scenario: cannot write %s\n", tmp.c_str());
      return 1;
    }
  }
  if (std::rename(tmp.c_str(), args.out.c_str()) != 0) {
    std::fprintf(stderr, "sextant_client_scenario: cannot rename %s to %s\n", tmp.c_str(), args.out.c_str());
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace sextant

int main(int argc, char** argv) { return sextant::Main(argc, argv); }
