#include "cluster/node.h"

#include <nats/nats.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "cluster/session.h"
#include "cluster/shard_rpc.h"

namespace sextant::cluster {

using nlohmann::json;

namespace {

uint64_t NowUs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

std::string ReplicaKey(const CollectionSpec& spec, uint32_t shard) {
  return spec.StreamName() + "/" + std::to_string(shard);
}

}  // namespace

StatusOr<std::unique_ptr<ClusterNode>> ClusterNode::Start(const NodeOptions& options, Database* local) {
  SEXTANT_RETURN_IF_ERROR(ValidateNodeId(options.node_id));
  if (options.heartbeat_ms <= 0 || options.node_ttl_ms < 2 * options.heartbeat_ms) {
    return Status::InvalidArgument("the node TTL must be at least two heartbeats");
  }
  std::unique_ptr<ClusterNode> n(new ClusterNode());
  n->options_ = options;
  n->db_ = local;
  NatsOptions no;
  no.urls = options.nats_urls;
  no.timeout_ms = options.connect_timeout_ms;
  no.replicas = options.jetstream_replicas;
  SEXTANT_ASSIGN_OR_RETURN(n->nats_, NatsClient::Connect(no));
  SEXTANT_ASSIGN_OR_RETURN(n->catalog_, Catalog::Open(n->nats_.get()));
  SEXTANT_ASSIGN_OR_RETURN(n->membership_, Membership::Open(n->nats_.get(), options.node_ttl_ms));
  n->writer_ = std::make_unique<LogWriter>(n->nats_.get(), options.node_id);
  n->self_ = NodeInfo{options.node_id, options.address, NowUs()};
  // Another live node with this id would consume the same durable consumers: refuse.
  SEXTANT_ASSIGN_OR_RETURN(auto live, n->membership_->LiveNodes());
  for (const auto& other : live) {
    if (other.id == options.node_id && other.address != options.address) {
      return Status::AlreadyExists("node id " + options.node_id + " is in use by a live node at " + other.address +
                                   " (wait " + std::to_string(options.node_ttl_ms) +
                                   " ms after stopping it, or pick another --node-id)");
    }
  }
  SEXTANT_RETURN_IF_ERROR(n->membership_->Heartbeat(n->self_));
  natsStatus s = natsConnection_Subscribe(&n->rpc_sub_, n->nats_->connection(), RpcSubject(options.node_id).c_str(),
                                          &ClusterNode::OnRequest, n.get());
  if (s != NATS_OK) return NatsError(s, "subscribing to " + RpcSubject(options.node_id));
  {
    SEXTANT_ASSIGN_OR_RETURN(auto nodes, n->membership_->LiveNodes());
    internal::MutexLock lock(n->mu_);
    for (const auto& x : nodes) n->live_.push_back(x.id);
  }
  SEXTANT_RETURN_IF_ERROR(n->Sync());
  n->heartbeat_ = std::thread([p = n.get()] { p->HeartbeatLoop(); });
  return n;
}

ClusterNode::~ClusterNode() {
  {
    internal::MutexLock lock(stop_mu_);
    stop_ = true;
  }
  stop_cv_.notify_all();
  if (heartbeat_.joinable()) heartbeat_.join();
  if (rpc_sub_ != nullptr) {
    natsSubscription_Unsubscribe(rpc_sub_);
    natsSubscription_Destroy(rpc_sub_);
  }
  if (membership_) membership_->Leave(options_.node_id).IgnoreError();
  std::map<std::string, std::shared_ptr<ShardReplica>> reps;
  {
    internal::MutexLock lock(mu_);
    reps.swap(replicas_);
  }
  for (auto& [k, r] : reps) r->Stop();
}

void ClusterNode::HeartbeatLoop() {
  while (true) {
    {
      internal::MutexLock lock(stop_mu_);
      if (stop_cv_.wait_for(stop_mu_, std::chrono::milliseconds(options_.heartbeat_ms), [&] { return stop_.load(); })) {
        return;
      }
    }
    Status st = membership_->Heartbeat(self_);
    if (!st.ok()) std::fprintf(stderr, "sextant cluster: heartbeat: %s\n", st.ToString().c_str());
    auto nodes = membership_->LiveNodes();
    if (nodes.ok()) {
      std::vector<std::string> ids;
      for (const auto& x : *nodes) ids.push_back(x.id);
      internal::MutexLock lock(mu_);
      live_ = std::move(ids);
    }
    st = Sync();
    if (!st.ok()) std::fprintf(stderr, "sextant cluster: sync: %s\n", st.ToString().c_str());
  }
}

Status ClusterNode::Sync() {
  internal::MutexLock sync_lock(sync_mu_);
  SEXTANT_ASSIGN_OR_RETURN(auto specs, catalog_->List());
  std::set<std::string> wanted;
  for (const auto& spec : specs) {
    for (uint32_t s = 0; s < spec.shards; ++s) {
      const auto& where = spec.placement[s];
      if (std::find(where.begin(), where.end(), options_.node_id) == where.end()) continue;
      std::string key = ReplicaKey(spec, s);
      wanted.insert(key);
      {
        internal::MutexLock lock(mu_);
        if (replicas_.count(key)) continue;
      }
      SEXTANT_ASSIGN_OR_RETURN(auto rep, ShardReplica::Open(nats_.get(), db_, spec, s, options_.node_id));
      SEXTANT_RETURN_IF_ERROR(rep->Start());
      internal::MutexLock lock(mu_);
      replicas_[key] = std::shared_ptr<ShardReplica>(std::move(rep));
    }
  }
  // Replicas of dropped collections: stop them and delete their local data.
  std::vector<std::shared_ptr<ShardReplica>> gone;
  {
    internal::MutexLock lock(mu_);
    for (auto it = replicas_.begin(); it != replicas_.end();) {
      if (wanted.count(it->first)) {
        ++it;
      } else {
        gone.push_back(it->second);
        it = replicas_.erase(it);
      }
    }
  }
  for (auto& r : gone) {
    r->Stop();
    Status st = db_->DropCollection(LocalCollectionName(r->spec(), r->shard()));
    if (!st.ok() && st.code() != StatusCode::kNotFound) return st;
  }
  return Status::OK();
}

std::shared_ptr<ShardReplica> ClusterNode::LocalReplica(const CollectionSpec& spec, uint32_t shard) {
  internal::MutexLock lock(mu_);
  auto it = replicas_.find(ReplicaKey(spec, shard));
  return it == replicas_.end() ? nullptr : it->second;
}

StatusOr<std::vector<NodeInfo>> ClusterNode::LiveNodes() const { return membership_->LiveNodes(); }

StatusOr<CollectionSpec> ClusterNode::CreateCollection(std::string_view name, const CollectionOptions& options,
                                                       uint32_t shards, uint32_t replication) {
  if (shards == 0) shards = 1;
  if (replication == 0) replication = 1;
  SEXTANT_RETURN_IF_ERROR(options.index.Validate(options.dimension));
  if (options.dimension == 0 || options.dimension > CollectionOptions::kMaxDimension) {
    return Status::InvalidArgument("dimension must be 1.." + std::to_string(CollectionOptions::kMaxDimension));
  }
  SEXTANT_ASSIGN_OR_RETURN(auto nodes, membership_->LiveNodes());
  std::vector<std::string> ids;
  for (const auto& n : nodes) ids.push_back(n.id);
  CollectionSpec spec;
  spec.name = std::string(name);
  spec.options = options;
  spec.shards = shards;
  spec.replication = replication;
  SEXTANT_ASSIGN_OR_RETURN(spec.placement, PlaceShards(shards, replication, ids));
  spec.created_us = NowUs();
  if (catalog_->Get(spec.name).ok()) return Status::AlreadyExists("collection " + spec.name + " already exists");
  // The engine's checks of the name and options, on a scratch local collection.
  {
    std::string probe = spec.name;
    auto made = db_->CreateCollection(probe, options);
    if (!made.ok()) {
      if (made.status().code() != StatusCode::kAlreadyExists) return made.status();
    } else {
      db_->DropCollection(probe).IgnoreError();
    }
  }
  SEXTANT_RETURN_IF_ERROR(writer_->CreateStream(spec));
  Status created = catalog_->Create(spec);
  if (!created.ok()) {
    writer_->DeleteStream(spec).IgnoreError();
    return created;
  }
  SEXTANT_RETURN_IF_ERROR(Sync());
  return spec;
}

Status ClusterNode::DropCollection(std::string_view name) {
  SEXTANT_ASSIGN_OR_RETURN(auto spec, catalog_->Get(std::string(name)));
  SEXTANT_RETURN_IF_ERROR(catalog_->Drop(spec.name));
  SEXTANT_RETURN_IF_ERROR(writer_->DeleteStream(spec));
  {
    internal::MutexLock lock(mu_);
    written_.erase(spec.StreamName());
  }
  return Sync();
}

StatusOr<CollectionSpec> ClusterNode::GetSpec(std::string_view name) { return catalog_->Get(std::string(name)); }

StatusOr<std::vector<CollectionSpec>> ClusterNode::ListSpecs() { return catalog_->List(); }

void ClusterNode::NoteWritten(const CollectionSpec& spec, const ShardSequences& seqs) {
  internal::MutexLock lock(mu_);
  auto& w = written_[spec.StreamName()];
  w.resize(spec.shards, 0);
  for (uint32_t s = 0; s < spec.shards && s < seqs.size(); ++s) w[s] = std::max(w[s], seqs[s]);
  if (SessionScope* session = SessionScope::Current()) session->NoteWritten(spec, seqs);
}

uint64_t ClusterNode::MinSequence(const CollectionSpec& spec, uint32_t shard) {
  internal::MutexLock lock(mu_);
  auto it = written_.find(spec.StreamName());
  if (it == written_.end() || shard >= it->second.size()) return 0;
  return it->second[shard];
}

StatusOr<ShardSequences> ClusterNode::Upsert(const CollectionSpec& spec, std::span<const PointId> ids,
                                             std::span<const float> vectors, std::span<const std::string> payloads) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->Upsert(spec, ids, vectors, payloads));
  NoteWritten(spec, seqs);
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::Delete(const CollectionSpec& spec, std::span<const PointId> ids) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->Delete(spec, ids));
  NoteWritten(spec, seqs);
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::DeleteWhere(const CollectionSpec& spec, std::string_view filter) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->DeleteWhere(spec, filter));
  NoteWritten(spec, seqs);
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::SetIndex(const CollectionSpec& spec, const IndexOptions& index) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->SetIndex(spec, index));
  NoteWritten(spec, seqs);
  SEXTANT_RETURN_IF_ERROR(catalog_->SetIndex(spec.name, spec.created_us, index));
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::RebuildIndex(const CollectionSpec& spec) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->RebuildIndex(spec));
  NoteWritten(spec, seqs);
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::UpdateVectors(const CollectionSpec& spec, std::span<const PointId> ids,
                                                    std::span<const float> vectors) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->UpdateVectors(spec, ids, vectors));
  NoteWritten(spec, seqs);
  return seqs;
}

StatusOr<ShardSequences> ClusterNode::UpdatePayload(const CollectionSpec& spec, WriteMessage::Kind kind,
                                                    const PointSelector& selector, std::string_view payload,
                                                    std::span<const std::string> keys) {
  SEXTANT_ASSIGN_OR_RETURN(auto seqs, writer_->UpdatePayload(spec, kind, selector, payload, keys));
  NoteWritten(spec, seqs);
  return seqs;
}

// ---- shard reads

StatusOr<json> ClusterNode::Ask(const std::string& node, const json& request, int64_t timeout_ms) {
  std::vector<uint8_t> bytes = json::to_msgpack(request);
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, nats_->connection(), RpcSubject(node).c_str(), bytes.data(),
                                        static_cast<int>(bytes.size()), timeout_ms + 1000);
  if (s != NATS_OK) return NatsError(s, "asking node " + node);
  const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(reply));
  json answer = json::from_msgpack(data, data + natsMsg_GetDataLength(reply), true, false);
  natsMsg_Destroy(reply);
  if (answer.is_discarded()) return Status::Internal("malformed answer from node " + node);
  return answer;
}

template <typename T, typename LocalFn, typename DecodeFn>
StatusOr<T> ClusterNode::ReadShard(const CollectionSpec& spec, uint32_t shard, json request, LocalFn local,
                                   DecodeFn decode) {
  ShardReadHeader h{spec.name, spec.created_us, shard, MinSequence(spec, shard), options_.read_timeout_ms};
  if (const SessionScope* session = SessionScope::Current()) {
    // Session consistency: the request's token (InvalidArgument when it is not this collection's),
    // waited for within the request's deadline.
    SEXTANT_ASSIGN_OR_RETURN(auto after, session->After(spec));
    h.min_sequence = std::max(h.min_sequence, after[shard]);
    h.timeout_ms = session->RemainingMs(options_.read_timeout_ms);
  }
  if (auto rep = LocalReplica(spec, shard)) {
    SEXTANT_RETURN_IF_ERROR(rep->WaitApplied(h.min_sequence, h.timeout_ms));
    return local(*rep);
  }
  std::vector<std::string> live;
  {
    internal::MutexLock lock(mu_);
    live = live_;
  }
  // The live set is refreshed once per heartbeat; a node that joined since (or one that just
  // started and has not seen the others yet) is looked up now rather than reported missing.
  const auto& where = spec.placement[shard];
  if (std::none_of(where.begin(), where.end(),
                   [&](const std::string& n) { return std::binary_search(live.begin(), live.end(), n); })) {
    auto nodes = membership_->LiveNodes();
    if (nodes.ok()) {
      live.clear();
      for (const auto& x : *nodes) live.push_back(x.id);
      std::sort(live.begin(), live.end());
      internal::MutexLock lock(mu_);
      live_ = live;
    }
  }
  request["h"] = HeaderToJson(h);
  Status last = Status::Unavailable("shard " + std::to_string(shard) + " of collection " + spec.name +
                                    " has no live replica (placed on " + [&] {
                                      std::string s;
                                      for (const auto& n : spec.placement[shard]) s += (s.empty() ? "" : ", ") + n;
                                      return s;
                                    }() + ")");
  for (const auto& node : spec.placement[shard]) {
    if (!std::binary_search(live.begin(), live.end(), node)) continue;
    auto answer = Ask(node, request, h.timeout_ms);
    if (!answer.ok()) {
      last = answer.status();
      continue;  // try the next replica
    }
    try {
      Status st = StatusFromJson(answer->at("status"));
      if (!st.ok()) {
        if (st.code() == StatusCode::kUnavailable) {
          last = st;
          continue;
        }
        return st;
      }
      return decode(*answer);
    } catch (const json::exception& e) {
      return Status::Internal(std::string("malformed answer from node ") + node + ": " + e.what());
    }
  }
  return last;
}

StatusOr<std::vector<Hit>> ClusterNode::SearchShard(const CollectionSpec& spec, uint32_t shard,
                                                    const SearchOptions& options, std::span<const float> query,
                                                    SearchPlan* plan) {
  json req = {{"op", "search"}, {"o", SearchOptionsToJson(options)},
              {"q", std::vector<float>(query.begin(), query.end())}};
  return ReadShard<std::vector<Hit>>(
      spec, shard, std::move(req), [&](ShardReplica& r) { return r.Search(options, query, plan); },
      [&](const json& a) -> StatusOr<std::vector<Hit>> {
        std::vector<Hit> hits;
        for (const auto& h : a.at("hits")) hits.push_back(HitFromJson(h));
        if (plan != nullptr) *plan = PlanFromJson(a.at("plan"));
        return hits;
      });
}

StatusOr<uint64_t> ClusterNode::CountShard(const CollectionSpec& spec, uint32_t shard, std::string_view filter) {
  json req = {{"op", "count"}, {"f", std::string(filter)}};
  return ReadShard<uint64_t>(
      spec, shard, std::move(req), [&](ShardReplica& r) { return r.Count(filter); },
      [](const json& a) -> StatusOr<uint64_t> { return a.at("n").get<uint64_t>(); });
}

StatusOr<std::vector<std::optional<Point>>> ClusterNode::GetShard(const CollectionSpec& spec, uint32_t shard,
                                                                  std::span<const PointId> ids) {
  json jids = json::array();
  for (const auto& id : ids) jids.push_back(IdToJson(id));
  json req = {{"op", "get"}, {"ids", std::move(jids)}};
  return ReadShard<std::vector<std::optional<Point>>>(
      spec, shard, std::move(req), [&](ShardReplica& r) { return r.GetMany(ids); },
      [](const json& a) -> StatusOr<std::vector<std::optional<Point>>> {
        std::vector<std::optional<Point>> out;
        for (const auto& p : a.at("points")) {
          if (p.is_null()) {
            out.emplace_back();
          } else {
            out.emplace_back(PointFromJson(p));
          }
        }
        return out;
      });
}

StatusOr<ScanPage> ClusterNode::ScanShard(const CollectionSpec& spec, uint32_t shard, const ScanOptions& options) {
  json req = {{"op", "scan"}, {"o", ScanOptionsToJson(options)}};
  return ReadShard<ScanPage>(
      spec, shard, std::move(req), [&](ShardReplica& r) { return r.Scan(options); },
      [](const json& a) -> StatusOr<ScanPage> {
        ScanPage page;
        for (const auto& p : a.at("points")) page.points.push_back(PointFromJson(p));
        const auto& b = a.at("next").get_binary();
        page.next_cursor.assign(b.begin(), b.end());
        return page;
      });
}

void ClusterNode::OnRequest(natsConnection* nc, natsSubscription*, natsMsg* msg, void* closure) {
  auto* self = static_cast<ClusterNode*>(closure);
  const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(msg));
  json req = json::from_msgpack(data, data + natsMsg_GetDataLength(msg), true, false);
  json answer;
  if (req.is_discarded()) {
    answer = {{"status", StatusToJson(Status::InvalidArgument("malformed shard request"))}};
  } else {
    try {
      answer = self->Serve(req);
    } catch (const json::exception& e) {
      answer = {{"status", StatusToJson(Status::InvalidArgument(std::string("malformed shard request: ") + e.what()))}};
    }
  }
  if (const char* reply = natsMsg_GetReply(msg); reply != nullptr) {
    std::vector<uint8_t> bytes = json::to_msgpack(answer);
    natsConnection_Publish(nc, reply, bytes.data(), static_cast<int>(bytes.size()));
  }
  natsMsg_Destroy(msg);
}

json ClusterNode::ServeStatus() {
  std::map<std::string, std::shared_ptr<ShardReplica>> reps;
  {
    internal::MutexLock lock(mu_);
    reps = replicas_;
  }
  json out = json::array();
  for (const auto& [key, rep] : reps) {
    Status err = rep->last_error();
    out.push_back({{"c", rep->spec().name},
                   {"cu", rep->spec().created_us},
                   {"s", rep->shard()},
                   {"a", rep->applied_sequence()},
                   {"k", rep->skipped_records()},
                   {"e", err.ok() ? std::string() : err.ToString()}});
  }
  return {{"status", StatusToJson(Status::OK())}, {"node", options_.node_id}, {"replicas", std::move(out)}};
}

json ClusterNode::Serve(const json& req) {
  if (req.contains("op") && req.at("op") == "status") return ServeStatus();
  ShardReadHeader h = HeaderFromJson(req.at("h"));
  auto spec = catalog_->Get(h.collection);
  if (!spec.ok()) return {{"status", StatusToJson(spec.status())}};
  if (spec->created_us != h.created_us) {
    return {{"status", StatusToJson(Status::NotFound("collection " + h.collection + " was dropped"))}};
  }
  auto rep = LocalReplica(*spec, h.shard);
  if (!rep) {
    Sync().IgnoreError();  // a collection created a moment ago
    rep = LocalReplica(*spec, h.shard);
  }
  if (!rep) {
    return {{"status", StatusToJson(Status::Unavailable("node " + options_.node_id + " does not host shard " +
                                                        std::to_string(h.shard) + " of " + h.collection))}};
  }
  Status waited = rep->WaitApplied(h.min_sequence, h.timeout_ms);
  if (!waited.ok()) return {{"status", StatusToJson(waited)}};
  const std::string op = req.at("op").get<std::string>();
  if (op == "search") {
    SearchOptions o = SearchOptionsFromJson(req.at("o"));
    std::vector<float> q = req.at("q").get<std::vector<float>>();
    SearchPlan plan;
    auto hits = rep->Search(o, q, &plan);
    if (!hits.ok()) return {{"status", StatusToJson(hits.status())}};
    json jh = json::array();
    for (const auto& hit : *hits) jh.push_back(HitToJson(hit));
    return {{"status", StatusToJson(Status::OK())}, {"hits", std::move(jh)}, {"plan", PlanToJson(plan)}};
  }
  if (op == "count") {
    auto n = rep->Count(req.at("f").get<std::string>());
    if (!n.ok()) return {{"status", StatusToJson(n.status())}};
    return {{"status", StatusToJson(Status::OK())}, {"n", *n}};
  }
  if (op == "get") {
    std::vector<PointId> ids;
    for (const auto& j : req.at("ids")) ids.push_back(IdFromJson(j));
    auto got = rep->GetMany(ids);
    if (!got.ok()) return {{"status", StatusToJson(got.status())}};
    json pts = json::array();
    for (const auto& p : *got) pts.push_back(p ? PointToJson(*p) : json());
    return {{"status", StatusToJson(Status::OK())}, {"points", std::move(pts)}};
  }
  if (op == "scan") {
    auto page = rep->Scan(ScanOptionsFromJson(req.at("o")));
    if (!page.ok()) return {{"status", StatusToJson(page.status())}};
    json pts = json::array();
    for (const auto& p : page->points) pts.push_back(PointToJson(p));
    return {{"status", StatusToJson(Status::OK())},
            {"points", std::move(pts)},
            {"next", json::binary_t(std::vector<uint8_t>(page->next_cursor.begin(), page->next_cursor.end()))}};
  }
  return {{"status", StatusToJson(Status::InvalidArgument("unknown shard request " + op))}};
}

StatusOr<std::vector<ReplicaStatus>> ClusterNode::ReplicaStatuses() {
  SEXTANT_ASSIGN_OR_RETURN(auto specs, catalog_->List());
  std::vector<std::string> live;
  {
    internal::MutexLock lock(mu_);
    live = live_;
  }
  std::vector<ReplicaStatus> out;
  for (const auto& spec : specs) {
    for (uint32_t s = 0; s < spec.shards; ++s) {
      auto last = nats_->LastSequenceOf(spec.StreamName(), spec.Subject(s));
      for (const auto& node : spec.placement[s]) {
        ReplicaStatus r;
        r.collection = spec.name;
        r.shard = s;
        r.node = node;
        r.live = std::binary_search(live.begin(), live.end(), node);
        r.last = last.ok() ? *last : 0;
        if (node == options_.node_id) {
          if (auto rep = LocalReplica(spec, s)) {
            r.local = true;
            r.applied = rep->applied_sequence();
            r.skipped = rep->skipped_records();
          }
        }
        out.push_back(std::move(r));
      }
    }
  }
  return out;
}

namespace {

std::string PromLabel(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

}  // namespace

std::string RenderClusterMetrics(ClusterNode& node) {
  std::string out;
  auto live = node.LiveNodes();
  if (live.ok()) {
    out += "# HELP sextant_cluster_live_nodes Nodes of the cluster with a live heartbeat.\n";
    out += "# TYPE sextant_cluster_live_nodes gauge\n";
    out += "sextant_cluster_live_nodes " + std::to_string(live->size()) + "\n";
  }
  auto statuses = node.ReplicaStatuses();
  if (!statuses.ok()) return out;
  struct Family {
    const char* name;
    const char* help;
  };
  const Family families[] = {
      {"sextant_cluster_shard_applied_sequence", "Stream sequence this node's replica of the shard has applied."},
      {"sextant_cluster_shard_last_sequence", "Stream sequence of the shard's last record."},
      {"sextant_cluster_shard_lag", "Stream sequences between what this node's replica applied and the shard's last record (0: caught up)."},
      {"sextant_cluster_shard_skipped_records", "Records of the shard every replica rejected alike (logged)."},
  };
  for (size_t f = 0; f < 4; ++f) {
    out += std::string("# HELP ") + families[f].name + " " + families[f].help + "\n";
    out += std::string("# TYPE ") + families[f].name + (f == 3 ? " counter\n" : " gauge\n");
    for (const auto& r : *statuses) {
      if (!r.local) continue;
      uint64_t v = 0;
      switch (f) {
        case 0: v = r.applied; break;
        case 1: v = r.last; break;
        case 2: v = r.last > r.applied ? r.last - r.applied : 0; break;
        default: v = r.skipped; break;
      }
      out += std::string(families[f].name) + "{collection=\"" + PromLabel(r.collection) + "\",shard=\"" +
             std::to_string(r.shard) + "\"} " + std::to_string(v) + "\n";
    }
  }
  return out;
}

}  // namespace sextant::cluster
