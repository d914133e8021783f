// Where the all-MiniLM-L6-v2 test fixture (tests/fixtures/minilm) and the model itself are.
#ifndef SEXTANT_TESTS_UNIT_RAG_MINILM_FIXTURE_H_
#define SEXTANT_TESTS_UNIT_RAG_MINILM_FIXTURE_H_

#include <cstdlib>
#include <filesystem>
#include <string>

namespace sextant::testing {

// tests/fixtures/minilm of the source tree. __FILE__ may be relative to the build directory, so
// it is tried against every ancestor of the test binary's folder; empty when not found.
inline std::string MiniLmFixtureDir() {
  namespace fs = std::filesystem;
  const fs::path rel = fs::path(__FILE__).parent_path() / "../../fixtures/minilm";
  if (rel.is_absolute()) return fs::exists(rel / "reference.json") ? rel.lexically_normal().string() : "";
  std::error_code ec;
  fs::path dir = fs::read_symlink("/proc/self/exe", ec).parent_path();
  for (; !dir.empty(); dir = dir.parent_path()) {
    if (fs::exists(dir / rel / "reference.json")) return (dir / rel).lexically_normal().string();
    if (dir == dir.parent_path()) break;
  }
  return "";
}

// The all-MiniLM-L6-v2 directory under $SEXTANT_MODEL_DIR (else ~/.cache/sextant/models); empty
// when it holds no model.
inline std::string MiniLmModelDir() {
  const char* env = std::getenv("SEXTANT_MODEL_DIR");
  const char* home = std::getenv("HOME");
  // SEXTANT_MODEL_DIR is the root holding model directories, as for EmbedderEnvironment.
  std::string dir = (env && *env ? std::string(env) : std::string(home ? home : "") + "/.cache/sextant/models") +
                    "/all-MiniLM-L6-v2";
  return std::filesystem::exists(dir + "/model.safetensors") ? dir : "";
}

}  // namespace sextant::testing

#endif  // SEXTANT_TESTS_UNIT_RAG_MINILM_FIXTURE_H_
