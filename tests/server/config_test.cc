// sextantd's settings: the command line, --config files, validation and exit codes.
#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "server/config.h"
#include "server_test_util.h"

namespace sextant::testing {
namespace {

using server::ParseByteSize;
using server::ParseResult;

ParseResult Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "sextantd");
  std::vector<const char*> argv;
  for (const auto& a : args) argv.push_back(a.c_str());
  return server::ParseConfig(static_cast<int>(argv.size()), argv.data());
}

TEST(ConfigTest, Defaults) {
  const ParseResult r = Parse({});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.data_dir, "./sextant-data");
  EXPECT_EQ(r.config.listen, "127.0.0.1:7070");
  EXPECT_TRUE(r.config.keys.empty());
  EXPECT_FALSE(r.config.tls());
  EXPECT_EQ(r.config.max_message_bytes, 64u << 20);
  EXPECT_EQ(r.config.max_batch_points, 10000u);
  EXPECT_EQ(r.config.max_dimension, 65536u);
  EXPECT_EQ(r.config.log_level, server::LogLevel::kInfo);
}

TEST(ConfigTest, FlagsInBothForms) {
  const ParseResult r = Parse({"--data", "/tmp/x", "--listen=localhost:9000", "--max-batch-points=12",
                               "--api-key", "a", "--api-key", "b", "--read-only-key=r",
                               "--log-level", "debug", "--metrics", "127.0.0.1:0"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.data_dir, "/tmp/x");
  EXPECT_EQ(r.config.listen, "localhost:9000");
  EXPECT_EQ(r.config.max_batch_points, 12u);
  ASSERT_EQ(r.config.keys.size(), 3u);
  EXPECT_EQ(r.config.keys[0].key, "a");
  EXPECT_FALSE(r.config.keys[0].read_only);
  EXPECT_EQ(r.config.keys[2].key, "r");
  EXPECT_TRUE(r.config.keys[2].read_only);
  EXPECT_EQ(r.config.log_level, server::LogLevel::kDebug);
  EXPECT_EQ(r.config.metrics_listen, "127.0.0.1:0");
}

TEST(ConfigTest, ConfigFileAndCommandLineWins) {
  TempDir dir;
  const std::string file = dir.Sub("sextantd.conf");
  std::ofstream(file) << "# a comment\n"
                         "data = /srv/sextant\n"
                         "max-batch-points = 5\n"
                         "max-dimension=300\n"
                         "api-key = from-file\n"
                         "\n"
                         "log-level = \"warn\"\n";
  ParseResult r = Parse({"--config", file, "--max-batch-points", "7"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.data_dir, "/srv/sextant");
  EXPECT_EQ(r.config.max_batch_points, 7u);  // the command line wins
  EXPECT_EQ(r.config.max_dimension, 300u);
  ASSERT_EQ(r.config.keys.size(), 1u);
  EXPECT_EQ(r.config.keys[0].key, "from-file");
  EXPECT_EQ(r.config.log_level, server::LogLevel::kWarn);

  // A repeatable setting given on the command line replaces the file's list.
  r = Parse({"--config", file, "--read-only-key", "cli"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  ASSERT_EQ(r.config.keys.size(), 2u);  // api-key from the file, read-only-key from the flag

  std::ofstream(file) << "max-batch-points = 5\nbogus = 1\n";
  r = Parse({"--config", file});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
  EXPECT_NE(r.error.find("bogus"), std::string::npos) << r.error;

  std::ofstream(file) << "just words\n";
  r = Parse({"--config", file});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("key = value"), std::string::npos) << r.error;

  r = Parse({"--config", dir.Sub("missing.conf")});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("cannot read"), std::string::npos) << r.error;
}

TEST(ConfigTest, KeyFile) {
  TempDir dir;
  const std::string file = dir.Sub("keys");
  std::ofstream(file) << "# comment\n  k1  \nk2 read-only\nk3 read-write\n";
  ParseResult r = Parse({"--api-key-file", file});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  ASSERT_EQ(r.config.keys.size(), 3u);
  EXPECT_EQ(r.config.keys[0].key, "k1");
  EXPECT_FALSE(r.config.keys[0].read_only);
  EXPECT_TRUE(r.config.keys[1].read_only);
  EXPECT_FALSE(r.config.keys[2].read_only);

  std::ofstream(file) << "k1\nk2 readonly\n";
  r = Parse({"--api-key-file", file});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("line 2"), std::string::npos) << r.error;
}

TEST(ConfigTest, ClusterFlags) {
  ParseResult r = Parse({"--cluster", "nats://127.0.0.1:4222,nats://10.0.0.2:4222", "--node-id", "node-1",
                         "--cluster-replicas", "3"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.cluster, "nats://127.0.0.1:4222,nats://10.0.0.2:4222");
  EXPECT_EQ(r.config.node_id, "node-1");
  EXPECT_EQ(r.config.cluster_replicas, 3u);
  EXPECT_TRUE(Parse({}).config.cluster.empty());

  r = Parse({"--cluster", "nats://127.0.0.1:4222"});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("--cluster needs --node-id"), std::string::npos) << r.error;
  r = Parse({"--node-id", "a"});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("give --cluster too"), std::string::npos) << r.error;
  r = Parse({"--cluster", "", "--node-id", "a"});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  r = Parse({"--cluster", "nats://x:1", "--node-id", "a.b"});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
  EXPECT_NE(r.error.find("--node-id"), std::string::npos) << r.error;
  r = Parse({"--cluster", "nats://x:1", "--node-id", "a", "--cluster-replicas", "6"});
  EXPECT_EQ(r.action, ParseResult::Action::kError);
}

TEST(ConfigTest, BadSettings) {
  struct Case {
    std::vector<std::string> args;
    std::string error_part;
  };
  const std::vector<Case> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--data"}, "--data needs a value"},
      {{"stray"}, "unexpected argument"},
      {{"--max-batch-points", "abc"}, "--max-batch-points: \"abc\" is not a whole number"},
      {{"--max-batch-points", "0"}, "--max-batch-points"},
      {{"--conversation-max-messages", "1"}, "--conversation-max-messages: \"1\" is not a whole number in 2..100000"},
      {{"--conversation-max-bytes", "10"}, "--conversation-max-bytes"},
      {{"--max-dimension", "70000"}, "--max-dimension"},
      {{"--max-message-bytes", "-5"}, "--max-message-bytes"},
      {{"--listen", "nohost"}, "--listen"},
      {{"--listen", "127.0.0.1:70000"}, "--listen"},
      {{"--listen", "0.0.0.0:7070"}, "not a loopback address"},
      {{"--listen", "[::]:7070"}, "not a loopback address"},
      {{"--listen", "unix:"}, "unix socket path"},
      {{"--listen", "unix:/" + std::string(200, 'x')}, "unix socket path"},
      {{"--tls-cert", "/nonexistent.pem"}, "--tls-cert given without --tls-key"},
      {{"--tls-key", "/nonexistent.pem"}, "--tls-key given without --tls-cert"},
      {{"--tls-cert", "/nonexistent.pem", "--tls-key", "/nonexistent.key"}, "cannot read"},
      {{"--log-level", "loud"}, "--log-level"},
      {{"--allow-remote=maybe"}, "--allow-remote"},
      {{"--api-key", "has space"}, "--api-key"},
      {{"--api-key-file", "/nonexistent-keys"}, "cannot read"},
      {{"--memory-limit", "abc"}, "--memory-limit: \"abc\" is not a size"},
      {{"--memory-limit", "4 parsecs"}, "is not a size"},
      {{"--memory-limit", "1.5"}, "is not a size"},  // no fractions of a byte
      {{"--memory-limit", "99999999999TiB"}, "is not a size"},
      {{"--memory-limit", "64MiB"}, "must exceed --block-cache-bytes"},
      {{"--memory-limit", "1GiB", "--block-cache-bytes", "2147483648"}, "must exceed --block-cache-bytes"},
  };
  for (const Case& c : cases) {
    const ParseResult r = Parse(c.args);
    EXPECT_EQ(r.action, ParseResult::Action::kError) << c.args[0];
    EXPECT_NE(r.error.find(c.error_part), std::string::npos)
        << c.args[0] << ": \"" << r.error << "\" lacks \"" << c.error_part << "\"";
  }
}

TEST(ConfigTest, LoopbackRule) {
  EXPECT_TRUE(server::IsLoopbackAddress("127.0.0.1:1"));
  EXPECT_TRUE(server::IsLoopbackAddress("127.1.2.3:1"));
  EXPECT_TRUE(server::IsLoopbackAddress("localhost:7070"));
  EXPECT_TRUE(server::IsLoopbackAddress("[::1]:7070"));
  EXPECT_FALSE(server::IsLoopbackAddress("0.0.0.0:7070"));
  EXPECT_TRUE(server::IsLoopbackAddress("unix:/tmp/s.sock"));  // reachable only through the file system
  EXPECT_EQ(Parse({"--listen", "unix:/tmp/x/sextantd.sock"}).action, ParseResult::Action::kRun);
  EXPECT_FALSE(server::IsLoopbackAddress("10.0.0.1:7070"));
  EXPECT_FALSE(server::IsLoopbackAddress("[::]:7070"));
  EXPECT_FALSE(server::IsLoopbackAddress("example.com:7070"));
  // A key, or --allow-remote, lifts it.
  EXPECT_EQ(Parse({"--listen", "0.0.0.0:7070", "--api-key", "k"}).action, ParseResult::Action::kRun);
  EXPECT_EQ(Parse({"--listen", "0.0.0.0:7070", "--allow-remote"}).action, ParseResult::Action::kRun);
  EXPECT_EQ(Parse({"--listen", "0.0.0.0:7070", "--allow-remote=false"}).action,
            ParseResult::Action::kError);
}

// The HTTP front ends follow the same rule, and their addresses must be HOST:PORT.
TEST(ConfigTest, HttpFrontEndAddresses) {
  for (const char* flag : {"--mcp-listen", "--openai-listen"}) {
    ParseResult r = Parse({flag, "127.0.0.1:8765"});
    EXPECT_EQ(r.action, ParseResult::Action::kRun) << flag << ": " << r.error;
    r = Parse({flag, "nowhere"});
    EXPECT_EQ(r.action, ParseResult::Action::kError) << flag;
    EXPECT_NE(r.error.find("is not HOST:PORT"), std::string::npos) << r.error;
    r = Parse({flag, "0.0.0.0:8765"});
    EXPECT_EQ(r.action, ParseResult::Action::kError) << flag;
    EXPECT_NE(r.error.find("--allow-remote"), std::string::npos) << r.error;
    EXPECT_EQ(Parse({flag, "0.0.0.0:8765", "--api-key", "k"}).action, ParseResult::Action::kRun) << flag;
  }
  EXPECT_EQ(Parse({"--mcp-listen", "127.0.0.1:8765"}).config.mcp_listen, "127.0.0.1:8765");
}

// The binary itself: exit code 2 and a message on stderr for bad settings, 0 for --help and
// --version.
TEST(ConfigTest, ProcessExitCodes) {
  std::string output;
  EXPECT_EQ(RunSextantd({"--bogus"}, &output), 2);
  EXPECT_NE(output.find("sextantd: unknown flag --bogus"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--max-batch-points", "x"}, &output), 2);
  EXPECT_NE(output.find("--max-batch-points"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--listen"}, &output), 2);
  EXPECT_NE(output.find("needs a value"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--tls-cert", "c.pem"}, &output), 2);
  EXPECT_NE(output.find("without --tls-key"), std::string::npos) << output;
  EXPECT_EQ(RunSextantd({"--listen", "0.0.0.0:0"}, &output), 2);
  EXPECT_NE(output.find("--allow-remote"), std::string::npos) << output;

  EXPECT_EQ(RunSextantd({"--help"}, &output), 0);
  EXPECT_NE(output.find("Usage: sextantd"), std::string::npos) << output;
  for (const char* flag : {"--data", "--listen", "--port-file", "--config", "--api-key",
                           "--read-only-key", "--api-key-file", "--allow-remote", "--tls-cert",
                           "--tls-key", "--metrics", "--max-message-bytes", "--max-batch-points",
                           "--max-dimension", "--log-level", "--model-dir", "--openai-api-key",
                           "--allow-remote-embedders", "--generator", "--llm-url", "--llm-model",
                           "--llm-api-key", "--llm-timeout-ms", "--openai-listen", "--mcp-listen"}) {
    EXPECT_NE(output.find(flag), std::string::npos) << flag << " is not in --help";
  }
  EXPECT_EQ(RunSextantd({"--version"}, &output), 0);
  EXPECT_EQ(output.rfind("sextantd ", 0), 0u) << output;
}

TEST(ConfigTest, TextCollectionSettings) {
  ParseResult r = Parse({});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.model_dir, "");  // the engine's default root
  EXPECT_FALSE(r.config.allow_remote_embedders);
  EXPECT_EQ(r.config.generator, "extractive");
  EXPECT_EQ(r.config.llm_url, "");
  EXPECT_EQ(r.config.llm_timeout_ms, 60000u);

  r = Parse({"--model-dir", "/models", "--openai-api-key", "sk-1", "--allow-remote-embedders",
             "--generator", "openai", "--llm-url", "http://127.0.0.1:8080/v1", "--llm-model",
             "qwen", "--llm-api-key", "k2", "--llm-timeout-ms", "1500"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.model_dir, "/models");
  EXPECT_EQ(r.config.openai_api_key, "sk-1");
  EXPECT_TRUE(r.config.allow_remote_embedders);
  EXPECT_EQ(r.config.generator, "openai");
  EXPECT_EQ(r.config.llm_url, "http://127.0.0.1:8080/v1");
  EXPECT_EQ(r.config.llm_model, "qwen");
  EXPECT_EQ(r.config.llm_api_key, "k2");
  EXPECT_EQ(r.config.llm_timeout_ms, 1500u);

  // An LLM configured without making it the default.
  r = Parse({"--llm-url", "https://llm.example/v1", "--llm-model", "m"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.generator, "extractive");

  struct Case {
    std::vector<std::string> args;
    std::string needle;
  };
  const std::vector<Case> bad = {
      {{"--generator", "gpt"}, "--generator"},
      {{"--generator", "openai"}, "--llm-url"},
      {{"--llm-url", "http://x/v1"}, "--llm-model"},
      {{"--llm-model", "m"}, "--llm-url"},
      {{"--llm-url", "ftp://x/v1", "--llm-model", "m"}, "--llm-url"},
      {{"--llm-timeout-ms", "0"}, "--llm-timeout-ms"},
      {{"--allow-remote-embedders=maybe"}, "--allow-remote-embedders"},
      {{"--model-dir", ""}, "--model-dir"},
  };
  for (const Case& c : bad) {
    r = Parse(c.args);
    EXPECT_EQ(r.action, ParseResult::Action::kError) << c.args[0];
    EXPECT_NE(r.error.find(c.needle), std::string::npos) << r.error;
  }
}

TEST(ConfigTest, ConfigFileReachesTheServer) {
  ServerFixture server;
  const std::string file = server.dir().Sub("sextantd.conf");
  std::ofstream(file) << "max-batch-points = 33\nmax-dimension = 77\n";
  ASSERT_TRUE(server.Start({"--config", file, "--max-dimension", "78"}));
  v1::ServerInfoResponse info;
  ASSERT_TRUE(server.stub().ServerInfo(Ctx().get(), v1::ServerInfoRequest(), &info).ok());
  EXPECT_EQ(info.max_batch_points(), 33u);
  EXPECT_EQ(info.max_dimension(), 78u);
}

TEST(ConfigTest, MemoryLimitSizes) {
  EXPECT_EQ(ParseByteSize("1048576"), uint64_t{1} << 20);
  EXPECT_EQ(ParseByteSize("4GiB"), uint64_t{4} << 30);
  EXPECT_EQ(ParseByteSize("4 gib"), uint64_t{4} << 30);
  EXPECT_EQ(ParseByteSize("4G"), uint64_t{4} << 30);
  EXPECT_EQ(ParseByteSize("8GB"), uint64_t{8000000000});
  EXPECT_EQ(ParseByteSize("512MiB"), uint64_t{512} << 20);
  EXPECT_EQ(ParseByteSize("1.5GiB"), uint64_t{3} << 29);
  EXPECT_EQ(ParseByteSize("2TiB"), uint64_t{2} << 40);
  EXPECT_EQ(ParseByteSize("100KB"), uint64_t{100000});
  for (const char* bad : {"", "GiB", "-1GiB", "1.GiB", "1e9", "5 X", "1.5", "0x10"}) {
    EXPECT_EQ(ParseByteSize(bad), std::nullopt) << bad;
  }
  const ParseResult r = Parse({"--memory-limit", "2GiB"});
  ASSERT_EQ(r.action, ParseResult::Action::kRun) << r.error;
  EXPECT_EQ(r.config.memory_limit_bytes, uint64_t{2} << 30);
  EXPECT_EQ(Parse({}).config.memory_limit_bytes, 0u);  // the engine's default
}

}  // namespace
}  // namespace sextant::testing
