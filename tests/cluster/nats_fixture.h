// Starts real nats-server processes with JetStream for the cluster tests: one server, or a cluster
// of three with JetStream R=3 (file storage, sync_interval: always, as docs/cluster.md prescribes).
// The binary: $SEXTANT_NATS_SERVER, else the one CMake found (scripts/install-nats.sh).
#ifndef SEXTANT_TESTS_CLUSTER_NATS_FIXTURE_H_
#define SEXTANT_TESTS_CLUSTER_NATS_FIXTURE_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace sextant::testing {

inline std::string NatsServerBinary() {
  if (const char* e = std::getenv("SEXTANT_NATS_SERVER"); e != nullptr && *e != '\0') return e;
  return SEXTANT_NATS_SERVER_PATH;
}

// A loopback port that was free a moment ago.
inline int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  ::close(fd);
  return port;
}

inline bool PortOpen(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(static_cast<uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// One nats-server process (or a member of a 3-server cluster).
class NatsServerProcess {
 public:
  NatsServerProcess(std::filesystem::path dir, std::string name, int port, int cluster_port,
                    std::vector<int> routes, const std::string& cluster_name = "sextant_test")
      : dir_(std::move(dir)), name_(std::move(name)), port_(port), cluster_port_(cluster_port),
        routes_(std::move(routes)) {
    std::filesystem::create_directories(dir_);
    std::ofstream conf(dir_ / "nats.conf");
    conf << "listen: 127.0.0.1:" << port_ << "\n"
         << "server_name: " << name_ << "\n"
         << "jetstream { store_dir: \"" << (dir_ / "js").string() << "\", sync_interval: always }\n";
    if (cluster_port_ > 0) {
      conf << "cluster { name: " << cluster_name << ", listen: 127.0.0.1:" << cluster_port_ << ", routes: [";
      for (size_t i = 0; i < routes_.size(); ++i) {
        conf << (i ? ", " : "") << "nats://127.0.0.1:" << routes_[i];
      }
      conf << "] }\n";
    }
  }
  ~NatsServerProcess() { Kill(SIGTERM); }

  void Start() {
    std::string bin = NatsServerBinary();
    std::string conf = (dir_ / "nats.conf").string();
    std::string log = (dir_ / "nats.log").string();
    pid_ = ::fork();
    if (pid_ == 0) {
      // Both streams to the log (a server holding the test's stdout keeps ctest waiting after a
      // timeout), and the server dies with the test.
      FILE* f = std::freopen(log.c_str(), "a", stderr);
      FILE* g = std::freopen(log.c_str(), "a", stdout);
      (void)f;
      (void)g;
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      ::execl(bin.c_str(), bin.c_str(), "-c", conf.c_str(), static_cast<char*>(nullptr));
      std::_Exit(127);
    }
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (!PortOpen(port_)) {
      if (std::chrono::steady_clock::now() > deadline) throw std::runtime_error("nats-server did not start: " + log);
      int status;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        throw std::runtime_error("nats-server (" + bin + ") exited at start; see " + log);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  void Kill(int sig) {
    if (pid_ <= 0) return;
    ::kill(pid_, sig);
    int status;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

  std::string url() const { return "nats://127.0.0.1:" + std::to_string(port_); }
  bool running() const { return pid_ > 0; }

 private:
  std::filesystem::path dir_;
  std::string name_;
  int port_;
  int cluster_port_;
  std::vector<int> routes_;
  pid_t pid_ = -1;
};

// `n` servers (1, or 3 in a JetStream cluster) under `dir`.
class NatsCluster {
 public:
  NatsCluster(const std::filesystem::path& dir, int n) {
    std::vector<int> ports, cports;
    // A name of its own: tests run side by side on loopback, and servers of different clusters
    // refuse each other's routes even if a port was reused.
    std::string cluster_name = "sextant_test_" + std::to_string(std::random_device{}());
    for (int i = 0; i < n; ++i) {
      ports.push_back(FreePort());
      cports.push_back(n > 1 ? FreePort() : 0);
    }
    for (int i = 0; i < n; ++i) {
      std::vector<int> routes;
      if (n > 1) {
        for (int j = 0; j < n; ++j) {
          if (j != i) routes.push_back(cports[j]);
        }
      }
      servers_.push_back(std::make_unique<NatsServerProcess>(dir / ("nats" + std::to_string(i)),
                                                             "n" + std::to_string(i), ports[i], cports[i], routes,
                                                             cluster_name));
    }
    for (auto& s : servers_) s->Start();
  }
  std::string urls() const {
    std::string out;
    for (const auto& s : servers_) out += (out.empty() ? "" : ",") + s->url();
    return out;
  }
  NatsServerProcess& server(int i) { return *servers_[i]; }

 private:
  std::vector<std::unique_ptr<NatsServerProcess>> servers_;
};

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_CLUSTER_NATS_FIXTURE_H_
