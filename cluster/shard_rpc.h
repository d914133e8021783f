// Reads of one shard replica on another node, over NATS request/reply (subject sx.rpc.<node>):
// the requests and answers, encoded as MessagePack (nlohmann::json), and the serving side.
#ifndef SEXTANT_CLUSTER_SHARD_RPC_H_
#define SEXTANT_CLUSTER_SHARD_RPC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/options.h"
#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::cluster {

// The subject a node answers shard reads on.
std::string RpcSubject(const std::string& node_id);

// What every shard read carries: which replica, and how far it must have applied first (session
// consistency: the reading node's own acknowledged writes), within timeout_ms.
struct ShardReadHeader {
  std::string collection;
  uint64_t created_us = 0;
  uint32_t shard = 0;
  uint64_t min_sequence = 0;
  int64_t timeout_ms = 10000;
};

nlohmann::json HeaderToJson(const ShardReadHeader& h);
ShardReadHeader HeaderFromJson(const nlohmann::json& j);  // throws json::exception

nlohmann::json IdToJson(const PointId& id);
PointId IdFromJson(const nlohmann::json& j);
nlohmann::json SearchOptionsToJson(const SearchOptions& o);
SearchOptions SearchOptionsFromJson(const nlohmann::json& j);
nlohmann::json HitToJson(const Hit& h);
Hit HitFromJson(const nlohmann::json& j);
nlohmann::json PointToJson(const Point& p);
Point PointFromJson(const nlohmann::json& j);
nlohmann::json PlanToJson(const SearchPlan& p);
SearchPlan PlanFromJson(const nlohmann::json& j);
nlohmann::json ScanOptionsToJson(const ScanOptions& o);
ScanOptions ScanOptionsFromJson(const nlohmann::json& j);

// An answer: {"code": int, "message": str, ...}.
nlohmann::json StatusToJson(const Status& s);
Status StatusFromJson(const nlohmann::json& j);

}  // namespace sextant::cluster

#endif  // SEXTANT_CLUSTER_SHARD_RPC_H_
