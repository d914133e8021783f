// sextantd over TLS, with a self-signed certificate made by openssl for the test.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>

#include "server_test_util.h"

namespace sextant::testing {
namespace {

// Writes cert.pem and key.pem for 127.0.0.1 into `dir`; false when openssl is missing or fails.
bool MakeCertificate(const TempDir& dir) {
  if (std::system("command -v openssl > /dev/null 2>&1") != 0) return false;
  const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                          "-addext subjectAltName=IP:127.0.0.1 -keyout " + dir.Sub("key.pem") +
                          " -out " + dir.Sub("cert.pem") + " > " + dir.Sub("openssl.log") + " 2>&1";
  return std::system(cmd.c_str()) == 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST(TlsTest, ServesTlsAndRefusesPlaintext) {
  TempDir certs;
  if (!MakeCertificate(certs)) GTEST_SKIP() << "openssl is not available to make a test certificate";
  ServerFixture server;
  ASSERT_TRUE(server.Start({"--tls-cert", certs.Sub("cert.pem"), "--tls-key", certs.Sub("key.pem"),
                            "--api-key", "secret"}));
  EXPECT_NE(server.process().log().find("tls=on"), std::string::npos);

  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadAll(certs.Sub("cert.pem"));
  auto channel = grpc::CreateChannel(server.process().address(), grpc::SslCredentials(ssl));
  auto stub = v1::Sextant::NewStub(channel);
  v1::ServerInfoResponse info;
  auto status = stub->ServerInfo(Ctx("secret").get(), v1::ServerInfoRequest(), &info);
  ASSERT_TRUE(status.ok()) << Describe(status);
  EXPECT_FALSE(info.read_only());
  EXPECT_EQ(stub->ServerInfo(Ctx("wrong").get(), v1::ServerInfoRequest(), &info).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  v1::CollectionInfo created;
  ASSERT_TRUE(stub->CreateCollection(Ctx("secret").get(), CreateReq("docs", 4), &created).ok());

  // A plaintext client gets nowhere.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
  ctx.AddMetadata("authorization", "Bearer secret");
  EXPECT_FALSE(server.stub().ServerInfo(&ctx, v1::ServerInfoRequest(), &info).ok());
  EXPECT_EQ(server.process().Stop(), 0);
}

TEST(TlsTest, UnusableCertificateFailsToStart) {
  TempDir dir;
  std::ofstream(dir.Sub("cert.pem")) << "-----BEGIN CERTIFICATE-----\nnot a certificate\n"
                                        "-----END CERTIFICATE-----\n";
  std::ofstream(dir.Sub("key.pem")) << "not a key\n";
  std::string output;
  const int code = RunSextantd({"--data", dir.Sub("data"), "--listen", "127.0.0.1:0", "--tls-cert",
                                dir.Sub("cert.pem"), "--tls-key", dir.Sub("key.pem")},
                               &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("TLS certificate"), std::string::npos) << output;
}

}  // namespace
}  // namespace sextant::testing
