// TLS: a server started with --tls-cert/--tls-key answers a client that trusts its certificate
// (ClientOptions::root_certificates) and refuses plain text and clients that do not trust it.
// The certificate is made with openssl; the test skips when openssl is not installed.
#include <cstdlib>
#include <fstream>
#include <iterator>

#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::TestServer;

TEST(ClientTlsTest, TrustedCertificateOnly) {
  if (std::system("command -v openssl >/dev/null 2>&1") != 0) {
    GTEST_SKIP() << "openssl is not installed: cannot make a test certificate";
  }
  TestServer server;
  const std::string cert = server.dir.Sub("cert.pem");
  const std::string key = server.dir.Sub("key.pem");
  const std::string make = "openssl req -x509 -newkey rsa:2048 -nodes -keyout '" + key + "' -out '" + cert +
                           "' -days 2 -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost"
                           " >/dev/null 2>&1";
  ASSERT_EQ(std::system(make.c_str()), 0) << make;
  std::ifstream in(cert);
  const std::string pem((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  ASSERT_NE(pem.find("BEGIN CERTIFICATE"), std::string::npos);
  ASSERT_TRUE(server.Start({"--tls-cert", cert, "--tls-key", key}));

  ClientOptions options;
  options.address = server.process.address();
  options.tls = true;
  options.root_certificates = pem;
  options.timeout_ms = 30000;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  auto info = (*client)->Info();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_TRUE((*client)->CreateCollection("docs", Options(2, Metric::kL2)).ok());
  auto docs = (*client)->Collection("docs");
  ASSERT_OK(docs->Upsert({}, NumericIds(1), std::vector<float>{1, 2}));
  auto stream = docs->OpenUpsertStream();
  ASSERT_OK(stream->Write(NumericIds(1, 1), std::vector<float>{3, 4}));
  ASSERT_TRUE(stream->Finish().ok());
  EXPECT_EQ(*docs->Count(), 2u);

  // Plain text to a TLS port.
  ClientOptions plain = options;
  plain.tls = false;
  plain.root_certificates.clear();
  auto plain_client = Client::Connect(plain);
  ASSERT_TRUE(plain_client.ok());
  EXPECT_CODE((*plain_client)->Info().status(), StatusCode::kUnavailable);
  // TLS with the system's roots, which do not include the self-signed certificate.
  ClientOptions untrusted = options;
  untrusted.root_certificates.clear();
  auto untrusted_client = Client::Connect(untrusted);
  ASSERT_TRUE(untrusted_client.ok());
  EXPECT_CODE((*untrusted_client)->Info().status(), StatusCode::kUnavailable);

  EXPECT_EQ(server.process.Stop(), 0) << server.process.log();
}

}  // namespace
}  // namespace sextant
