#include "cluster/cluster_database.h"

#include <algorithm>
#include <limits>

#include "cluster/shard.h"

namespace sextant::cluster {

namespace {

Status NotInCluster(std::string_view what) {
  return Status::Unimplemented(std::string(what) + " is not supported in cluster mode yet (docs/cluster.md)");
}

}  // namespace

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
  info.text_fields = spec.options.text_fields;
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

  // Payload and vector updates go through the log like every write; they return what the
  // single node returns, counted when the update is accepted (by ids: every id must exist,
  // NotFound naming the first missing one, nothing published).
  StatusOr<uint64_t> SetPayload(const WriteOptions&, const PointSelector& points, std::string_view payload) override {
    return UpdatePayload(WriteMessage::Kind::kSetPayload, points, payload, {});
  }
  StatusOr<uint64_t> OverwritePayload(const WriteOptions&, const PointSelector& points,
                                      std::string_view payload) override {
    return UpdatePayload(WriteMessage::Kind::kOverwritePayload, points, payload, {});
  }
  StatusOr<uint64_t> DeletePayloadKeys(const WriteOptions&, const PointSelector& points,
                                       std::span<const std::string> keys) override {
    return UpdatePayload(WriteMessage::Kind::kDeletePayloadKeys, points, "", keys);
  }
  Status UpdateVectors(const WriteOptions&, std::span<const PointId> ids, std::span<const float> vectors) override {
    if (!ids.empty() && vectors.size() == ids.size() * spec_.options.dimension) {
      SEXTANT_RETURN_IF_ERROR(CountExisting(ids).status());
    }
    return node_->UpdateVectors(spec_, ids, vectors).status();
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
    const bool lower = LowerIsBetter(spec_.options.metric, options);
    const bool shaped = !options.group_by.empty() || options.mmr;
    if (!shaped || spec_.shards == 1) {
      // Each shard's top k (the threshold applied there), merged. One shard answers as the
      // engine does (its order of ties, its groups and picks).
      SEXTANT_ASSIGN_OR_RETURN(auto per_shard, FanOut(options, query, plan));
      if (spec_.shards == 1) return std::move(per_shard[0]);
      return MergeRanked(std::move(per_shard), lower, options.k);
    }
    if (!options.group_by.empty() && options.mmr) {
      return Status::InvalidArgument("search: mmr and group_by cannot be combined; choose one");
    }
    if (options.mmr && !(options.mmr_lambda >= 0.0f && options.mmr_lambda <= 1.0f)) {
      return Status::InvalidArgument("search: mmr_lambda must be in [0, 1], got " + std::to_string(options.mmr_lambda));
    }
    // group_by / mmr over several shards: shaped here over the collection's best `pool`
    // candidates, which are the best `pool` of the shards' best `pool` (search_merge.h).
    const size_t pool = ShapingPool(options);
    if (pool > std::numeric_limits<uint32_t>::max()) return Status::InvalidArgument("search: candidate pool too large");
    SearchOptions plain = options;
    plain.group_by.clear();
    plain.mmr = false;
    plain.k = static_cast<uint32_t>(pool);
    plain.candidates = options.candidates;
    if (options.mmr) {
      plain.with_vector = true;  // the similarities between candidates
      SEXTANT_ASSIGN_OR_RETURN(auto per_shard, FanOut(plain, query, plan));
      SEXTANT_ASSIGN_OR_RETURN(auto picks, PickMmr(MergeRanked(std::move(per_shard), lower, pool), options.k,
                                                   options.mmr_lambda, lower,
                                                   spec_.options.metric == Metric::kCosine && options.text.empty(),
                                                   spec_.options.dimension));
      if (!options.with_vector) {
        for (auto& h : picks) h.vector.clear();
      }
      return picks;
    }
    // group_by: each shard returns every group of its best `pool` candidates with each group's
    // first group_size members (Hit::group set); points without a group value are left out
    // there, so the pool's boundary comes from a plain ranking of the shards' best `pool`.
    SearchOptions grouped = options;
    grouped.k = static_cast<uint32_t>(pool);
    grouped.candidates = static_cast<uint32_t>(pool);
    SEXTANT_ASSIGN_OR_RETURN(auto per_shard, FanOut(grouped, query, plan));
    plain.with_payload = false;
    plain.with_vector = false;
    plain.payload_include.clear();
    plain.payload_exclude.clear();
    SEXTANT_ASSIGN_OR_RETURN(auto ranked_shards, FanOut(plain, query, nullptr));
    auto ranked = MergeRanked(std::move(ranked_shards), lower, pool);
    auto members = MergeRanked(std::move(per_shard), lower, std::numeric_limits<size_t>::max());
    if (ranked.size() == pool) {
      const Hit& last = ranked.back();
      std::erase_if(members, [&](const Hit& h) {
        if (h.score != last.score) return lower ? h.score > last.score : h.score < last.score;
        return IdBefore(last.id, h.id);
      });
    }
    return GroupRanked(members, options.k, options.group_size);
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

  Status SetIndex(const IndexOptions& index) override {
    SEXTANT_RETURN_IF_ERROR(node_->SetIndex(spec_, index).status());
    spec_.options.index = index;
    return Status::OK();
  }
  // Through the log like SetIndex: every replica rebuilds its own index in the background.
  Status RebuildIndex() override { return node_->RebuildIndex(spec_).status(); }
  Status WaitForIndex(uint64_t timeout_ms) const override {
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      if (auto rep = node_->LocalReplica(spec_, s)) SEXTANT_RETURN_IF_ERROR(rep->collection()->WaitForIndex(timeout_ms));
    }
    return Status::OK();
  }
  Status Checkpoint() override { return NotInCluster("Checkpoint"); }

 private:
  // How many distinct ids exist; NotFound naming the first that does not.
  StatusOr<uint64_t> CountExisting(std::span<const PointId> ids) const {
    SEXTANT_ASSIGN_OR_RETURN(auto existing, GetMany(ids));
    for (size_t i = 0; i < ids.size(); ++i) {
      if (!existing[i]) return Status::NotFound("point " + ids[i].ToString() + " not found in " + spec_.name);
    }
    std::vector<PointId> distinct(ids.begin(), ids.end());
    std::sort(distinct.begin(), distinct.end(), IdBefore);
    return static_cast<uint64_t>(std::unique(distinct.begin(), distinct.end()) - distinct.begin());
  }

  StatusOr<uint64_t> UpdatePayload(WriteMessage::Kind kind, const PointSelector& points, std::string_view payload,
                                   std::span<const std::string> keys) {
    uint64_t n = 0;
    if (points.by_filter) {
      if (points.filter.empty()) {
        return Status::InvalidArgument("a payload update by filter needs a filter ({} selects every point)");
      }
      SEXTANT_ASSIGN_OR_RETURN(n, CountWhere(points.filter));  // also checks the filter
    } else if (!points.ids.empty()) {
      SEXTANT_ASSIGN_OR_RETURN(n, CountExisting(points.ids));
    }
    SEXTANT_RETURN_IF_ERROR(node_->UpdatePayload(spec_, kind, points, payload, keys).status());
    return n;
  }

  // Every shard's answer to `options`, in shard order; the plans summed into *plan.
  StatusOr<std::vector<std::vector<Hit>>> FanOut(const SearchOptions& options, std::span<const float> query,
                                                 SearchPlan* plan) const {
    std::vector<std::vector<Hit>> out;
    SearchPlan merged;
    for (uint32_t s = 0; s < spec_.shards; ++s) {
      SearchPlan p;
      SEXTANT_ASSIGN_OR_RETURN(auto hits, node_->SearchShard(spec_, s, options, query, &p));
      out.push_back(std::move(hits));
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
    if (plan != nullptr) *plan = merged;
    return out;
  }

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
