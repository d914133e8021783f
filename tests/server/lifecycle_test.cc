// sextantd's life: start-up failures, SIGTERM with a call in flight, restart with the data intact,
// the same directory opened by the embedded library, and a client killed in the middle of a
// stream.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "sextant/database.h"
#include "server_test_util.h"

namespace sextant::testing {

namespace {

using grpc::StatusCode;

uint64_t CountOf(v1::Sextant::Stub& stub, const std::string& collection) {
  v1::CountRequest req;
  req.set_collection(collection);
  v1::CountResponse resp;
  auto status = stub.Count(Ctx().get(), req, &resp);
  EXPECT_TRUE(status.ok()) << Describe(status);
  return resp.count();
}

// ---------------------------------------------------------------- a client killed mid-stream

constexpr size_t kChildDim = 512;
constexpr size_t kChildBatch = 1000;       // 2 MB per message
constexpr size_t kChildLastBatch = 10000;  // 20 MB: the message the child dies sending
constexpr int kChildAcked = 42;            // the child's exit code once 3 batches were acknowledged

const std::vector<float>& ChildVectors() {
  static const std::vector<float> v = RandomVectors(3 * kChildBatch, kChildDim, 77);
  return v;
}

}  // namespace

// Runs in a separate process (server_test --stream-child ADDRESS): streams 3 batches into
// collection "killed" and waits for their acknowledgements, starts sending a 4th, and dies
// without closing anything.
int StreamChildMain(const std::string& address) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto stub = v1::Sextant::NewStub(channel);
  grpc::ClientContext ctx;
  auto stream = stub->UpsertStream(&ctx);
  for (uint64_t b = 0; b < 3; ++b) {
    if (!stream->Write(UpsertReq(b == 0 ? "killed" : "", b * kChildBatch, kChildBatch, kChildDim,
                                 ChildVectors()))) {
      return 3;
    }
    v1::UpsertProgress progress;
    if (!stream->Read(&progress) || progress.batches() != b + 1) return 4;
  }
  const std::vector<float> more = RandomVectors(3 * kChildBatch + kChildLastBatch, kChildDim, 78);
  const v1::UpsertRequest fourth = UpsertReq("", 3 * kChildBatch, kChildLastBatch, kChildDim, more);
  std::thread writer([&] { stream->Write(fourth); });
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  _exit(kChildAcked);
}

namespace {

TEST(LifecycleTest, ClientKilledMidStreamLeavesCommittedBatchesOnly) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("killed", kChildDim), &info).ok());

  const pid_t child = fork();
  if (child == 0) {
    const std::string self = "/proc/self/exe";
    execl(self.c_str(), self.c_str(), "--stream-child", server.process().address().c_str(),
          static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), kChildAcked) << "the child did not get 3 acknowledgements";

  // The server notices the dead client; whatever it did with the 4th message, it committed all of
  // it or none of it. Wait until the stream has ended (its log line is written when it returns).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (server.process().log().find("method=UpsertStream") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  const uint64_t count = CountOf(server.stub(), "killed");
  EXPECT_TRUE(count == 3 * kChildBatch || count == 3 * kChildBatch + kChildLastBatch)
      << "count " << count;
  std::cout << "[          ] the 4th batch was " << (count == 3 * kChildBatch ? "not " : "")
            << "committed before the client died" << std::endl;

  // The acknowledged points are there with their exact vectors.
  for (uint64_t id : {uint64_t{0}, uint64_t{kChildBatch + 17}, uint64_t{3 * kChildBatch - 1}}) {
    v1::GetRequest get;
    get.set_collection("killed");
    get.mutable_id()->set_num(id);
    v1::Point point;
    auto s = server.stub().Get(Ctx().get(), get, &point);
    ASSERT_TRUE(s.ok()) << Describe(s);
    ASSERT_EQ(point.vector_size(), static_cast<int>(kChildDim));
    for (size_t j = 0; j < kChildDim; ++j) {
      ASSERT_EQ(point.vector(static_cast<int>(j)), ChildVectors()[id * kChildDim + j]);
    }
  }
  // And it survives a restart the same way.
  EXPECT_EQ(server.process().Stop(), 0) << server.process().log();
  ASSERT_TRUE(server.Start());
  EXPECT_EQ(CountOf(server.stub(), "killed"), count);
}

// ---------------------------------------------------------------- shutdown and restart

constexpr size_t kDim = 16;

TEST(LifecycleTest, SigtermFinishesTheStreamInFlightAndExitsZero) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  const std::vector<float> v = RandomVectors(3000, kDim, 9);
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());

  auto ctx = Ctx();
  auto stream = server.stub().UpsertStream(ctx.get());
  v1::UpsertProgress progress;
  for (uint64_t b = 0; b < 2; ++b) {
    ASSERT_TRUE(stream->Write(UpsertReq("docs", b * 1000, 1000, kDim, v)));
    ASSERT_TRUE(stream->Read(&progress));
  }
  // SIGTERM while the stream is open: the server stops accepting new calls but lets this one
  // finish (within 10 s).
  ASSERT_EQ(kill(server.process().pid(), SIGTERM), 0);
  // While it drains, new calls are refused with UNAVAILABLE and health reports NOT_SERVING.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  grpc::Status refused;
  do {
    v1::CountRequest req;
    req.set_collection("docs");
    v1::CountResponse resp;
    refused = server.stub().Count(Ctx().get(), req, &resp);
  } while (refused.ok() && std::chrono::steady_clock::now() < until);
  EXPECT_EQ(refused.error_code(), StatusCode::UNAVAILABLE) << Describe(refused);
  grpc::ClientContext health_ctx;
  std::string health;
  ASSERT_TRUE(RawUnaryCall(server.channel(), "/grpc.health.v1.Health/Check", "", &health, &health_ctx).ok());
  EXPECT_EQ(health, std::string("\x08\x02", 2));  // NOT_SERVING
  ASSERT_TRUE(stream->Write(UpsertReq("docs", 2000, 1000, kDim, v)));
  ASSERT_TRUE(stream->Read(&progress));
  EXPECT_EQ(progress.batches(), 3u);
  EXPECT_EQ(progress.points(), 3000u);
  ASSERT_TRUE(stream->WritesDone());
  auto status = stream->Finish();
  EXPECT_TRUE(status.ok()) << Describe(status);
  EXPECT_EQ(server.process().Stop(0), 0) << server.process().log();  // waits for the exit
  EXPECT_NE(server.process().log().find("event=stopped"), std::string::npos);

  ASSERT_TRUE(server.Start());
  EXPECT_EQ(CountOf(server.stub(), "docs"), 3000u);
}

TEST(LifecycleTest, RestartAndEmbeddedOpenGiveTheSameAnswers) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  const std::vector<float> v = RandomVectors(2000, kDim, 21);
  const std::vector<float> queries = RandomVectors(5, kDim, 22);
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("docs", kDim), &info).ok());
  for (uint64_t first = 0; first < 2000; first += 500) {
    v1::UpsertResponse resp;
    ASSERT_TRUE(server.stub().Upsert(Ctx().get(), UpsertReq("docs", first, 500, kDim, v), &resp).ok());
  }
  v1::DeleteRequest del;
  del.set_collection("docs");
  del.set_filter("{\"group\": 7}");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(server.stub().Delete(Ctx().get(), del, &deleted).ok());
  ASSERT_EQ(deleted.deleted(), 200u);

  auto search = [&](v1::Sextant::Stub& stub) {
    std::vector<std::vector<std::pair<uint64_t, float>>> out;
    for (size_t q = 0; q < 5; ++q) {
      v1::SearchRequest req;
      req.set_collection("docs");
      req.mutable_vector()->Assign(queries.begin() + static_cast<ptrdiff_t>(q * kDim),
                                   queries.begin() + static_cast<ptrdiff_t>((q + 1) * kDim));
      req.mutable_params()->set_k(10);
      req.mutable_params()->set_filter(q % 2 ? "{\"group\": 3}" : "");
      v1::SearchResponse resp;
      auto status = stub.Search(Ctx().get(), req, &resp);
      EXPECT_TRUE(status.ok()) << Describe(status);
      out.emplace_back();
      for (const auto& h : resp.hits()) out.back().emplace_back(h.id().num(), h.score());
    }
    return out;
  };
  const auto before = search(server.stub());
  ASSERT_EQ(before.size(), 5u);
  ASSERT_EQ(before[0].size(), 10u);
  EXPECT_EQ(server.process().Stop(), 0) << server.process().log();

  ASSERT_TRUE(server.Start());
  EXPECT_EQ(CountOf(server.stub(), "docs"), 1800u);
  EXPECT_EQ(search(server.stub()), before);
  EXPECT_EQ(server.process().Stop(), 0);

  // The embedded library opens the directory the server wrote and answers the same.
  auto db = Database::Open(DatabaseOptions(), server.data_dir());
  ASSERT_TRUE(db.ok()) << db.status().ToString();
  auto collection = (*db)->GetCollection("docs");
  ASSERT_TRUE(collection.ok()) << collection.status().ToString();
  auto count = (*collection)->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, 1800u);
  for (size_t q = 0; q < 5; ++q) {
    SearchOptions options;
    options.k = 10;
    options.filter = q % 2 ? "{\"group\": 3}" : "";
    auto hits = (*collection)->Search(options, std::span<const float>(queries.data() + q * kDim, kDim));
    ASSERT_TRUE(hits.ok()) << hits.status().ToString();
    std::vector<std::pair<uint64_t, float>> got;
    for (const Hit& h : *hits) got.emplace_back(h.id.number(), h.score);
    EXPECT_EQ(got, before[q]) << "query " << q;
  }
  auto point = (*collection)->Get(PointId(uint64_t{42}));
  ASSERT_TRUE(point.ok());
  EXPECT_EQ(point->payload, "{\"group\":2}");
}

// ---------------------------------------------------------------- start-up failures

TEST(LifecycleTest, PortInUseExitsOne) {
  ServerFixture first;
  ASSERT_TRUE(first.Start());
  TempDir other;
  std::string output;
  const int code = RunSextantd({"--data", other.Sub("data"), "--listen", first.process().address()},
                               &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("cannot listen on " + first.process().address()), std::string::npos)
      << output;
}

TEST(LifecycleTest, DataDirectoryInUseExitsOne) {
  ServerFixture first;
  ASSERT_TRUE(first.Start());
  std::string output;
  const int code = RunSextantd({"--data", first.data_dir(), "--listen", "127.0.0.1:0"}, &output);
  EXPECT_EQ(code, 1) << output;
  EXPECT_NE(output.find("cannot open the database"), std::string::npos) << output;
}

TEST(LifecycleTest, PortFileHoldsThePortAndANewline) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  std::ifstream in(server.data_dir() + ".port");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, std::to_string(server.process().port()) + "\n");
  const std::string log = server.process().log();
  EXPECT_NE(log.find("listening on " + server.process().address() + " data=" + server.data_dir()),
            std::string::npos)
      << log;
}

TEST(LifecycleTest, SigintAlsoStopsCleanly) {
  ServerFixture server;
  ASSERT_TRUE(server.Start());
  v1::CollectionInfo info;
  ASSERT_TRUE(server.stub().CreateCollection(Ctx().get(), CreateReq("docs", 4), &info).ok());
  EXPECT_EQ(server.process().Stop(SIGINT), 0) << server.process().log();
  EXPECT_NE(server.process().log().find("signal=SIGINT"), std::string::npos);
}

}  // namespace
}  // namespace sextant::testing
