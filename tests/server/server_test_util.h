// Shared pieces of the sextantd tests: a running server with a stub, and request builders.
#ifndef SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_
#define SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "integration/sextantd_process.h"
#include "sextant/v1/sextant.grpc.pb.h"
#include "test_util.h"

namespace sextant::testing {

namespace v1 = ::sextant::v1;

// A sextantd on a free port with its data in a fresh directory, and a stub connected to it.
class ServerFixture {
 public:
  ServerFixture() = default;
  ServerFixture(const ServerFixture&) = delete;
  ServerFixture& operator=(const ServerFixture&) = delete;
  // Shows the server's log when the test failed.
  ~ServerFixture() {
    if (::testing::Test::HasFailure()) PrintLog();
  }
  void PrintLog() const {
    std::cerr << "---- sextantd log (" << data_dir() << ")\n" << server_.log() << "----\n";
  }

  // Starts the server with `extra` flags; ADD_FAILUREs with its log when it does not come up.
  bool Start(const std::vector<std::string>& extra = {}) {
    if (!server_.Start(data_dir(), extra)) {
      ADD_FAILURE() << "sextantd did not start; its log:\n" << server_.log();
      return false;
    }
    channel_ = grpc::CreateChannel(server_.address(), grpc::InsecureChannelCredentials());
    stub_ = v1::Sextant::NewStub(channel_);
    return true;
  }

  std::string data_dir() const { return dir_.Sub("data"); }
  const TempDir& dir() const { return dir_; }
  SextantdProcess& process() { return server_; }
  v1::Sextant::Stub& stub() { return *stub_; }
  std::shared_ptr<grpc::Channel> channel() { return channel_; }

 private:
  TempDir dir_;
  SextantdProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::Sextant::Stub> stub_;
};

// A client context with a 30 s deadline and, when given, "authorization: Bearer KEY".
inline std::unique_ptr<grpc::ClientContext> Ctx(const std::string& key = "") {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  if (!key.empty()) ctx->AddMetadata("authorization", "Bearer " + key);
  return ctx;
}

inline v1::CreateCollectionRequest CreateReq(const std::string& name, uint32_t dim,
                                             v1::Metric metric = v1::METRIC_L2,
                                             const std::string& index = "Flat") {
  v1::CreateCollectionRequest req;
  req.set_name(name);
  req.set_dimension(dim);
  req.set_metric(metric);
  req.mutable_index()->set_spec(index);
  return req;
}

// An upsert of ids first..first+n-1 (numbers), vectors row i of `vectors` (dim floats each),
// payload {"group": id % 10}.
inline v1::UpsertRequest UpsertReq(const std::string& collection, uint64_t first, size_t n,
                                   size_t dim, const std::vector<float>& vectors) {
  v1::UpsertRequest req;
  req.set_collection(collection);
  for (size_t i = 0; i < n; ++i) {
    v1::Point* p = req.add_points();
    p->mutable_id()->set_num(first + i);
    p->mutable_vector()->Assign(vectors.begin() + static_cast<ptrdiff_t>((first + i) * dim),
                                vectors.begin() + static_cast<ptrdiff_t>((first + i + 1) * dim));
    p->set_payload("{\"group\":" + std::to_string((first + i) % 10) + "}");
  }
  return req;
}

// Runs sextantd with `args` to completion (it must exit on its own, e.g. a usage error) and
// returns its exit code; *output receives what it printed on stdout and stderr.
inline int RunSextantd(const std::vector<std::string>& args, std::string* output) {
  TempDir tmp;
  const std::string out_file = tmp.Sub("out");
  std::vector<std::string> argv_s = {SextantdPath()};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  const pid_t pid = fork();
  if (pid == 0) {
    const int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (auto& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  std::ifstream in(out_file);
  output->assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The value of `key=` in the first log line of `event` ("event=metrics_listening"), or "".
inline std::string LogValue(const std::string& log, const std::string& event,
                            const std::string& key) {
  std::smatch m;
  const std::regex re("event=" + event + "[^\n]* " + key + "=([^ \n]*)");
  return std::regex_search(log, m, re) ? m[1].str() : std::string();
}

// GET http://host_port/path over a plain socket; the whole response (status line, headers,
// body), or "" when the connection fails.
inline std::string HttpGet(const std::string& host_port, const std::string& path) {
  const size_t colon = host_port.rfind(':');
  const std::string host = host_port.substr(0, colon);
  const int port = std::atoi(host_port.c_str() + colon + 1);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return "";
  }
  const std::string req = "GET " + path + " HTTP/1.1\r\nHost: " + host_port +
                          "\r\nConnection: close\r\n\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return "";
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  return out;
}

// Calls a unary method by name with raw (serialized protobuf) bytes; returns the status and
// fills *response. For services whose C++ stubs Debian does not ship (health, reflection).
inline grpc::Status RawUnaryCall(const std::shared_ptr<grpc::Channel>& channel,
                                 const std::string& method, const std::string& request,
                                 std::string* response, grpc::ClientContext* ctx) {
  grpc::GenericStub stub(channel);
  grpc::CompletionQueue cq;
  grpc::Slice slice(request);
  grpc::ByteBuffer req(&slice, 1), resp;
  auto call = stub.PrepareUnaryCall(ctx, method, req, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&resp, &status, reinterpret_cast<void*>(1));
  void* tag = nullptr;
  bool ok = false;
  cq.Next(&tag, &ok);
  response->clear();
  std::vector<grpc::Slice> slices;
  if (status.ok() && resp.Dump(&slices).ok()) {
    for (const auto& s : slices) response->append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

// "CODE: message" for failure output.
inline std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message();
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_
