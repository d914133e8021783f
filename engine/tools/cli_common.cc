#include "tools/cli_common.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>

#include "tools/cli_args.h"

namespace sextant::cli {

double ShortFloat(float value) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf) - 1, value);
  if (ec != std::errc()) return value;
  *end = '\0';
  return std::strtod(buf, nullptr);
}

OutJson IdToJson(const PointId& id) {
  if (id.is_number()) return OutJson(id.number());
  return OutJson(id.str());
}

OutJson VectorToJson(std::span<const float> vector) {
  OutJson out = OutJson::array();
  for (float f : vector) out.push_back(ShortFloat(f));
  return out;
}

OutJson PayloadToJson(std::string_view text) {
  if (text.empty()) return OutJson::object();
  OutJson value = OutJson::parse(text, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return OutJson(std::string(text));  // should not happen: show it raw
  return value;
}

std::string Dump(const OutJson& value) {
  return value.dump(-1, ' ', false, OutJson::error_handler_t::replace);
}

int ReportError(const Status& status) {
  std::cout.flush();
  std::cerr << "sextant: error: " << status.ToString() << std::endl;
  return kExitError;
}

int ReportUsage(std::string_view message) {
  std::cout.flush();
  std::cerr << "sextant: usage error: " << message << " (run 'sextant --help' for usage)"
            << std::endl;
  return kExitUsage;
}

std::string FormatDuration(std::chrono::steady_clock::duration d) {
  double us = std::chrono::duration<double, std::micro>(d).count();
  char buf[64];
  if (us >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2f s", us / 1e6);
  } else if (us >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1f ms", us / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f us", us);
  }
  return buf;
}

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.1f %s", value, kUnits[unit]);
  return buf;
}

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(isatty(STDERR_FILENO) == 1) {}

void ProgressBar::Update(uint64_t done, std::optional<uint64_t> total, double fraction) {
  if (!enabled_) return;
  std::string text;
  if (total && *total > 0) {
    text = std::to_string(done) + "/" + std::to_string(*total) + " (" +
           std::to_string(done * 100 / *total) + "%)";
  } else if (fraction >= 0) {
    text = std::to_string(done) + " (" + std::to_string(static_cast<int>(fraction * 100)) +
           "% of the file)";
  } else {
    text = std::to_string(done);
  }
  Draw(text, /*force=*/total && done >= *total);
}

void ProgressBar::Show(std::string_view text) {
  if (!enabled_) return;
  Draw(text, /*force=*/false);
}

void ProgressBar::Draw(std::string_view text, bool force) {
  auto now = std::chrono::steady_clock::now();
  if (shown_ && !force && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  std::string line = "\r" + label_;
  if (!text.empty()) line += ": " + std::string(text);
  line += "\033[K";  // erase what a longer earlier line left
  std::cerr << line << std::flush;
  shown_ = true;
}

void ProgressBar::Clear() {
  if (!shown_) return;
  std::cerr << "\r\033[K" << std::flush;
  shown_ = false;
}

}  // namespace sextant::cli
