// Pieces shared by the `sextant` tool's commands: JSON output of ids, scores and payloads, the
// error and usage-error reports, and the progress bar.
#ifndef SEXTANT_TOOLS_CLI_COMMON_H_
#define SEXTANT_TOOLS_CLI_COMMON_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "sextant/status.h"
#include "sextant/types.h"

namespace sextant::cli {

// Output JSON keeps keys in the order they were added ({"query": 0, "hits": [...]}).
using OutJson = nlohmann::ordered_json;

// The double closest to the shortest decimal that reads back as `value`, so a float score prints
// as 0.8125 or 0.12345679, not 0.12345679104328156.
double ShortFloat(float value);

// A number id as a JSON number, a string id as a JSON string.
OutJson IdToJson(const PointId& id);
// A vector as a JSON array of short floats.
OutJson VectorToJson(std::span<const float> vector);
// A stored payload (compact JSON object text; empty means none) as a JSON object.
OutJson PayloadToJson(std::string_view text);
// Compact one-line text of `value`; invalid UTF-8 is replaced, never thrown about.
std::string Dump(const OutJson& value);

// Prints "sextant: error: <status>" on stderr and returns kExitError.
int ReportError(const Status& status);
// Prints "sextant: usage error: <message> (run 'sextant --help' for usage)" on stderr and returns
// kExitUsage.
int ReportUsage(std::string_view message);

// "1.23 s", "45.6 ms", "789 us".
std::string FormatDuration(std::chrono::steady_clock::duration d);
// "512 B", "3.4 KiB", "2.5 MiB", "1.2 GiB".
std::string FormatBytes(uint64_t bytes);

// A one-line progress report on stderr, redrawn in place, shown only when stderr is a terminal.
// "importing demo: 45000/100000 (45%)" when the total is known.
class ProgressBar {
 public:
  explicit ProgressBar(std::string label);
  ~ProgressBar() { Clear(); }
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // `done` items out of `total` (when known); otherwise `fraction` in [0, 1] of the input read
  // (negative when unknown). Redraws at most ten times a second.
  void Update(uint64_t done, std::optional<uint64_t> total, double fraction);
  // Shows "<label>: <text>" (just the label when `text` is empty), for waits without a count.
  // The first call draws at once; later ones at most ten times a second.
  void Show(std::string_view text);
  // Erases the line (before a summary or an error message).
  void Clear();

 private:
  // Draws "<label>: <text>" unless the last draw was less than 0.1 s ago (and !force).
  void Draw(std::string_view text, bool force);

  std::string label_;
  bool enabled_;
  bool shown_ = false;
  std::chrono::steady_clock::time_point last_draw_{};
};

}  // namespace sextant::cli

#endif  // SEXTANT_TOOLS_CLI_COMMON_H_
