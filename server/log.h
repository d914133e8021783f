// Structured logging for sextantd: one line per event on stderr, `key=value` pairs after a
// timestamp and a level, so that the lines can be grepped and parsed:
//
//   ts=2026-11-30T12:00:00.123Z level=info event=call rid=5f3a... method=Search collection=docs
//       code=INVALID_ARGUMENT duration_ms=0.412 error="vector: 127 floats, ..."
//
// Values that are empty or hold spaces, quotes, '=', control characters or non-ASCII text are
// written in double quotes with C-style escapes (bytes that are not valid UTF-8 as \xNN), and
// each value is cut to kMaxLogValueBytes: a client cannot make a line long or break its format. Thread-safe: a line is written with one call, under a mutex.
#ifndef SEXTANT_SERVER_LOG_H_
#define SEXTANT_SERVER_LOG_H_

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace sextant::server {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" (also "warning"), "error"; nullopt otherwise.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
std::string_view LogLevelName(LogLevel level);

// The process-wide threshold: lines below it are dropped. Default kInfo.
void SetLogLevel(LogLevel level);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string_view>;

// Writes `ts=... level=... event=<event> k=v ...` when `level` is enabled.
void Log(LogLevel level, std::string_view event, std::initializer_list<LogField> fields);
void Log(LogLevel level, std::string_view event, std::span<const LogField> fields);

// The most bytes of one value a log line shows; a longer value is cut (at a UTF-8 boundary) and
// ends with "...(N bytes)" giving its full size. A UTF-8 sequence cut in two shows as \xNN.
inline constexpr size_t kMaxLogValueBytes = 256;

// Quotes `value` when it needs it (see above) and cuts it to kMaxLogValueBytes; returns it
// unchanged otherwise. Bytes that are not valid UTF-8 are written as \xNN escapes.
std::string LogQuote(std::string_view value);

}  // namespace sextant::server

#endif  // SEXTANT_SERVER_LOG_H_
