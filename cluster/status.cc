#include "cluster/status.h"

#include <nats/nats.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <tuple>

#include "cluster/shard_rpc.h"
#include "sextant/options.h"
#include "sextant/types.h"

namespace sextant::cluster {

using nlohmann::json;

namespace {

struct Reported {
  uint64_t applied = 0;
  uint64_t skipped = 0;
  std::string error;
};

// (node, collection, created_us, shard) -> what the node reported.
using ReportMap = std::map<std::tuple<std::string, std::string, uint64_t, uint32_t>, Reported>;

// Asks `node` for its replicas; false when it did not answer (in time, or intelligibly).
bool AskStatus(NatsClient* nats, const std::string& node, int64_t timeout_ms, ReportMap* out) {
  std::vector<uint8_t> bytes = json::to_msgpack(json{{"op", "status"}});
  natsMsg* reply = nullptr;
  natsStatus s = natsConnection_Request(&reply, nats->connection(), RpcSubject(node).c_str(), bytes.data(),
                                        static_cast<int>(bytes.size()), timeout_ms);
  if (s != NATS_OK) return false;
  const auto* data = reinterpret_cast<const uint8_t*>(natsMsg_GetData(reply));
  json answer = json::from_msgpack(data, data + natsMsg_GetDataLength(reply), true, false);
  natsMsg_Destroy(reply);
  if (answer.is_discarded()) return false;
  try {
    if (!StatusFromJson(answer.at("status")).ok()) return false;
    for (const auto& r : answer.at("replicas")) {
      Reported rep{r.at("a").get<uint64_t>(), r.at("k").get<uint64_t>(), r.at("e").get<std::string>()};
      (*out)[{node, r.at("c").get<std::string>(), r.at("cu").get<uint64_t>(), r.at("s").get<uint32_t>()}] = rep;
    }
  } catch (const json::exception&) {
    return false;  // a node of another version: shown as not reporting
  }
  return true;
}

}  // namespace

StatusOr<ClusterState> ReadClusterState(NatsClient* nats, int64_t timeout_ms) {
  auto missing = [](const Status& s) {
    return Status::FailedPrecondition("NATS holds no Sextant cluster (" + std::string(s.message()) +
                                      "): start sextantd --cluster on it first");
  };
  auto catalog = Catalog::Open(nats, /*create=*/false);
  if (!catalog.ok()) {
    if (catalog.status().code() == StatusCode::kUnavailable) return catalog.status();
    return missing(catalog.status());
  }
  auto membership = Membership::Open(nats, 1000, /*create=*/false);
  if (!membership.ok()) {
    if (membership.status().code() == StatusCode::kUnavailable) return membership.status();
    return missing(membership.status());
  }
  ClusterState state;
  SEXTANT_ASSIGN_OR_RETURN(state.nodes, (*membership)->LiveNodes());
  SEXTANT_ASSIGN_OR_RETURN(auto specs, (*catalog)->List());
  std::sort(specs.begin(), specs.end(), [](const auto& a, const auto& b) { return a.name < b.name; });

  ReportMap reported;
  std::vector<std::string> answered;
  for (const auto& n : state.nodes) {
    if (AskStatus(nats, n.id, timeout_ms, &reported)) {
      answered.push_back(n.id);
    } else {
      state.unanswered.push_back(n.id);
    }
  }
  auto is_live = [&](const std::string& id) {
    return std::any_of(state.nodes.begin(), state.nodes.end(), [&](const NodeInfo& n) { return n.id == id; });
  };
  for (auto& spec : specs) {
    CollectionState c;
    c.spec = spec;
    for (uint32_t s = 0; s < spec.shards; ++s) {
      ShardState shard;
      shard.shard = s;
      auto last = nats->LastSequenceOf(spec.StreamName(), spec.Subject(s));
      if (last.ok()) {
        shard.last_known = true;
        shard.last = *last;
      }
      for (const auto& node : spec.placement[s]) {
        ReplicaState r;
        r.node = node;
        r.live = is_live(node);
        auto it = reported.find({node, spec.name, spec.created_us, s});
        if (it != reported.end()) {
          r.reported = true;
          r.applied = it->second.applied;
          r.skipped = it->second.skipped;
          r.error = it->second.error;
        }
        shard.replicas.push_back(std::move(r));
      }
      c.shards.push_back(std::move(shard));
    }
    state.collections.push_back(std::move(c));
  }
  return state;
}

uint64_t ReplicaLag(const ShardState& shard, const ReplicaState& replica) {
  if (!shard.last_known || !replica.reported || replica.applied >= shard.last) return 0;
  return shard.last - replica.applied;
}

std::string ClusterStateText(const ClusterState& state) {
  std::string out = "nodes: " + std::to_string(state.nodes.size()) + " live\n";
  for (const auto& n : state.nodes) {
    bool silent = std::find(state.unanswered.begin(), state.unanswered.end(), n.id) != state.unanswered.end();
    out += "  " + n.id + "  " + (n.address.empty() ? "-" : n.address) + "  live" +
           (silent ? " (did not answer the status request)" : "") + "\n";
  }
  out += "collections: " + std::to_string(state.collections.size()) + "\n";
  for (const auto& c : state.collections) {
    out += "  " + c.spec.name + "  dimension " + std::to_string(c.spec.options.dimension) + ", " +
           std::string(MetricName(c.spec.options.metric)) + ", " + c.spec.options.index.ToString() + ", shards " +
           std::to_string(c.spec.shards) + ", replication " + std::to_string(c.spec.replication) + "\n";
    for (const auto& sh : c.shards) {
      out += "    shard " + std::to_string(sh.shard) + "  last " +
             (sh.last_known ? std::to_string(sh.last) : std::string("unknown")) + "\n";
      for (const auto& r : sh.replicas) {
        out += "      " + r.node + "  " + (r.live ? "live" : "DOWN");
        if (r.reported) {
          out += "  applied " + std::to_string(r.applied) + "  lag " + std::to_string(ReplicaLag(sh, r));
          if (r.skipped != 0) out += "  skipped " + std::to_string(r.skipped);
          if (!r.error.empty()) out += "  error: " + r.error;
        } else {
          out += "  applied unknown";
        }
        out += "\n";
      }
    }
  }
  return out;
}

json ClusterStateJson(const ClusterState& state) {
  json nodes = json::array();
  for (const auto& n : state.nodes) {
    bool silent = std::find(state.unanswered.begin(), state.unanswered.end(), n.id) != state.unanswered.end();
    nodes.push_back({{"id", n.id}, {"address", n.address}, {"live", true}, {"answered", !silent}});
  }
  json collections = json::array();
  for (const auto& c : state.collections) {
    json shards = json::array();
    for (const auto& sh : c.shards) {
      json replicas = json::array();
      for (const auto& r : sh.replicas) {
        json j = {{"node", r.node}, {"live", r.live}};
        if (r.reported) {
          j["applied"] = r.applied;
          j["lag"] = ReplicaLag(sh, r);
          j["skipped"] = r.skipped;
          if (!r.error.empty()) j["error"] = r.error;
        }
        replicas.push_back(std::move(j));
      }
      json js = {{"shard", sh.shard}, {"replicas", std::move(replicas)}};
      if (sh.last_known) js["last"] = sh.last;
      shards.push_back(std::move(js));
    }
    collections.push_back({{"name", c.spec.name},
                           {"dimension", c.spec.options.dimension},
                           {"metric", MetricName(c.spec.options.metric)},
                           {"index", c.spec.options.index.ToString()},
                           {"shards", c.spec.shards},
                           {"replication", c.spec.replication},
                           {"shard_states", std::move(shards)}});
  }
  return {{"nodes", std::move(nodes)}, {"collections", std::move(collections)}};
}

}  // namespace sextant::cluster
