// sextant-cluster: operations on a Sextant cluster through its NATS (docs/cluster.md). The
// `sextant` CLI runs it for `sextant cluster ...` (it sits beside sextant in the same directory).
//
//   sextant-cluster status --nats URL[,URL...] [--json] [--timeout-ms N]
//
// Exit status: 0 done, 1 the cluster could not be read (NATS unreachable, no cluster on it),
// 2 a wrong command line.
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "cluster/nats_client.h"
#include "cluster/status.h"

namespace {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

constexpr char kUsage[] =
    "usage: sextant cluster status --nats URL[,URL...] [--json] [--timeout-ms N]\n"
    "  Shows the cluster's live nodes, its collections, their shards and where each shard's\n"
    "  replicas are, with how far each replica has applied the shard's log (applied) against the\n"
    "  shard's last record (last) and the difference (lag). --json prints one JSON object.\n"
    "  --timeout-ms bounds connecting and each node's answer (default 3000).\n";

int Usage(const std::string& error) {
  std::fprintf(stderr, "sextant cluster: %s\n%s", error.c_str(), kUsage);
  return kExitUsage;
}

int Status(const std::vector<std::string>& args) {
  std::string nats;
  bool json = false;
  int64_t timeout_ms = 3000;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view a = args[i];
    auto value = [&](std::string_view flag) -> std::optional<std::string> {
      if (a.substr(0, flag.size() + 1) == std::string(flag) + "=") return std::string(a.substr(flag.size() + 1));
      if (a == flag && i + 1 < args.size()) return args[++i];
      return std::nullopt;
    };
    if (a == "--json") {
      json = true;
    } else if (a.substr(0, 6) == "--nats") {
      auto v = value("--nats");
      if (!v || v->empty()) return Usage("--nats needs a URL (nats://HOST:PORT[,...])");
      nats = *v;
    } else if (a.substr(0, 12) == "--timeout-ms") {
      auto v = value("--timeout-ms");
      char* end = nullptr;
      long long n = v ? std::strtoll(v->c_str(), &end, 10) : 0;
      if (!v || v->empty() || *end != '\0' || n < 1 || n > 600000) {
        return Usage("--timeout-ms needs a number of milliseconds in 1..600000");
      }
      timeout_ms = n;
    } else {
      return Usage("unknown argument '" + std::string(a) + "'");
    }
  }
  if (nats.empty()) return Usage("status needs --nats URL");
  sextant::cluster::NatsOptions options;
  options.urls = nats;
  options.timeout_ms = timeout_ms;
  auto client = sextant::cluster::NatsClient::Connect(options);
  if (!client.ok()) {
    std::fprintf(stderr, "sextant cluster: error: %s\n", client.status().ToString().c_str());
    return kExitError;
  }
  auto state = sextant::cluster::ReadClusterState(client->get(), timeout_ms);
  if (!state.ok()) {
    std::fprintf(stderr, "sextant cluster: error: %s\n", state.status().ToString().c_str());
    return kExitError;
  }
  if (json) {
    std::cout << sextant::cluster::ClusterStateJson(*state).dump() << "\n";
  } else {
    std::cout << sextant::cluster::ClusterStateText(*state);
  }
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return Usage("no command given");
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    std::fputs(kUsage, stdout);
    return kExitOk;
  }
  if (args[0] == "status") return Status(std::vector<std::string>(args.begin() + 1, args.end()));
  return Usage("unknown command '" + args[0] + "'");
}
