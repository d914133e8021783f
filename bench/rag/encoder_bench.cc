// sextant-encoder-bench: texts/s of the local encoder (all-MiniLM-L6-v2 or any model
// MakeLocalEmbedder loads) on a file of texts, one per line, at a given batch size and thread
// count. bench/rag/encoder_peers.py runs ONNX Runtime on the same texts and the same weights, and
// bench/rag/encoder.sh runs both in one go (bench/README.md, "Local encoder").
//
//   sextant-encoder-bench --texts long.txt [--model DIR] [--batch 32] [--threads 1] [--seconds 5]
//                         [--max-tokens 256] [--vectors OUT.f32]
//
// Embeds all texts (in calls of --batch texts) once to warm up, then again and again until
// --seconds have passed, and prints one JSON line: texts/s over the timed passes, the SIMD level,
// and the settings. --vectors writes the embeddings (n x dim little-endian float32) so that
// encoder_peers.py can compare them with the peer's.
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "sextant/rag.h"
#include "sextant/sextant.h"

namespace {

[[noreturn]] void Usage(const std::string& why) {
  std::cerr << "sextant-encoder-bench: " << why
            << "\nusage: sextant-encoder-bench --texts FILE [--model DIR] [--batch N] [--threads N] "
               "[--seconds S] [--max-tokens N] [--vectors OUT]\n";
  std::exit(2);
}

uint32_t ParseCount(const std::string& flag, const std::string& value, uint32_t min) {
  char* end = nullptr;
  const unsigned long v = std::strtoul(value.c_str(), &end, 10);
  if (value.empty() || *end != '\0' || v < min || v > 1u << 20) Usage(flag + " wants a whole number >= " + std::to_string(min));
  return static_cast<uint32_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::string texts_path, vectors_path;
  const char* env_models = std::getenv("SEXTANT_MODEL_DIR");
  const char* home = std::getenv("HOME");
  std::string model = (env_models && *env_models ? std::string(env_models) : std::string(home ? home : ".") +
                                                                                  "/.cache/sextant/models") +
                      "/all-MiniLM-L6-v2";
  sextant::rag::LocalEmbedderOptions options;
  options.threads = 1;
  double seconds = 5;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) Usage(flag + " needs a value");
    const std::string value = argv[++i];
    if (flag == "--texts") {
      texts_path = value;
    } else if (flag == "--model") {
      model = value;
    } else if (flag == "--batch") {
      options.batch = ParseCount(flag, value, 1);
    } else if (flag == "--threads") {
      options.threads = ParseCount(flag, value, 1);
    } else if (flag == "--max-tokens") {
      options.max_tokens = ParseCount(flag, value, 2);
    } else if (flag == "--seconds") {
      seconds = std::atof(value.c_str());
      if (!(seconds >= 0)) Usage("--seconds wants a number >= 0");
    } else if (flag == "--vectors") {
      vectors_path = value;
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (texts_path.empty()) Usage("--texts is required");
  std::vector<std::string> texts;
  {
    std::ifstream in(texts_path);
    if (!in) Usage("cannot read " + texts_path);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty()) texts.push_back(line);
    }
  }
  if (texts.empty()) Usage(texts_path + " has no texts");
  options.model_dir = model;
  auto embedder = sextant::rag::MakeLocalEmbedder(options);
  if (!embedder.ok()) {
    std::cerr << "sextant-encoder-bench: " << embedder.status().ToString() << "\n";
    return 1;
  }
  // One Embed call per batch, as a text collection's ingest makes them.
  const size_t batch = options.batch;
  auto pass = [&](std::vector<float>* keep) {
    for (size_t b = 0; b < texts.size(); b += batch) {
      const size_t n = std::min(batch, texts.size() - b);
      auto v = (*embedder)->Embed(std::span<const std::string>(texts.data() + b, n));
      if (!v.ok()) {
        std::cerr << "sextant-encoder-bench: " << v.status().ToString() << "\n";
        std::exit(1);
      }
      if (keep != nullptr) keep->insert(keep->end(), v->begin(), v->end());
    }
  };
  std::vector<float> vectors;
  pass(&vectors);
  if (!vectors_path.empty()) {
    std::ofstream out(vectors_path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(vectors.data()), static_cast<std::streamsize>(vectors.size() * 4));
    if (!out) Usage("cannot write " + vectors_path);
  }
  size_t done = 0;
  const auto start = std::chrono::steady_clock::now();
  double elapsed = 0;
  do {
    pass(nullptr);
    done += texts.size();
    elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  } while (elapsed < seconds);
  nlohmann::json line = {{"engine", "sextant"},
                         {"simd", std::string(sextant::SimdLevelName())},
                         {"texts", texts.size()},
                         {"batch", options.batch},
                         {"threads", options.threads},
                         {"max_tokens", options.max_tokens},
                         {"texts_per_s", done / elapsed},
                         {"seconds", elapsed}};
  std::cout << line.dump() << std::endl;
  return 0;
}
