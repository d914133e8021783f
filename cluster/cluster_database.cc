#include "cluster/cluster_database.h"

#include <algorithm>

#include "cluster/shard.h"

namespace sextant::cluster {

namespace {

Status NotInCluster(std::string_view what) {
  return Status::Unimplemented(std::string(what) + " is not supported in cluster mode yet (docs/cluster.md)");
}

// Dense scores: L2 lower is nearer, the others higher. BM25 and fused scores: higher is better.
bool LowerIsBetter(Metric metric, const SearchOptions& o) { return metric == Metric::kL2 && o.text.empty(); }

}  // namespace

bool IdBefore(const PointId& a, const PointId& b) {
  if (a.is_number() != b.is_number()) return a.is_number();
  if (a.is_number()) return a.number() < b.number();
  return a.str() < b.str();
}

bool HitBefore(Metric metric, const Hit& a, const Hit& b) {
  if (a.score != b.score) return metric == Metric::kL2 ? a.score < b.score : a.score > b.score;
  return IdBefore(a.id, b.id);
}

namespace {

// What a collection's definition says of it (the counts come from its shards).
CollectionInfo SpecInfo(const CollectionSpec& spec) {
  CollectionInfo info;
  info.name = spec.name;
  info.dimension = spec.options.dimension;
  info.metric = spec.options.metric;
  info.index = spec.options.index.ToString();
  info.properties = spec.options.properties;
  return info;
}

}  // namespace

class ClusterCollection final : public Collection {
 public:
  ClusterCollection(ClusterNode* node, CollectionSpec spec) : node_(node), spec_(std::move(spec)) {}

  const std::string& name() const override { return spec_.name; }
  uint32_t dimension() const override { return spec_.options.dimension; }
  Metric metric() const override { return spec_.options.metric; }

  Status Upsert(const WriteOptions&, std::span<const PointId> ids, std::span<const float> vectors,
                std::span<const std::string> payloads) override {
    return node_->Upsert(spec_, ids, vectors, payloads).status();
  }

  StatusOr<uint64_t> Delete(const WriteOptions&, std::span<const PointId> ids) override {
    SEXTANT_ASSIGN_OR_RETURN(auto existing, GetMany(ids));
    uint64_t n = 0;
    std::vector<PointId> seen;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!existing[i]) continue;
      if (std::find(seen.begin(), seen.end(), ids[i]) != seen.end()) continue;
      seen.push_back(ids[i]);
      ++n;
    }
    SEXTANT_RETURN_IF_ERROR(node_->Delete(spec_, ids).status());
    return n;
  }

  StatusOr<uint64_t> DeleteWhere(const WriteOptions&, std::string_view filter) override {
    if (filter.empty()) return Status::InvalidArgument("delete by filter needs a filter (use {} to delete every point)");
    SEXTANT_ASSIGN_OR_RETURN(uint64_t n, CountWhere(filter));  // also checks the filter
    SEXTANT_RETURN_IF_ERROR(node_->DeleteWhere(spec_, filter).status());
    return n;
  }

  StatusOr<uint64_t> Replace(const WriteOptions&, std::string_view, std::span<const PointId>, std::span<const float>,
                             std::span<const std::string>) override {
    return NotInCluster("Replace");
  }

  StatusOr<Point> Get(const PointId& id) const override {
    SEXTANT_ASSIGN_OR_RETURN(auto got, GetMany(std::span<const PointId>(&id, 1)));
    if (!got[0]) return Status::NotFound("point " + id.ToString() + " not found in " + spec_.name);
    return std::move(*got[0]);
  }

  StatusOr<std::vector<std::optional<Point>>> GetMany(std::span<const PointId> ids) const override {
    std::vector<std::vector<size_t>> by_shard(spec_.shards);
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i].is_string() && (ids[i].str().empty() || ids[i].str().size() > PointId::kMaxIdBytes)) {
        return Status::InvalidArgument("id " + std::to_string(i) + " must be 1.." +
                                       std::to_string(PointId::kMaxIdBytes) + " bytes");
      }
      by_shard[ShardOf(ids[i], spec_.shards)].push_back(i);
    }
    std::vector<std::optional<Point>> out(ids.size());
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      if (by_shard[s].empty()) continue;
      std::vector<PointId> part;
      for (size_t i : by_shard[s]) part.push_back(ids[i]);
      SEXTANT_ASSIGN_OR_RETURN(auto got, node_->GetShard(spec_, s, part));
      for (size_t j = 0; j < by_shard[s].size(); ++j) out[by_shard[s][j]] = std::move(got[j]);
    }
    return out;
  }

  StatusOr<uint64_t> Count() const override { return CountWhere(""); }

  StatusOr<uint64_t> CountWhere(std::string_view filter) const override {
    uint64_t total = 0;
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      SEXTANT_ASSIGN_OR_RETURN(uint64_t n, node_->CountShard(spec_, s, filter));
      total += n;
    }
    return total;
  }

  StatusOr<uint64_t> SetPayload(const WriteOptions&, const PointSelector&, std::string_view) override {
    return NotInCluster("SetPayload");
  }
  StatusOr<uint64_t> OverwritePayload(const WriteOptions&, const PointSelector&, std::string_view) override {
    return NotInCluster("OverwritePayload");
  }
  StatusOr<uint64_t> DeletePayloadKeys(const WriteOptions&, const PointSelector&,
                                       std::span<const std::string>) override {
    return NotInCluster("DeletePayloadKeys");
  }
  Status UpdateVectors(const WriteOptions&, std::span<const PointId>, std::span<const float>) override {
    return NotInCluster("UpdateVectors");
  }

  StatusOr<ScanPage> Scan(const ScanOptions& options) const override {
    uint32_t shard = 0;
    ScanOptions o = options;
    if (!options.cursor.empty()) {
      size_t colon = options.cursor.find(':');
      try {
        if (colon == std::string::npos) throw std::invalid_argument("no colon");
        size_t used = 0;
        unsigned long v = std::stoul(options.cursor.substr(0, colon), &used);
        if (used != colon || v >= spec_.shards) throw std::out_of_range("shard");
        shard = static_cast<uint32_t>(v);
      } catch (const std::exception&) {
        return Status::InvalidArgument("malformed scan cursor (not from this collection)");
      }
      o.cursor = options.cursor.substr(colon + 1);
    }
    ScanPage page;
    while (shard < spec_.shards) {
      SEXTANT_ASSIGN_OR_RETURN(auto part, node_->ScanShard(spec_, shard, o));
      for (auto& p : part.points) page.points.push_back(std::move(p));
      if (!part.next_cursor.empty()) {
        page.next_cursor = std::to_string(shard) + ":" + part.next_cursor;
        return page;
      }
      ++shard;
      o.cursor.clear();
      if (page.points.size() >= options.limit) break;
      o.limit = options.limit - static_cast<uint32_t>(page.points.size());
    }
    if (shard < spec_.shards) page.next_cursor = std::to_string(shard) + ":";
    return page;
  }

  StatusOr<std::vector<Hit>> Search(const SearchOptions& options, std::span<const float> query,
                                    SearchPlan* plan) const override {
    std::vector<Hit> all;
    SearchPlan merged;
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      SearchPlan p;
      SEXTANT_ASSIGN_OR_RETURN(auto hits, node_->SearchShard(spec_, s, options, query, &p));
      for (auto& h : hits) all.push_back(std::move(h));
      if (s == 0) {
        merged = p;
      } else {
        merged.matches += p.matches;
        merged.distance_computations += p.distance_computations;
        merged.filter_from_index = merged.filter_from_index && p.filter_from_index;
        merged.effort = std::max(merged.effort, p.effort);
        if (p.kind == SearchPlan::Kind::kIndex) merged.kind = SearchPlan::Kind::kIndex;
      }
    }
    bool lower = LowerIsBetter(spec_.options.metric, options);
    std::sort(all.begin(), all.end(), [&](const Hit& a, const Hit& b) {
      if (a.score != b.score) return lower ? a.score < b.score : a.score > b.score;
      return IdBefore(a.id, b.id);
    });
    if (all.size() > options.k) all.resize(options.k);
    if (plan != nullptr) *plan = merged;
    return all;
  }

  StatusOr<std::vector<std::vector<Hit>>> SearchBatch(const SearchOptions& options, std::span<const float> queries,
                                                      std::vector<SearchPlan>* plans) const override {
    const uint32_t dim = spec_.options.dimension;
    if (queries.empty() || queries.size() % dim != 0) {
      return Status::InvalidArgument("SearchBatch needs a positive multiple of " + std::to_string(dim) + " floats");
    }
    std::vector<std::vector<Hit>> out;
    if (plans != nullptr) plans->clear();
    for (size_t q = 0; q < queries.size() / dim; ++q) {
      SearchPlan plan;
      SEXTANT_ASSIGN_OR_RETURN(auto hits, Search(options, queries.subspan(q * dim, dim), &plan));
      out.push_back(std::move(hits));
      if (plans != nullptr) plans->push_back(plan);
    }
    return out;
  }

  StatusOr<CollectionInfo> Describe() const override {
    CollectionInfo info = SpecInfo(spec_);
    SEXTANT_ASSIGN_OR_RETURN(info.count, Count());
    return info;
  }

  Status SetIndex(const IndexOptions&) override { return NotInCluster("SetIndex"); }
  Status RebuildIndex() override { return NotInCluster("RebuildIndex"); }
  Status WaitForIndex(uint64_t timeout_ms) const override {
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      if (auto rep = node_->LocalReplica(spec_, s)) SEXTANT_RETURN_IF_ERROR(rep->collection()->WaitForIndex(timeout_ms));
    }
    return Status::OK();
  }
  Status Checkpoint() override { return NotInCluster("Checkpoint"); }

 private:
  ClusterNode* node_;
  CollectionSpec spec_;
};

StatusOr<std::shared_ptr<Collection>> ClusterDatabase::CreateCollection(std::string_view name,
                                                                        const CollectionOptions& options) {
  return CreateSharded(name, options, 1, 1);
}

StatusOr<std::shared_ptr<Collection>> ClusterDatabase::CreateSharded(std::string_view name,
                                                                     const CollectionOptions& options,
                                                                     uint32_t shards, uint32_t replication) {
  SEXTANT_ASSIGN_OR_RETURN(auto spec, node_->CreateCollection(name, options, shards, replication));
  return std::shared_ptr<Collection>(std::make_shared<ClusterCollection>(node_, std::move(spec)));
}

StatusOr<std::shared_ptr<Collection>> ClusterDatabase::GetCollection(std::string_view name) {
  SEXTANT_ASSIGN_OR_RETURN(auto spec, node_->GetSpec(name));
  return std::shared_ptr<Collection>(std::make_shared<ClusterCollection>(node_, std::move(spec)));
}

Status ClusterDatabase::DropCollection(std::string_view name) { return node_->DropCollection(name); }

StatusOr<std::vector<CollectionInfo>> ClusterDatabase::ListCollections() const {
  SEXTANT_ASSIGN_OR_RETURN(auto specs, node_->ListSpecs());
  std::vector<CollectionInfo> out;
  for (auto& spec : specs) {
    ClusterCollection c(node_, spec);
    auto info = c.Describe();
    if (!info.ok()) {
      // A shard without a live replica: list the collection anyway, saying so.
      CollectionInfo partial = SpecInfo(spec);
      partial.damage = std::string(info.status().message());
      out.push_back(std::move(partial));
      continue;
    }
    out.push_back(std::move(*info));
  }
  return out;
}

StatusOr<RepairReport> ClusterDatabase::RepairCollection(std::string_view) { return NotInCluster("RepairCollection"); }
Status ClusterDatabase::CreateAlias(std::string_view, std::string_view) { return NotInCluster("CreateAlias"); }
Status ClusterDatabase::DeleteAlias(std::string_view) { return NotInCluster("DeleteAlias"); }
StatusOr<std::vector<AliasInfo>> ClusterDatabase::ListAliases() const { return std::vector<AliasInfo>(); }
Status ClusterDatabase::UpdateAliases(std::span<const AliasChange>) { return NotInCluster("UpdateAliases"); }
StatusOr<SnapshotInfo> ClusterDatabase::CreateSnapshot(const SnapshotOptions&) { return NotInCluster("CreateSnapshot"); }
StatusOr<CollectionInfo> ClusterDatabase::RestoreCollection(const std::string&, std::string_view, std::string_view) {
  return NotInCluster("RestoreCollection");
}

}  // namespace sextant::cluster
