// The error kinds a client sees: the engine's (InvalidArgument, NotFound, AlreadyExists) through
// the server unchanged, the client's own checks, the server's limits, and API keys
// (Unauthenticated without or with a wrong key, PermissionDenied for a read-only key's writes).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <limits>

#include "client_test_util.h"

namespace sextant {
namespace {

using ::sextant::testing::MustConnect;
using ::sextant::testing::NumericIds;
using ::sextant::testing::Options;
using ::sextant::testing::RandomVectors;
using ::sextant::testing::TestServer;

class ClientErrorsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer;
    started_ = server_->Start({"--max-batch-points", "100", "--max-message-bytes", "1000000"});
    if (!started_) {
      ADD_FAILURE() << started_.message();
    }
  }
  static void TearDownTestSuite() {
    if (server_->process.running()) {
      EXPECT_EQ(server_->process.Stop(), 0) << server_->process.log();
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_TRUE(started_) << "sextantd is not running";
    client_ = MustConnect(server_->process.address());
    ASSERT_NE(client_, nullptr);
  }
  static TestServer* server_;
  static ::testing::AssertionResult started_;
  std::unique_ptr<Client> client_;
};

TestServer* ClientErrorsTest::server_ = nullptr;
::testing::AssertionResult ClientErrorsTest::started_ = ::testing::AssertionFailure();

TEST_F(ClientErrorsTest, WrongDimensionIsInvalidArgument) {
  ASSERT_TRUE(client_->CreateCollection("dim4", Options(4, Metric::kL2)).ok());
  auto c = client_->Collection("dim4");
  // 2 points of 3 floats into a 4-dimensional collection.
  const Status s = c->Upsert({}, NumericIds(2), std::vector<float>(6, 1.0f));
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_FALSE(s.message().empty());
  EXPECT_EQ(*c->Count(), 0u);  // nothing of the batch was written
  ASSERT_OK(c->Upsert({}, NumericIds(1), std::vector<float>{1, 2, 3, 4}));
  EXPECT_CODE(c->Search({}, std::vector<float>{1, 2, 3}).status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->Search({}, std::vector<float>(5, 0.0f)).status(), StatusCode::kInvalidArgument);
  // A vector count that is no multiple of the ids never leaves the client.
  EXPECT_CODE(c->Upsert({}, NumericIds(2), std::vector<float>(7, 1.0f)), StatusCode::kInvalidArgument);
}

TEST_F(ClientErrorsTest, BadInputIsInvalidArgument) {
  ASSERT_TRUE(client_->CreateCollection("bad_input", Options(2, Metric::kCosine)).ok());
  auto c = client_->Collection("bad_input");
  const float nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_CODE(c->Upsert({}, NumericIds(1), std::vector<float>{nan, 1}), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->Upsert({}, NumericIds(1), std::vector<float>{0, 0}), StatusCode::kInvalidArgument);  // cosine zero
  const std::vector<std::string> not_object = {"[1, 2]"};
  EXPECT_CODE(c->Upsert({}, NumericIds(1), std::vector<float>{1, 1}, not_object), StatusCode::kInvalidArgument);
  const std::vector<PointId> empty_id = {PointId("")};
  EXPECT_CODE(c->Upsert({}, empty_id, std::vector<float>{1, 1}), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->Upsert({}, {}, {}), StatusCode::kInvalidArgument);  // empty batch
  const std::vector<std::string> two_payloads = {"{}", "{}"};
  EXPECT_CODE(c->Upsert({}, NumericIds(1), std::vector<float>{1, 1}, two_payloads),
              StatusCode::kInvalidArgument);
  ASSERT_OK(c->Upsert({}, NumericIds(1), std::vector<float>{1, 1}));

  SearchOptions options;
  options.filter = R"({"year": {"$gte": })";
  EXPECT_CODE(c->Search(options, std::vector<float>{1, 0}).status(), StatusCode::kInvalidArgument);
  options.filter.clear();
  options.k = 0;
  EXPECT_CODE(c->Search(options, std::vector<float>{1, 0}).status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(c->SearchBatch(options, std::vector<float>{1, 0}).status(), StatusCode::kInvalidArgument);
  options.k = 1;
  EXPECT_CODE(c->Search(options, std::vector<float>{nan, 0}).status(), StatusCode::kInvalidArgument);

  IndexOptions bad;
  bad.type = IndexType::kHnsw;
  bad.m = 1;  // HNSW1: m must be 2..128
  EXPECT_CODE(c->SetIndex(bad), StatusCode::kInvalidArgument);
  EXPECT_EQ(c->Describe()->index, "Flat");
}

TEST_F(ClientErrorsTest, BadCollectionOptionsAreInvalidArgument) {
  EXPECT_CODE(client_->CreateCollection("", Options(4, Metric::kL2)).status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(client_->CreateCollection("has space", Options(4, Metric::kL2)).status(),
              StatusCode::kInvalidArgument);
  EXPECT_CODE(client_->CreateCollection("dim0", Options(0, Metric::kL2)).status(), StatusCode::kInvalidArgument);
  EXPECT_CODE(client_->CreateCollection("dimbig", Options(70000, Metric::kL2)).status(),
              StatusCode::kInvalidArgument);
  CollectionOptions twice = Options(4, Metric::kL2);
  twice.payload_indexes = {{.field = "a", .type = PayloadFieldType::kKeyword},
                           {.field = "a", .type = PayloadFieldType::kInteger}};
  EXPECT_CODE(client_->CreateCollection("twice", twice).status(), StatusCode::kInvalidArgument);
  auto list = client_->ListCollections();
  ASSERT_TRUE(list.ok());
  for (const CollectionInfo& info : *list) {
    EXPECT_NE(info.name, "dim0");
    EXPECT_NE(info.name, "twice");
  }
}

TEST_F(ClientErrorsTest, DuplicateIsAlreadyExists) {
  ASSERT_TRUE(client_->CreateCollection("dup", Options(4, Metric::kL2)).ok());
  auto again = client_->CreateCollection("dup", Options(8, Metric::kCosine));
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists) << again.status().ToString();
  EXPECT_EQ(client_->Describe("dup")->dimension, 4u);  // the first one is untouched
}

TEST_F(ClientErrorsTest, UnknownCollectionIsNotFound) {
  auto c = client_->Collection("no_such_collection");
  const std::vector<float> v = {1, 2};
  EXPECT_CODE(c->Count().status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Describe().status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Get(1).status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Upsert({}, NumericIds(1), v), StatusCode::kNotFound);
  EXPECT_CODE(c->Delete({}, NumericIds(1)).status(), StatusCode::kNotFound);
  EXPECT_CODE(c->DeleteWhere({}, "{}").status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Search({}, v).status(), StatusCode::kNotFound);
  EXPECT_CODE(c->SearchBatch({}, v).status(), StatusCode::kNotFound);
  EXPECT_CODE(c->Scan({}).status(), StatusCode::kNotFound);
  EXPECT_CODE(c->SetIndex({}), StatusCode::kNotFound);
  EXPECT_CODE(c->RebuildIndex(), StatusCode::kNotFound);
  EXPECT_CODE(c->WaitForIndex(1000), StatusCode::kNotFound);
  EXPECT_CODE(client_->Describe("no_such_collection").status(), StatusCode::kNotFound);
  EXPECT_CODE(client_->DropCollection("no_such_collection"), StatusCode::kNotFound);
  auto stream = c->OpenUpsertStream();
  EXPECT_CODE(stream->Write(NumericIds(1), v), StatusCode::kNotFound);
  EXPECT_CODE(stream->Finish().status(), StatusCode::kNotFound);
  // A collection dropped while a handle is held.
  ASSERT_TRUE(client_->CreateCollection("dropped", Options(2, Metric::kL2)).ok());
  auto dropped = client_->Collection("dropped");
  ASSERT_OK(dropped->Upsert({}, NumericIds(1), v));
  ASSERT_OK(client_->DropCollection("dropped"));
  EXPECT_CODE(dropped->Count().status(), StatusCode::kNotFound);
}

TEST_F(ClientErrorsTest, BatchLimitIsEnforced) {
  auto info = client_->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->limits.max_batch_points, 100u);
  ASSERT_TRUE(client_->CreateCollection("limits", Options(2, Metric::kL2)).ok());
  auto c = client_->Collection("limits");
  const std::vector<float> v = RandomVectors(101, 2, 1);
  const Status s = c->Upsert({}, NumericIds(101), v);
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s.ToString();
  ASSERT_OK(c->Upsert({}, NumericIds(100), std::span<const float>(v.data(), 200)));
  EXPECT_EQ(*c->Count(), 100u);
  auto stream = c->OpenUpsertStream();
  EXPECT_CODE(stream->Write(NumericIds(101, 1000), v), StatusCode::kResourceExhausted);
  EXPECT_EQ(*c->Count(), 100u);
}

TEST_F(ClientErrorsTest, MessageSizeLimitsAreResourceExhausted) {
  auto info = client_->Info();
  ASSERT_TRUE(info.ok());
  ASSERT_EQ(info->limits.max_message_bytes, 1000000u);
  constexpr uint32_t kWide = 5000;
  ASSERT_TRUE(client_->CreateCollection("wide", Options(kWide, Metric::kL2)).ok());
  auto c = client_->Collection("wide");
  // 60 points of 5000 floats: 1.2 MB, over the server's 1 MB limit.
  const std::vector<float> v = RandomVectors(60, kWide, 2);
  EXPECT_CODE(c->Upsert({}, NumericIds(60), v), StatusCode::kResourceExhausted);
  EXPECT_EQ(*c->Count(), 0u);
  ASSERT_OK(c->Upsert({}, NumericIds(20), std::span<const float>(v).subspan(0, 20 * kWide)));

  // A response larger than the client accepts (20 x 20 KB of vectors, 16 KB allowed).
  ClientOptions small;
  small.address = server_->process.address();
  small.max_receive_message_bytes = 16 * 1024;
  auto limited = Client::Connect(small);
  ASSERT_TRUE(limited.ok());
  auto scan = (*limited)->Collection("wide")->Scan({});
  EXPECT_EQ(scan.status().code(), StatusCode::kResourceExhausted) << scan.status().ToString();
  EXPECT_TRUE((*limited)->Collection("wide")->Scan({}, /*with_vector=*/false).ok());
}

TEST(ClientDeadlineTest, SilentServerIsDeadlineExceeded) {
  // A socket that listens but never answers: the call waits for the server until its deadline.
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(fd, 16), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ClientOptions options;
  options.address = "127.0.0.1:" + std::to_string(ntohs(addr.sin_port));
  options.timeout_ms = 300;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  EXPECT_CODE((*client)->Info().status(), StatusCode::kDeadlineExceeded);
  EXPECT_CODE((*client)->Collection("x")->Count().status(), StatusCode::kDeadlineExceeded);
  close(fd);
}

// A server that requires keys: "rw" may do everything, "ro" may only read.
class ClientAuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new TestServer;
    started_ = server_->Start({"--api-key", "rw-secret", "--read-only-key", "ro-secret"});
    if (!started_) {
      ADD_FAILURE() << started_.message();
    }
  }
  static void TearDownTestSuite() {
    if (server_->process.running()) {
      EXPECT_EQ(server_->process.Stop(), 0) << server_->process.log();
    }
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(started_) << "sextantd is not running"; }
  std::string address() const { return server_->process.address(); }

  static TestServer* server_;
  static ::testing::AssertionResult started_;
};

TestServer* ClientAuthTest::server_ = nullptr;
::testing::AssertionResult ClientAuthTest::started_ = ::testing::AssertionFailure();

TEST_F(ClientAuthTest, NoKeyOrWrongKeyIsUnauthenticated) {
  for (const std::string key : {"", "wrong-secret"}) {
    SCOPED_TRACE("key '" + key + "'");
    auto client = MustConnect(address(), key);
    ASSERT_NE(client, nullptr);
    EXPECT_CODE(client->Info().status(), StatusCode::kUnauthenticated);
    EXPECT_CODE(client->ListCollections().status(), StatusCode::kUnauthenticated);
    EXPECT_CODE(client->CreateCollection("auth_x", Options(2, Metric::kL2)).status(),
                StatusCode::kUnauthenticated);
    auto c = client->Collection("auth_x");
    EXPECT_CODE(c->Count().status(), StatusCode::kUnauthenticated);
    EXPECT_CODE(c->Search({}, std::vector<float>{1, 2}).status(), StatusCode::kUnauthenticated);
    auto stream = c->OpenUpsertStream();
    EXPECT_CODE(stream->Write(NumericIds(1), std::vector<float>{1, 2}), StatusCode::kUnauthenticated);
  }
}

TEST_F(ClientAuthTest, ReadOnlyKeyReadsButCannotWrite) {
  auto rw = MustConnect(address(), "rw-secret");
  auto ro = MustConnect(address(), "ro-secret");
  ASSERT_NE(rw, nullptr);
  ASSERT_NE(ro, nullptr);
  auto rw_info = rw->Info();
  ASSERT_TRUE(rw_info.ok()) << rw_info.status().ToString();
  EXPECT_FALSE(rw_info->read_only);
  auto ro_info = ro->Info();
  ASSERT_TRUE(ro_info.ok()) << ro_info.status().ToString();
  EXPECT_TRUE(ro_info->read_only);

  ASSERT_TRUE(rw->CreateCollection("auth", Options(2, Metric::kL2)).ok());
  ASSERT_OK(rw->Collection("auth")->Upsert({}, NumericIds(3), std::vector<float>{1, 0, 0, 1, 1, 1}));

  // Reads.
  auto c = ro->Collection("auth");
  EXPECT_EQ(*c->Count(), 3u);
  EXPECT_TRUE(c->Get(1).ok());
  auto hits = c->Search({}, std::vector<float>{1, 0});
  ASSERT_TRUE(hits.ok()) << hits.status().ToString();
  EXPECT_EQ(hits->size(), 3u);
  EXPECT_TRUE(c->SearchBatch({}, std::vector<float>{1, 0, 0, 1}).ok());
  EXPECT_TRUE(c->Scan({}).ok());
  EXPECT_TRUE(c->Describe().ok());
  EXPECT_TRUE(ro->ListCollections().ok());

  // Writes.
  EXPECT_CODE(ro->CreateCollection("auth2", Options(2, Metric::kL2)).status(), StatusCode::kPermissionDenied);
  EXPECT_CODE(ro->DropCollection("auth"), StatusCode::kPermissionDenied);
  EXPECT_CODE(c->Upsert({}, NumericIds(1, 10), std::vector<float>{5, 5}), StatusCode::kPermissionDenied);
  EXPECT_CODE(c->Delete({}, NumericIds(1)).status(), StatusCode::kPermissionDenied);
  EXPECT_CODE(c->DeleteWhere({}, "{}").status(), StatusCode::kPermissionDenied);
  EXPECT_CODE(c->SetIndex(IndexOptions::Parse("HNSW16").value()), StatusCode::kPermissionDenied);
  EXPECT_CODE(c->RebuildIndex(), StatusCode::kPermissionDenied);
  auto stream = c->OpenUpsertStream();
  EXPECT_CODE(stream->Write(NumericIds(1, 10), std::vector<float>{5, 5}), StatusCode::kPermissionDenied);
  // Nothing changed.
  EXPECT_EQ(*c->Count(), 3u);
  EXPECT_EQ(rw->Describe("auth")->index, "Flat");
}

}  // namespace
}  // namespace sextant
