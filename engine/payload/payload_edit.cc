// Payload edits and projections (payload_edit.h).
#include "payload/payload_edit.h"

#include "payload/payload.h"

namespace sextant::payload {

namespace {

std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    size_t dot = path.find('.', start);
    parts.push_back(path.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

// Copies the value at parts[i..] of `from` into the same place of `to` (creating objects on the
// way); nothing when the path is absent.
void CopyPath(const nlohmann::json& from, const std::vector<std::string>& parts, size_t i, nlohmann::json* to) {
  if (!from.is_object()) return;
  auto it = from.find(parts[i]);
  if (it == from.end()) return;
  if (i + 1 == parts.size()) {
    (*to)[parts[i]] = *it;
    return;
  }
  if (!it->is_object()) return;
  nlohmann::json& child = (*to)[parts[i]];
  if (!child.is_object()) child = nlohmann::json::object();
  CopyPath(*it, parts, i + 1, &child);
  if (child.empty() && !it->empty()) to->erase(parts[i]);  // nothing below matched
}

}  // namespace

Status ValidatePaths(const std::vector<std::string>& paths, std::string_view what) {
  for (size_t i = 0; i < paths.size(); ++i) {
    const std::string& p = paths[i];
    if (p.empty()) return Status::InvalidArgument(std::string(what) + "[" + std::to_string(i) + "] is empty");
    for (const std::string& part : Split(p)) {
      if (part.empty()) {
        return Status::InvalidArgument(std::string(what) + "[" + std::to_string(i) + "] \"" + p +
                                       "\" has an empty path segment");
      }
    }
  }
  return Status::OK();
}

void MergeTopLevel(nlohmann::json* target, const nlohmann::json& update) {
  if (!target->is_object()) *target = nlohmann::json::object();
  for (auto it = update.begin(); it != update.end(); ++it) (*target)[it.key()] = it.value();
}

size_t DeletePaths(nlohmann::json* target, const std::vector<std::string>& paths) {
  size_t removed = 0;
  for (const std::string& path : paths) {
    const std::vector<std::string> parts = Split(path);
    nlohmann::json* node = target;
    for (size_t i = 0; i + 1 < parts.size() && node != nullptr; ++i) {
      if (!node->is_object()) {
        node = nullptr;
        break;
      }
      auto it = node->find(parts[i]);
      node = it == node->end() ? nullptr : &*it;
    }
    if (node != nullptr && node->is_object()) removed += node->erase(parts.back());
  }
  return removed;
}

std::string Project(std::string_view stored, const std::vector<std::string>& include,
                    const std::vector<std::string>& exclude) {
  if (include.empty() && exclude.empty()) return std::string(stored);
  nlohmann::json value = ParseStored(stored);
  if (!include.empty()) {
    nlohmann::json kept = nlohmann::json::object();
    for (const std::string& path : include) CopyPath(value, Split(path), 0, &kept);
    value = std::move(kept);
  }
  DeletePaths(&value, exclude);
  return value.dump();
}

}  // namespace sextant::payload
