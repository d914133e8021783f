// main() of server_test. `server_test --stream-child ADDRESS` is not a test run: it is the client
// that lifecycle_test.cc starts as a separate process and that dies in the middle of a stream.
#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace sextant::testing {
int StreamChildMain(const std::string& address);
}  // namespace sextant::testing

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--stream-child") {
    return sextant::testing::StreamChildMain(argv[2]);
  }
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
