// Shared pieces of the sextantd tests: a running server with a stub, and request builders.
#ifndef SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_
#define SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
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

// "CODE: message" for failure output.
inline std::string Describe(const grpc::Status& s) {
  return std::to_string(static_cast<int>(s.error_code())) + ": " + s.error_message();
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_SERVER_SERVER_TEST_UTIL_H_
