// sextantd: the Sextant gRPC server. `sextantd --help` and docs/server.md describe it.
#include <cstdio>
#include <string>

#include "sextant/database.h"
#include "server/config.h"
#include "server/server.h"

int main(int argc, char** argv) {
  using sextant::server::ParseResult;
  sextant::server::BlockShutdownSignals();
  const ParseResult parsed = sextant::server::ParseConfig(argc, argv);
  switch (parsed.action) {
    case ParseResult::Action::kHelp:
      std::fputs(std::string(sextant::server::UsageText()).c_str(), stdout);
      return sextant::server::kExitOk;
    case ParseResult::Action::kVersion:
      std::printf("sextantd %s\n", std::string(sextant::Version()).c_str());
      return sextant::server::kExitOk;
    case ParseResult::Action::kError:
      std::fprintf(stderr, "sextantd: %s\nRun \"sextantd --help\" for the settings.\n",
                   parsed.error.c_str());
      return sextant::server::kExitUsage;
    case ParseResult::Action::kRun:
      break;
  }
  return sextant::server::RunServer(parsed.config);
}
