// Starts a real sextantd for a test: a child process on a free loopback port, with its data in a
// directory the test owns. Used by the server and C++ client integration tests.
//
//   SextantdProcess server;
//   ASSERT_TRUE(server.Start(dir.path(), {"--api-key", "k"}));
//   auto channel = grpc::CreateChannel(server.address(), grpc::InsecureChannelCredentials());
//   ...
//   EXPECT_EQ(server.Stop(), 0);   // SIGTERM, waits, returns the exit code
#ifndef SEXTANT_TESTS_INTEGRATION_SEXTANTD_PROCESS_H_
#define SEXTANT_TESTS_INTEGRATION_SEXTANTD_PROCESS_H_

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <thread>
#include <vector>

namespace sextant::testing {

// The sextantd binary under test: $SEXTANTD, else the path CMake compiled in.
inline std::string SextantdPath() {
  if (const char* env = std::getenv("SEXTANTD"); env && *env) return env;
#ifdef SEXTANTD_PATH
  return SEXTANTD_PATH;
#else
  return "sextantd";
#endif
}

class SextantdProcess {
 public:
  SextantdProcess() = default;
  SextantdProcess(const SextantdProcess&) = delete;
  SextantdProcess& operator=(const SextantdProcess&) = delete;
  ~SextantdProcess() { Kill(); }

  // Starts `sextantd --data data_dir --listen 127.0.0.1:0 --port-file F extra...` and waits up
  // to 30 s until it has written the port it listens on. False (with the log in log()) when it
  // exits or does not come up.
  bool Start(const std::string& data_dir, const std::vector<std::string>& extra = {}) {
    Kill();
    port_file_ = data_dir + ".port";
    log_file_ = data_dir + ".log";
    std::remove(port_file_.c_str());
    std::vector<std::string> args = {SextantdPath(), "--data", data_dir, "--listen", "127.0.0.1:0",
                                     "--port-file", port_file_};
    args.insert(args.end(), extra.begin(), extra.end());
    pid_ = fork();
    if (pid_ < 0) return false;
    if (pid_ == 0) {
      FILE* log = std::freopen(log_file_.c_str(), "w", stdout);
      if (log) dup2(fileno(stdout), 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      std::ifstream in(port_file_);
      int port = 0;
      if (in >> port && port > 0) {
        port_ = port;
        return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    Kill();
    return false;
  }

  // Sends `sig` (SIGTERM by default) and waits for the exit; returns the exit code, 128 + signal
  // when it died of one, or -1 when it was not running.
  int Stop(int sig = SIGTERM) {
    if (pid_ <= 0) return -1;
    kill(pid_, sig);
    int status = 0;
    waitpid(pid_, &status, 0);
    pid_ = -1;
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
    return -1;
  }

  // kill -9, no clean shutdown.
  void Kill() {
    if (pid_ > 0) Stop(SIGKILL);
  }

  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Everything the server printed so far.
  std::string log() const {
    std::ifstream in(log_file_);
    return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string port_file_;
  std::string log_file_;
};

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_INTEGRATION_SEXTANTD_PROCESS_H_
