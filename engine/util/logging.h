// Minimal logging to stderr for warnings the engine cannot return as a Status (a corrupt index
// blob it rebuilt, an unknown SEXTANT_SIMD value). Thread-safe (one fprintf per line).
#ifndef SEXTANT_UTIL_LOGGING_H_
#define SEXTANT_UTIL_LOGGING_H_

#include <string_view>

namespace sextant::internal {

enum class LogLevel { kInfo, kWarning, kError };

// Writes "sextant <LEVEL>: <message>\n" to stderr. Messages below the level set by the environment
// variable SEXTANT_LOG_LEVEL (info|warning|error, default warning) are dropped.
void Log(LogLevel level, std::string_view message);

}  // namespace sextant::internal

#endif  // SEXTANT_UTIL_LOGGING_H_
