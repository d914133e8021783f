#include "cluster/replica.h"

#include <nats/nats.h>

#include <chrono>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "cluster/shard.h"
#include "cluster/write_message.h"

namespace sextant::cluster {

namespace {

std::string Hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t SpecHash(const CollectionSpec& spec) {
  return Fnv1a64(spec.name + "\n" + std::to_string(spec.created_us));
}

// A filter that excludes the marker: {"$and": [F, {"_sextant_applied_seq": {"$exists": false}}]}.
std::string WithoutMarker(std::string_view filter) {
  std::string no_marker = std::string("{\"") + kMarkerKey + "\":{\"$exists\":false}}";
  if (filter.empty() || filter == "{}") return no_marker;
  return "{\"$and\":[" + std::string(filter) + "," + no_marker + "]}";
}

bool Deterministic(const Status& s) {
  return s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNotFound ||
         s.code() == StatusCode::kDataLoss;
}

}  // namespace

bool IsReservedId(const PointId& id) { return id.is_string() && !id.str().empty() && id.str()[0] == '\0'; }

std::string LocalCollectionName(const CollectionSpec& spec, uint32_t shard) {
  return spec.name.substr(0, 80) + "." + Hex16(SpecHash(spec)) + ".s" + std::to_string(shard);
}

StatusOr<std::unique_ptr<ShardReplica>> ShardReplica::Open(NatsClient* nats, Database* db, const CollectionSpec& spec,
                                                           uint32_t shard, const std::string& node_id) {
  if (shard >= spec.shards) {
    return Status::InvalidArgument("shard " + std::to_string(shard) + " of a collection with " +
                                   std::to_string(spec.shards) + " shards");
  }
  std::unique_ptr<ShardReplica> r(new ShardReplica());
  r->nats_ = nats;
  r->spec_ = spec;
  r->shard_ = shard;
  r->node_id_ = node_id;
  r->durable_ = node_id + "_" + Hex16(SpecHash(spec)) + "_s" + std::to_string(shard);
  r->marker_vector_.assign(spec.options.dimension, 0.0f);
  r->marker_vector_[0] = 1.0f;
  std::string local = LocalCollectionName(spec, shard);
  auto coll = db->GetCollection(local);
  if (coll.status().code() == StatusCode::kNotFound) coll = db->CreateCollection(local, spec.options);
  if (!coll.ok()) return coll.status().WithPrefix("shard " + std::to_string(shard) + " of " + spec.name);
  r->coll_ = *coll;
  auto marker = r->coll_->Get(PointId(kMarkerId));
  if (marker.ok()) {
    auto j = nlohmann::json::parse(marker->payload, nullptr, false);
    if (j.is_discarded() || !j.contains(kMarkerKey) || !j[kMarkerKey].is_number_unsigned()) {
      return Status::DataLoss("the applied-sequence marker of " + local + " is malformed: " + marker->payload);
    }
    r->applied_ = j[kMarkerKey].get<uint64_t>();
  } else if (marker.status().code() != StatusCode::kNotFound) {
    return marker.status();
  }
  return r;
}

ShardReplica::~ShardReplica() { Stop(); }

std::string ShardReplica::MarkerPayload(uint64_t seq) const {
  return std::string("{\"") + kMarkerKey + "\":" + std::to_string(seq) + "}";
}

Status ShardReplica::UpsertMarkerOnly(uint64_t seq) {
  PointId id(kMarkerId);
  std::string payload = MarkerPayload(seq);
  return coll_->Upsert(WriteOptions{}, std::span<const PointId>(&id, 1), marker_vector_,
                       std::span<const std::string>(&payload, 1));
}

Status ShardReplica::Apply(uint64_t seq, std::string_view data) {
  if (seq <= applied_.load()) return Status::OK();  // delivered again: applied already
  auto decoded = DecodeWriteMessage(data);
  Status st;
  if (!decoded.ok()) {
    st = decoded.status();
  } else {
    WriteMessage& m = *decoded;
    WriteOptions wo;
    switch (m.kind) {
      case WriteMessage::Kind::kUpsert: {
        if (m.dimension != spec_.options.dimension) {
          st = Status::InvalidArgument("record of dimension " + std::to_string(m.dimension) + " for a collection of " +
                                       std::to_string(spec_.options.dimension));
          break;
        }
        size_t n = m.ids.size();
        if (m.payloads.empty()) m.payloads.assign(n, std::string());
        m.ids.emplace_back(kMarkerId);
        m.vectors.insert(m.vectors.end(), marker_vector_.begin(), marker_vector_.end());
        m.payloads.push_back(MarkerPayload(seq));
        st = coll_->Upsert(wo, m.ids, m.vectors, m.payloads);
        break;
      }
      case WriteMessage::Kind::kDelete: {
        auto deleted = coll_->Delete(wo, m.ids);
        st = deleted.status();
        if (st.ok()) st = UpsertMarkerOnly(seq);
        break;
      }
      case WriteMessage::Kind::kUpdateVectors: {
        if (m.dimension != spec_.options.dimension) {
          st = Status::InvalidArgument("record of dimension " + std::to_string(m.dimension) + " for a collection of " +
                                       std::to_string(spec_.options.dimension));
          break;
        }
        // Like a delete by ids, applying it again to the state it produced changes nothing, so
        // the marker follows in a second batch.
        st = coll_->UpdateVectors(wo, m.ids, m.vectors);
        if (st.ok()) st = UpsertMarkerOnly(seq);
        break;
      }
      case WriteMessage::Kind::kSetPayload:
      case WriteMessage::Kind::kOverwritePayload:
      case WriteMessage::Kind::kDeletePayloadKeys: {
        // Idempotent too (a point an update made match its filter was selected by it already);
        // a filter never selects the marker.
        PointSelector sel = m.by_filter ? PointSelector::Where(WithoutMarker(m.filter)) : PointSelector::Ids(m.ids);
        StatusOr<uint64_t> done = uint64_t{0};
        if (m.kind == WriteMessage::Kind::kSetPayload) {
          done = coll_->SetPayload(wo, sel, m.payload);
        } else if (m.kind == WriteMessage::Kind::kOverwritePayload) {
          done = coll_->OverwritePayload(wo, sel, m.payload);
        } else {
          done = coll_->DeletePayloadKeys(wo, sel, m.keys);
        }
        st = done.status();
        if (st.ok()) st = UpsertMarkerOnly(seq);
        break;
      }
      case WriteMessage::Kind::kSetIndex: {
        // Setting the index it has again changes nothing: the marker follows in a second batch.
        auto index = IndexFromJson(m.index);
        st = index.ok() ? coll_->SetIndex(*index) : index.status();
        if (st.ok()) st = UpsertMarkerOnly(seq);
        break;
      }
      case WriteMessage::Kind::kRebuildIndex: {
        // A rebuild replayed after a crash rebuilds once more from the same vectors: the marker
        // follows in a second batch.
        st = coll_->RebuildIndex();
        if (st.ok()) st = UpsertMarkerOnly(seq);
        break;
      }
      case WriteMessage::Kind::kDeleteWhere: {
        PointId id(kMarkerId);
        std::string payload = MarkerPayload(seq);
        auto replaced = coll_->Replace(wo, m.filter, std::span<const PointId>(&id, 1), marker_vector_,
                                       std::span<const std::string>(&payload, 1));
        st = replaced.status();
        break;
      }
    }
  }
  if (!st.ok()) {
    if (!Deterministic(st)) return st;  // retried: nothing recorded
    // Every replica rejects this record alike: skip it, recording that it was seen.
    std::fprintf(stderr, "sextant cluster: %s shard %u skips record %llu: %s\n", spec_.name.c_str(), shard_,
                 static_cast<unsigned long long>(seq), st.ToString().c_str());
    SEXTANT_RETURN_IF_ERROR(UpsertMarkerOnly(seq));
    skipped_.fetch_add(1);
  }
  {
    internal::MutexLock lock(mu_);
    applied_.store(seq);
  }
  cv_.notify_all();
  return Status::OK();
}

Status ShardReplica::last_error() const {
  internal::MutexLock lock(mu_);
  return last_error_;
}

Status ShardReplica::WaitApplied(uint64_t seq, int64_t timeout_ms) const {
  internal::MutexLock lock(mu_);
  bool ok = cv_.wait_for(mu_, std::chrono::milliseconds(timeout_ms), [&] { return applied_.load() >= seq; });
  if (ok) return Status::OK();
  return Status::DeadlineExceeded("shard " + std::to_string(shard_) + " of " + spec_.name + " has applied " +
                                  std::to_string(applied_.load()) + ", waiting for " + std::to_string(seq));
}

Status ShardReplica::Subscribe() {
  // The marker, not the consumer's ack floor, says where to resume: the consumer is recreated
  // to start right after it, so a record is never skipped, whatever acks were lost.
  jsErrCode code = static_cast<jsErrCode>(0);
  js_DeleteConsumer(nats_->jetstream(), spec_.StreamName().c_str(), durable_.c_str(), nullptr, &code);
  std::string subject = spec_.Subject(shard_);
  std::string stream = spec_.StreamName();
  jsSubOptions so;
  jsSubOptions_Init(&so);
  so.Stream = stream.c_str();
  so.Config.Durable = durable_.c_str();
  so.Config.AckPolicy = js_AckExplicit;
  so.Config.AckWait = int64_t{60} * 1000 * 1000 * 1000;
  so.Config.MaxAckPending = 4096;
  so.Config.FilterSubject = subject.c_str();
  uint64_t start = applied_.load() + 1;
  so.Config.DeliverPolicy = js_DeliverByStartSequence;
  so.Config.OptStartSeq = start;
  natsStatus s = js_PullSubscribe(&sub_, nats_->jetstream(), subject.c_str(), durable_.c_str(), nullptr, &so, &code);
  if (s != NATS_OK) {
    sub_ = nullptr;
    return NatsError(s, "subscribing " + durable_ + " to " + subject);
  }
  return Status::OK();
}

void ShardReplica::Unsubscribe() {
  if (sub_ == nullptr) return;
  natsSubscription_Unsubscribe(sub_);  // the durable consumer stays on the server
  natsSubscription_Destroy(sub_);
  sub_ = nullptr;
}

Status ShardReplica::Start() {
  if (thread_.joinable()) return Status::FailedPrecondition("replica already started");
  stop_ = false;
  SEXTANT_RETURN_IF_ERROR(Subscribe());
  thread_ = std::thread([this] { Loop(); });
  return Status::OK();
}

void ShardReplica::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  Unsubscribe();
}

void ShardReplica::Loop() {
  auto set_error = [this](Status st) {
    internal::MutexLock lock(mu_);
    last_error_ = std::move(st);
  };
  while (!stop_.load()) {
    if (sub_ == nullptr) {
      Status st = Subscribe();
      set_error(st);
      if (!st.ok()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(250));
        continue;
      }
    }
    natsMsgList list{};
    jsErrCode code = static_cast<jsErrCode>(0);
    natsStatus s = natsSubscription_Fetch(&list, sub_, 256, 250, &code);
    if (s == NATS_TIMEOUT) continue;
    if (s != NATS_OK) {
      set_error(NatsError(s, "fetching from " + spec_.Subject(shard_)));
      Unsubscribe();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      continue;
    }
    bool failed = false;
    for (int i = 0; i < list.Count; ++i) {
      natsMsg* msg = list.Msgs[i];
      if (failed) continue;
      jsMsgMetaData* meta = nullptr;
      if (natsMsg_GetMetaData(&meta, msg) != NATS_OK) continue;  // not a JetStream message
      uint64_t seq = meta->Sequence.Stream;
      jsMsgMetaData_Destroy(meta);
      std::string_view data(natsMsg_GetData(msg), static_cast<size_t>(natsMsg_GetDataLength(msg)));
      Status st = Apply(seq, data);
      if (!st.ok()) {
        // Stop here, resubscribe from the marker after a pause: order is kept.
        set_error(st.WithPrefix("applying record " + std::to_string(seq)));
        failed = true;
        continue;
      }
      natsMsg_Ack(msg, nullptr);
    }
    natsMsgList_Destroy(&list);
    if (failed) {
      Unsubscribe();
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    } else {
      set_error(Status::OK());
    }
  }
}

// ---- reads

StatusOr<std::vector<Hit>> ShardReplica::Search(const SearchOptions& options, std::span<const float> query,
                                                SearchPlan* plan) const {
  SearchOptions o = options;
  bool has_marker = applied_.load() > 0;
  if (!has_marker) return coll_->Search(o, query, plan);
  if (!o.text.empty() || !o.group_by.empty() || o.mmr) {
    // Hybrid and text search fuse ranks, group_by and mmr choose from a candidate pool: keep the
    // marker out of the candidates altogether.
    o.filter = WithoutMarker(o.filter);
    return coll_->Search(o, query, plan);
  }
  // Dense search: one more and drop the marker (cheaper than a filter, same result).
  o.k = options.k + 1;
  SEXTANT_ASSIGN_OR_RETURN(auto hits, coll_->Search(o, query, plan));
  std::vector<Hit> out;
  out.reserve(options.k);
  for (auto& h : hits) {
    if (IsReservedId(h.id)) continue;
    if (out.size() == options.k) break;
    out.push_back(std::move(h));
  }
  if (plan != nullptr && plan->matches > 0) plan->matches -= 1;
  return out;
}

StatusOr<uint64_t> ShardReplica::Count(std::string_view filter) const {
  if (applied_.load() == 0) return filter.empty() ? coll_->Count() : coll_->CountWhere(filter);
  if (filter.empty() || filter == "{}") {
    SEXTANT_ASSIGN_OR_RETURN(uint64_t n, coll_->Count());
    return n > 0 ? n - 1 : 0;
  }
  return coll_->CountWhere(WithoutMarker(filter));
}

StatusOr<std::vector<std::optional<Point>>> ShardReplica::GetMany(std::span<const PointId> ids) const {
  for (const auto& id : ids) {
    if (IsReservedId(id)) return Status::InvalidArgument("ids starting with a NUL byte are reserved in cluster mode");
  }
  return coll_->GetMany(ids);
}

StatusOr<ScanPage> ShardReplica::Scan(const ScanOptions& options) const {
  SEXTANT_ASSIGN_OR_RETURN(auto page, coll_->Scan(options));
  std::erase_if(page.points, [](const Point& p) { return IsReservedId(p.id); });
  return page;
}

}  // namespace sextant::cluster
