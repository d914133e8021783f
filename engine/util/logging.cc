#include "util/logging.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace sextant::internal {
namespace {
LogLevel Threshold() {
  static const LogLevel level = [] {
    const char* env = std::getenv("SEXTANT_LOG_LEVEL");
    std::string v = env ? env : "";
    if (v == "info") return LogLevel::kInfo;
    if (v == "error") return LogLevel::kError;
    return LogLevel::kWarning;
  }();
  return level;
}
}  // namespace

void Log(LogLevel level, std::string_view message) {
  if (level < Threshold()) return;
  const char* name = level == LogLevel::kInfo ? "INFO" : level == LogLevel::kWarning ? "WARNING" : "ERROR";
  std::fprintf(stderr, "sextant %s: %.*s\n", name, static_cast<int>(message.size()), message.data());
}

}  // namespace sextant::internal
