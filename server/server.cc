#include "server/server.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "grpc/health/v1/health.pb.h"
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "sextant/database.h"
#include "sextant/rag.h"
#include "server/http_server.h"
#include "server/log.h"
#include "server/mcp_http.h"
#include "server/metrics.h"
#include "server/metrics_http.h"
#include "server/openai_http.h"
#include "server/service.h"
#ifdef SEXTANT_WITH_CLUSTER
#include "cluster/cluster_database.h"
#include "cluster/node.h"
#endif

#ifndef SEXTANTD_BUILD_INFO
#define SEXTANTD_BUILD_INFO "unknown build"
#endif

namespace sextant::server {
namespace {

// How long running calls may take to finish after SIGTERM/SIGINT.
constexpr auto kShutdownGrace = std::chrono::seconds(10);
// How long the gRPC server then waits for responses to be written and clients to hang up.
constexpr auto kFinalGrace = std::chrono::milliseconds(500);

sigset_t ShutdownSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Writes "<port>\n" to `path` through a temporary file and a rename, so that a reader never sees
// a partial file.
bool WritePortFile(const std::string& path, int port, std::string* error) {
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << '\n';
    out.flush();
    if (!out) {
      *error = "cannot write " + tmp;
      return false;
    }
  }
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    *error = "cannot rename " + tmp + " to " + path;
    return false;
  }
  return true;
}

// "127.0.0.1:0" with the bound port -> "127.0.0.1:41234".
std::string BoundAddress(const std::string& listen, int port) {
  std::string host;
  int ignored = 0;
  if (!SplitHostPort(listen, &host, &ignored)) return listen;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  return host + ":" + std::to_string(port);
}

// Refreshes the per-collection gauges from the database, then renders every metric.
std::string RenderMetrics(Metrics& metrics, const Database& db) {
  auto list = db.ListCollections();
  if (list.ok()) {
    std::vector<std::pair<MetricLabels, double>> points, state, index_bytes, vector_bytes;
    for (const CollectionInfo& c : *list) {
      points.push_back({{{"collection", c.name}}, static_cast<double>(c.count)});
      index_bytes.push_back({{{"collection", c.name}}, static_cast<double>(c.index_bytes)});
      vector_bytes.push_back({{{"collection", c.name}}, static_cast<double>(c.vector_bytes)});
      for (IndexState s : {IndexState::kReady, IndexState::kTraining, IndexState::kBuilding}) {
        state.push_back({{{"collection", c.name}, {"state", std::string(IndexStateName(s))}},
                         c.index_state == s ? 1.0 : 0.0});
      }
    }
    metrics.ReplaceGauge("sextant_collection_points", "Live points per collection.", points);
    metrics.ReplaceGauge("sextant_index_state",
                         "1 for the state the collection's index is in (ready, training, "
                         "building), 0 for the others.",
                         state);
    metrics.ReplaceGauge("sextant_index_memory_bytes",
                         "Memory the index holds beyond the float32 vectors, per collection.",
                         index_bytes);
    metrics.ReplaceGauge("sextant_vector_memory_bytes",
                         "Memory of the float32 vectors, per collection.", vector_bytes);
  }
  const MemoryUsage memory = db.Memory();
  metrics.SetGauge("sextant_memory_used_bytes",
                   "Memory the database holds by its own estimate (vectors, ids, indexes, block cache); "
                   "writes that would pass sextant_memory_limit_bytes are refused.",
                   {}, static_cast<double>(memory.used_bytes));
  metrics.SetGauge("sextant_memory_limit_bytes", "The database's memory budget (--memory-limit).", {},
                   static_cast<double>(memory.limit_bytes));
  return metrics.Render();
}

}  // namespace

void BlockShutdownSignals() {
  sigset_t set = ShutdownSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int RunServer(const ServerConfig& config) {
  SetLogLevel(config.log_level);

  DatabaseOptions db_options;
  db_options.create_if_missing = true;
  db_options.max_payload_bytes = config.max_payload_bytes;
  db_options.block_cache_bytes = config.block_cache_bytes;
  db_options.memory_limit_bytes = config.memory_limit_bytes;
  auto opened = Database::Open(db_options, config.data_dir);
  if (!opened.ok()) {
    Log(LogLevel::kError, "open_failed",
        {{"data", config.data_dir}, {"error", opened.status().ToString()}});
    std::fprintf(stderr, "sextantd: cannot open the database in %s: %s\n", config.data_dir.c_str(),
                 opened.status().ToString().c_str());
    return kExitError;
  }
  std::unique_ptr<Database> db = std::move(opened).value();

#ifdef SEXTANT_WITH_CLUSTER
  // Cluster mode: this node's replicas live in `db`; the service sees the cluster's collections.
  std::unique_ptr<cluster::ClusterNode> cluster_node;
  std::unique_ptr<cluster::ClusterDatabase> cluster_db;
  if (!config.cluster.empty()) {
    cluster::NodeOptions no;
    no.nats_urls = config.cluster;
    no.node_id = config.node_id;
    no.address = config.listen;
    no.jetstream_replicas = static_cast<int>(config.cluster_replicas);
    auto node = cluster::ClusterNode::Start(no, db.get());
    if (!node.ok()) {
      Log(LogLevel::kError, "cluster_join_failed", {{"cluster", config.cluster}, {"error", node.status().ToString()}});
      std::fprintf(stderr, "sextantd: --cluster %s: %s\n", config.cluster.c_str(), node.status().ToString().c_str());
      return kExitError;
    }
    cluster_node = std::move(node).value();
    cluster_db = std::make_unique<cluster::ClusterDatabase>(cluster_node.get(), config.data_dir);
    Log(LogLevel::kInfo, "cluster_joined", {{"cluster", config.cluster}, {"node", config.node_id}});
  }
  Database* served = cluster_db ? static_cast<Database*>(cluster_db.get()) : db.get();
#else
  if (!config.cluster.empty()) {
    std::fprintf(stderr, "sextantd: --cluster: this sextantd was built without cluster mode (SEXTANT_BUILD_CLUSTER)\n");
    return kExitUsage;
  }
  Database* served = db.get();
#endif

  if (!config.snapshot_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(config.snapshot_dir, ec);
    const auto snaps = std::filesystem::weakly_canonical(config.snapshot_dir, ec);
    const auto data = std::filesystem::weakly_canonical(config.data_dir, ec);
    if (snaps == data || snaps == data / "index") {
      std::fprintf(stderr, "sextantd: --snapshot-dir must not be the database directory (or its index/)\n");
      return kExitUsage;
    }
    if (!std::filesystem::is_directory(config.snapshot_dir, ec)) {
      std::fprintf(stderr, "sextantd: --snapshot-dir: cannot create directory %s\n", config.snapshot_dir.c_str());
      return kExitError;
    }
    if (Status s = RemoveUnfinishedSnapshots(config.snapshot_dir); !s.ok()) {
      Log(LogLevel::kWarn, "snapshot_cleanup_failed", {{"dir", config.snapshot_dir}, {"error", s.ToString()}});
    }
  }

  ServiceOptions service_options;
  service_options.max_message_bytes = config.max_message_bytes;
  service_options.max_batch_points = config.max_batch_points;
  service_options.max_dimension = config.max_dimension;
  service_options.max_k = config.max_k;
  service_options.max_ef_search = config.max_ef_search;
  service_options.max_nprobe = config.max_nprobe;
  service_options.slow_call_ms = config.slow_call_ms;
  service_options.keys = config.keys;
  service_options.build = SEXTANTD_BUILD_INFO;
  service_options.snapshot_dir = config.snapshot_dir;
  service_options.embedders = rag::EmbedderEnvironment::FromProcess();
  if (!config.model_dir.empty()) service_options.embedders.model_root = config.model_dir;
  if (!config.openai_api_key.empty()) service_options.embedders.openai_api_key = config.openai_api_key;
  service_options.allow_remote_embedders = config.allow_remote_embedders;
  service_options.default_generator = config.generator;
  service_options.generation_limits.max_tokens = config.llm_max_tokens;
  service_options.conversation_limits.max_messages = config.conversation_max_messages;
  service_options.conversation_limits.max_bytes = config.conversation_max_bytes;
  service_options.generation_limits.models = config.llm_models;
  if (!config.llm_url.empty()) {
    rag::OpenAIChatOptions chat;
    chat.endpoint.base_url = config.llm_url;
    chat.endpoint.model = config.llm_model;
    chat.endpoint.api_key = config.llm_api_key;
    chat.endpoint.timeout_ms = config.llm_timeout_ms;
    auto llm = rag::MakeOpenAIGenerator(chat);
    if (!llm.ok()) {
      std::fprintf(stderr, "sextantd: --llm-url: %s\n", llm.status().ToString().c_str());
      return kExitUsage;
    }
    service_options.llm = std::shared_ptr<rag::Generator>(std::move(llm).value());
  }
  const std::string model_root = service_options.embedders.model_root;
  // Declared before the service and the servers that use it.
  auto metrics = std::make_unique<Metrics>();
  metrics->SetGauge("sextant_build_info", "Always 1; the labels name the build.",
                    {{"version", std::string(Version())}, {"simd", std::string(SimdLevelName())}},
                    1);
  service_options.observe = [m = metrics.get()](std::string_view method, int code, double secs) {
    m->ObserveRequest(method, code, secs);
  };
  // Declared before the server: a service must outlive the grpc::Server that serves it.
#ifdef SEXTANT_WITH_CLUSTER
  if (cluster_db) {
    service_options.create_sharded = [c = cluster_db.get()](std::string_view name, const CollectionOptions& options,
                                                             uint32_t shards, uint32_t replication) {
      return c->CreateSharded(name, options, shards, replication);
    };
  }
#endif
  auto service = std::make_unique<SextantService>(served, std::move(service_options));

  grpc::EnableDefaultHealthCheckService(true);
  // The built-in health service has no protobuf descriptors; naming the messages of our copy of
  // grpc/health/v1/health.proto links them in, so reflection can describe the service too.
  (void)grpc::health::v1::HealthCheckRequest::descriptor();
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (config.tls()) {
    grpc::SslServerCredentialsOptions ssl;
    ssl.pem_key_cert_pairs.push_back({config.tls_key_pem, config.tls_cert_pem});
    creds = grpc::SslServerCredentials(ssl);
  } else {
    creds = grpc::InsecureServerCredentials();
  }
  int port = 0;
  builder.AddListeningPort(config.listen, creds, &port);
  // Without this, Linux lets a second server bind the same port (SO_REUSEPORT) and share it.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  const int max_message = static_cast<int>(config.max_message_bytes);
  builder.SetMaxReceiveMessageSize(max_message);
  builder.SetMaxSendMessageSize(max_message);
  // Keep a few polling threads waiting instead of gRPC's default of one: a thread that takes a
  // call stops polling, and with a single poller every call then wakes another thread first.
  // Measured with bench/server (siftsmall, HNSW16): about 7% more queries/s with 1 client and
  // 13% with 8, and 10% less server CPU per query. (The callback API was slower here.)
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::NUM_CQS, 1);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MIN_POLLERS, 4);
  builder.SetSyncServerOption(grpc::ServerBuilder::SyncServerOption::MAX_POLLERS, 64);
  builder.RegisterService(service.get());
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    const std::string why = config.tls() ? " (the port is taken, or the TLS certificate or key is not usable)"
                                         : " (the port is taken or the address is not local)";
    Log(LogLevel::kError, "listen_failed", {{"listen", config.listen}});
    std::fprintf(stderr, "sextantd: cannot listen on %s%s\n", config.listen.c_str(), why.c_str());
    if (server) server->Shutdown();
    return kExitError;
  }
  if (auto* health = server->GetHealthCheckService()) {
    health->SetServingStatus(v1::Sextant::service_full_name(), true);
    health->SetServingStatus(true);
  }
  const std::string address = BoundAddress(config.listen, port);

  std::unique_ptr<MetricsHttpServer> metrics_http;
  if (!config.metrics_listen.empty()) {
    MetricsHttpServerOptions metrics_options;
    if (!config.metrics_public) metrics_options.keys = config.keys;
    std::function<std::string()> render = [m = metrics.get(), d = db.get()] { return RenderMetrics(*m, *d); };
#ifdef SEXTANT_WITH_CLUSTER
    if (cluster_node) {
      // Per-shard applied sequence and lag of this node's replicas (docs/cluster.md).
      render = [m = metrics.get(), d = db.get(), n = cluster_node.get()] {
        return RenderMetrics(*m, *d) + cluster::RenderClusterMetrics(*n);
      };
    }
#endif
    auto started = MetricsHttpServer::Start(config.metrics_listen, std::move(render), metrics_options);
    if (!started.ok()) {
      std::fprintf(stderr, "sextantd: --metrics: %s\n", started.status().ToString().c_str());
      server->Shutdown(std::chrono::system_clock::now());
      return kExitError;
    }
    metrics_http = std::move(started).value();
    Log(LogLevel::kInfo, "metrics_listening",
        {{"listen", BoundAddress(config.metrics_listen, metrics_http->port())},
         {"path", "/metrics"},
         {"auth", metrics_options.keys.empty() ? "off" : "on"}});
  }

  // Declared after the service it uses, so it stops first.
  std::unique_ptr<HttpServer> openai_http;
  if (!config.openai_listen.empty()) {
    openai_http = std::make_unique<HttpServer>("OpenAI endpoint");
    RegisterOpenAIRoutes(*openai_http, *service);
    if (Status s = openai_http->Start(config.openai_listen); !s.ok()) {
      std::fprintf(stderr, "sextantd: --openai-listen: %s\n", s.ToString().c_str());
      server->Shutdown(std::chrono::system_clock::now());
      return kExitError;
    }
    Log(LogLevel::kInfo, "openai_listening",
        {{"listen", BoundAddress(config.openai_listen, openai_http->port())}, {"path", "/v1"}});
  }

  std::unique_ptr<HttpServer> mcp_http;
  if (!config.mcp_listen.empty()) {
    mcp_http = std::make_unique<HttpServer>("MCP endpoint");
    RegisterMcpRoutes(*mcp_http, *service);
    if (Status s = mcp_http->Start(config.mcp_listen); !s.ok()) {
      std::fprintf(stderr, "sextantd: --mcp-listen: %s\n", s.ToString().c_str());
      server->Shutdown(std::chrono::system_clock::now());
      return kExitError;
    }
    Log(LogLevel::kInfo, "mcp_listening",
        {{"listen", BoundAddress(config.mcp_listen, mcp_http->port())}, {"path", "/mcp"}});
  }

  if (!config.port_file.empty()) {
    std::string error;
    if (!WritePortFile(config.port_file, port, &error)) {
      std::fprintf(stderr, "sextantd: --port-file: %s\n", error.c_str());
      server->Shutdown(std::chrono::system_clock::now());
      return kExitError;
    }
  }

  const std::string version(Version());
  std::fprintf(stderr, "sextantd %s listening on %s data=%s\n", version.c_str(), address.c_str(),
               config.data_dir.c_str());
  std::fflush(stderr);
  size_t read_only_keys = 0;
  for (const ApiKey& k : config.keys) read_only_keys += k.read_only;
  Log(LogLevel::kInfo, "start",
      {{"version", version},
       {"listen", address},
       {"data", config.data_dir},
       {"tls", config.tls() ? "on" : "off"},
       {"auth", config.keys.empty() ? "off" : "on"},
       {"keys", std::to_string(config.keys.size())},
       {"read_only_keys", std::to_string(read_only_keys)},
       {"simd", SimdLevelName()},
       {"max_message_bytes", std::to_string(config.max_message_bytes)},
       {"max_batch_points", std::to_string(config.max_batch_points)},
       {"max_dimension", std::to_string(config.max_dimension)},
       {"max_k", std::to_string(config.max_k)},
       {"model_dir", model_root},
       {"generator", config.generator},
       {"llm", config.llm_url.empty() ? std::string("none") : config.llm_model + "@" + config.llm_url},
       {"remote_embedders", config.allow_remote_embedders ? "allowed" : "refused"}});

  if (config.keys_on_command_line) {
    Log(LogLevel::kWarn, "api_key_on_command_line",
        {{"hint", "keys given with --api-key or --read-only-key show in the process list (ps, "
                  "/proc/PID/cmdline) to every local user; put them in a file and use "
                  "--api-key-file PATH instead"}});
  }

  // Wait for SIGTERM/SIGINT (blocked in every thread since main started).
  sigset_t signals = ShutdownSignals();
  int sig = 0;
  while (sigwait(&signals, &sig) != 0) {
  }
  Log(LogLevel::kInfo, "shutdown", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  if (auto* health = server->GetHealthCheckService()) {
    health->SetServingStatus(false);
  }
  // New calls get UNAVAILABLE from here on; running ones have up to kShutdownGrace to finish.
  // Only then is the gRPC server shut down (with a short grace for the last responses), so that
  // idle client connections, which may take seconds to notice a GOAWAY, cannot hold the exit up.
  service->BeginShutdown();
  if (!service->WaitIdle(std::chrono::steady_clock::now() + kShutdownGrace)) {
    Log(LogLevel::kWarn, "shutdown_cancelling", {{"reason", "calls still running after 10 s"}});
    service->CancelHttpRequests();
  }
  server->Shutdown(std::chrono::system_clock::now() + kFinalGrace);
  server->Wait();
  if (mcp_http) mcp_http->Stop();
  mcp_http.reset();
  if (openai_http) openai_http->Stop();
  openai_http.reset();
  if (metrics_http) metrics_http->Stop();
  metrics_http.reset();
  server.reset();
  service.reset();
  Log(LogLevel::kDebug, "grpc_stopped", {});
#ifdef SEXTANT_WITH_CLUSTER
  cluster_db.reset();
  cluster_node.reset();  // leaves the cluster, stops the replicas
#endif
  db.reset();  // flushes and closes
  Log(LogLevel::kInfo, "stopped", {});
  return kExitOk;
}

}  // namespace sextant::server
