#include "tools/cli_args.h"

#include <charconv>
#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

namespace sextant::cli {
namespace {

constexpr FlagSpec kFlags[] = {
    {"db", '\0', true},
    {"help", 'h', false},
    {"version", '\0', false},
    {"dim", '\0', true},
    {"metric", '\0', true},
    {"index", '\0', true},
    {"ef-construction", '\0', true},
    {"payload-index", '\0', true},
    {"format", '\0', true},
    {"batch-size", '\0', true},
    {"wait", '\0', false},
    {"string-ids", '\0', false},
    {"query", '\0', true},
    {"vector", '\0', true},
    {"k", 'k', true},
    {"filter", '\0', true},
    {"with-payload", '\0', false},
    {"with-vector", '\0', false},
    {"ef-search", '\0', true},
    {"nprobe", '\0', true},
    {"exact", '\0', false},
    {"plan", '\0', false},
    {"overwrite", '\0', false},
    {"embedder", '\0', true},
    {"chunk-tokens", '\0', true},
    {"overlap", '\0', true},
    {"generator", '\0', true},
    {"llm-url", '\0', true},
    {"llm-model", '\0', true},
    {"system", '\0', true},
    {"temperature", '\0', true},
    {"max-tokens", '\0', true},
    {"stop", '\0', true},
    {"seed", '\0', true},
    {"model", '\0', true},
    {"conversation", '\0', true},
    {"read-only", '\0', false},
    {"json", '\0', false},
    {"drop", '\0', false},
    {"to", '\0', true},
    {"name", '\0', true},
    {"archive", '\0', true},
    {"collection", '\0', true},
    {"source", '\0', true},
    {"delete", '\0', true},
    {"verify", '\0', false},
    {"text", '\0', true},
    {"text-field", '\0', true},
    {"fusion", '\0', true},
    {"weights", '\0', true},
    {"rrf-k", '\0', true},
    {"candidates", '\0', true},
    {"group-by", '\0', true},
    {"group-size", '\0', true},
    {"score-threshold", '\0', true},
    {"mmr", '\0', true},
};

const FlagSpec* FindLong(std::string_view name) {
  for (const FlagSpec& f : kFlags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const FlagSpec* FindShort(char c) {
  for (const FlagSpec& f : kFlags) {
    if (f.short_name != '\0' && f.short_name == c) return &f;
  }
  return nullptr;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

}  // namespace

std::span<const FlagSpec> AllFlags() { return kFlags; }

std::optional<std::string> Args::Get(std::string_view name) const {
  auto it = flags.find(std::string(name));
  if (it == flags.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> Args::GetAll(std::string_view name) const {
  auto it = all_values.find(std::string(name));
  if (it == all_values.end()) return {};
  return it->second;
}

std::optional<Args> ParseArgs(int argc, const char* const* argv, std::string* error) {
  Args args;
  bool only_positional = false;
  auto add_positional = [&](std::string token) {
    if (args.command.empty()) {
      args.command = std::move(token);
    } else {
      args.positional.push_back(std::move(token));
    }
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view token = argv[i];
    if (only_positional) {
      add_positional(std::string(token));
      continue;
    }
    if (token == "--") {
      only_positional = true;
      continue;
    }
    // "-", "-3", "-0.5" and "" are arguments.
    if (token.size() < 2 || token[0] != '-' || IsDigit(token[1]) || token[1] == '.') {
      add_positional(std::string(token));
      continue;
    }
    const FlagSpec* spec = nullptr;
    std::string_view shown;  // the flag as the user wrote it, for messages
    std::optional<std::string_view> inline_value;
    if (token[1] == '-') {
      std::string_view body = token.substr(2);
      size_t eq = body.find('=');
      std::string_view name = body.substr(0, eq);
      if (eq != std::string_view::npos) inline_value = body.substr(eq + 1);
      shown = token.substr(0, 2 + name.size());
      spec = FindLong(name);
    } else {
      // "-k 5", "-k=5", "-k5", "-h".
      shown = token.substr(0, 2);
      spec = FindShort(token[1]);
      if (token.size() > 2) inline_value = token.substr(token[2] == '=' ? 3 : 2);
    }
    if (spec == nullptr) {
      *error = "unknown option '" + std::string(shown) + "'";
      return std::nullopt;
    }
    std::string value;
    if (spec->takes_value) {
      if (inline_value) {
        value = std::string(*inline_value);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        *error = "option --" + std::string(spec->name) + " needs a value";
        return std::nullopt;
      }
    } else if (inline_value) {
      *error = "option --" + std::string(spec->name) + " takes no value";
      return std::nullopt;
    }
    args.all_values[std::string(spec->name)].push_back(value);
    args.flags[std::string(spec->name)] = std::move(value);
  }
  return args;
}

std::optional<uint64_t> ParseUint(std::string_view text, uint64_t min, uint64_t max) {
  if (text.empty() || !IsDigit(text[0])) return std::nullopt;
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  if (value < min || value > max) return std::nullopt;
  return value;
}

std::optional<std::vector<float>> ParseVectorText(std::string_view text, std::string* error) {
  std::vector<float> out;
  size_t first = text.find_first_not_of(" \t\r\n");
  if (first != std::string_view::npos && text[first] == '[') {
    nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_array()) {
      *error = "not a valid JSON array of numbers";
      return std::nullopt;
    }
    for (size_t i = 0; i < doc.size(); ++i) {
      const nlohmann::json& v = doc[i];
      if (!v.is_number()) {
        *error = "element " + std::to_string(i) + " is not a number";
        return std::nullopt;
      }
      double d = v.get<double>();
      float f = static_cast<float>(d);
      if (!std::isfinite(f)) {
        *error = "element " + std::to_string(i) + " is not a finite float";
        return std::nullopt;
      }
      out.push_back(f);
    }
  } else {
    size_t pos = 0;
    while (pos < text.size()) {
      size_t start = text.find_first_not_of(", \t\r\n", pos);
      if (start == std::string_view::npos) break;
      size_t end = text.find_first_of(", \t\r\n", start);
      if (end == std::string_view::npos) end = text.size();
      std::string_view word = text.substr(start, end - start);
      // from_chars rejects a leading '+'; accept it as people write it.
      std::string_view digits = word[0] == '+' ? word.substr(1) : word;
      float f = 0;
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), f);
      if (ec != std::errc() || ptr != digits.data() + digits.size() || !std::isfinite(f)) {
        *error = "'" + std::string(word) + "' is not a number";
        return std::nullopt;
      }
      out.push_back(f);
      pos = end;
    }
  }
  if (out.empty()) {
    *error = "the vector is empty";
    return std::nullopt;
  }
  return out;
}

}  // namespace sextant::cli
