// sextantd's side surfaces: local embedder models by name only, the --api-key warning, and the
// metrics endpoint's key and loopback rules.
#include <arpa/inet.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

using grpc::StatusCode;

TEST(SurfacesTest, LocalEmbedderTakesModelNamesNotPaths) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--model-dir", server.dir().Sub("models")}));
  for (const char* model : {"/etc", "/tmp/../etc/ssl", "sub/../../x", "a/b"}) {
    v1::CreateCollectionRequest req;
    req.set_name("kb");
    req.mutable_text()->mutable_embedder()->set_kind("local");
    req.mutable_text()->mutable_embedder()->set_local_model(model);
    v1::CollectionInfo info;
    grpc::Status s = server.stub().CreateCollection(Ctx().get(), req, &info);
    EXPECT_EQ(s.error_code(), StatusCode::INVALID_ARGUMENT) << model << ": " << Describe(s);
    EXPECT_NE(s.error_message().find("--model-dir"), std::string::npos) << s.error_message();
  }
  // A name is looked up under the model directory (missing here: NOT_FOUND with a hint).
  v1::CreateCollectionRequest req;
  req.set_name("kb");
  req.mutable_text()->mutable_embedder()->set_kind("local");
  req.mutable_text()->mutable_embedder()->set_local_model("no-such-model");
  v1::CollectionInfo info;
  grpc::Status s = server.stub().CreateCollection(Ctx().get(), req, &info);
  EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND) << Describe(s);
  v1::ListCollectionsResponse list;
  ASSERT_TRUE(server.stub().ListCollections(Ctx().get(), v1::ListCollectionsRequest(), &list).ok());
  EXPECT_EQ(list.collections_size(), 0);
}

TEST(SurfacesTest, ApiKeyOnTheCommandLineIsWarnedAbout) {
  {
    ServerFixture server;
    ASSERT_TRUE(server.Start({"--api-key", "visible-key-123"}));
    const std::string log = server.process().log();
    EXPECT_NE(log.find("level=warn event=api_key_on_command_line"), std::string::npos) << log;
    EXPECT_NE(log.find("--api-key-file"), std::string::npos) << log;
    EXPECT_EQ(log.find("visible-key-123"), std::string::npos) << "the key itself is logged";
  }
  {
    ServerFixture server;
    const std::string keys = server.dir().Sub("keys");
    std::ofstream(keys) << "file-key-123\n";
    ASSERT_TRUE(server.Start({"--api-key-file", keys}));
    EXPECT_EQ(server.process().log().find("api_key_on_command_line"), std::string::npos);
  }
}

// GET /metrics with an optional bearer key; the status code, or 0 when the connection fails.
int MetricsStatus(const std::string& host_port, const std::string& key, std::string* body) {
  const size_t colon = host_port.rfind(':');
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::atoi(host_port.c_str() + colon + 1)));
  inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &addr.sin_addr);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return 0;
  }
  std::string req = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n";
  if (!key.empty()) req += "Authorization: Bearer " + key + "\r\n";
  req += "\r\n";
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return 0;
  }
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  close(fd);
  if (out.size() < 12) return 0;
  if (body) *body = out.substr(out.find("\r\n\r\n") + 4);
  return std::atoi(out.c_str() + 9);
}

TEST(SurfacesTest, MetricsNeedAKeyWhenTheServerHasKeys) {
  ServerFixture server;
  const std::string keys = server.dir().Sub("keys");
  std::ofstream(keys) << "rw-key-1234\nro-key-1234 read-only\n";
  ASSERT_TRUE(server.Start({"--api-key-file", keys, "--metrics", "127.0.0.1:0"}));
  const std::string listen = LogValue(server.process().log(), "metrics_listening", "listen");
  ASSERT_FALSE(listen.empty()) << server.process().log();
  EXPECT_EQ(LogValue(server.process().log(), "metrics_listening", "auth"), "on");
  std::string body;
  EXPECT_EQ(MetricsStatus(listen, "", &body), 401);
  EXPECT_EQ(body.find("sextant_"), std::string::npos) << body;
  EXPECT_EQ(MetricsStatus(listen, "wrong", &body), 401);
  EXPECT_EQ(MetricsStatus(listen, "ro-key-1234", &body), 200);
  EXPECT_NE(body.find("sextant_requests_total"), std::string::npos) << body;
  EXPECT_EQ(MetricsStatus(listen, "rw-key-1234", &body), 200);
}

TEST(SurfacesTest, MetricsPublicServesWithoutAKey) {
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--api-key", "k-123456", "--metrics", "127.0.0.1:0", "--metrics-public"}));
  const std::string listen = LogValue(server.process().log(), "metrics_listening", "listen");
  ASSERT_FALSE(listen.empty()) << server.process().log();
  std::string body;
  EXPECT_EQ(MetricsStatus(listen, "", &body), 200);
}

TEST(SurfacesTest, MetricsOnANonLoopbackAddressNeedKeysOrAllowRemote) {
  std::string output;
  EXPECT_EQ(RunSextantd({"--metrics", "0.0.0.0:0"}, &output), 2);
  EXPECT_NE(output.find("--metrics 0.0.0.0:0 is not a loopback address"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--metrics", "0.0.0.0:0", "--api-key", "k-123456", "--metrics-public"}, &output), 2);
  EXPECT_NE(output.find("--metrics"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--metrics-public=maybe"}, &output), 2);
  EXPECT_NE(output.find("--metrics-public"), std::string::npos) << output;
}

}  // namespace
}  // namespace sextant::testing
