// Distance kernels for float32 vectors, one implementation per instruction set, chosen once at
// run time.
//
// The kernels are written once on xsimd (distance_impl.h) and instantiated in one file per ISA
// (distance_sse4.cc, distance_avx2.cc, distance_avx512.cc), each compiled with its own -m flags;
// nothing else in the build uses those flags, so the baseline code runs on any x86-64 CPU.
// distance_scalar.cc is plain C++: it is the fallback and the oracle the tests compare against.
//
// Active() picks the best level the CPU supports, capped by the environment variable
// SEXTANT_SIMD=scalar|sse4|avx2|avx512 (an unknown value or a level the CPU lacks logs a warning
// and falls back to the best supported level below it).
#ifndef SEXTANT_SIMD_DISTANCE_H_
#define SEXTANT_SIMD_DISTANCE_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace sextant::simd {

enum class Level { kScalar = 0, kSse4 = 1, kAvx2 = 2, kAvx512 = 3 };

std::string_view LevelName(Level level);  // "scalar", "sse4", "avx2", "avx512"
std::optional<Level> ParseLevel(std::string_view name);

// One set of kernels. All pointers are non-null. Vectors need no particular alignment; d >= 1.
struct Kernels {
  Level level;
  // sum((a_i - b_i)^2)
  float (*l2sq)(const float* a, const float* b, size_t d);
  // sum(a_i * b_i)
  float (*dot)(const float* a, const float* b, size_t d);
  // dot(a, b) / (|a| |b|); 0 when either norm is 0.
  float (*cosine)(const float* a, const float* b, size_t d);
  // One query against n vectors stored contiguously (row i at base + i * d):
  // out[i] = l2sq(q, row i) / dot(q, row i).
  void (*l2sq_batch)(const float* q, const float* base, size_t n, size_t d, float* out);
  void (*dot_batch)(const float* q, const float* base, size_t n, size_t d, float* out);
  // As dot_batch, for scans that do not need dot()'s exact bits (IVF lists and centroids): four
  // rows at a time share each load of q, and rows further on are prefetched. out[i] may differ
  // from dot(q, row i) in the last bits (another order of summation).
  void (*dot_rows)(const float* q, const float* base, size_t n, size_t d, float* out);
  // sum(q_i * code_i) over i < d for a 16-bit query and 8-bit unsigned codes (the SQ8 graph
  // walk: index/sq8.h scales a float query onto the codes' grid). Integer arithmetic, so every
  // level returns the same value, exactly, provided the caller keeps sum(|q_i|) * 255 below
  // 2^31 (Sq8Quantizer::PrepareQuery does). AVX2 and AVX-512 widen 16 or 32 codes to 16 bits
  // per step and multiply-add pairs into 32-bit lanes (vpmovzxbw + vpmaddwd). Reads nothing past
  // q[d - 1] or code[d - 1].
  int32_t (*dot_u8_i16)(const int16_t* q, const uint8_t* code, size_t d);
  // SQ8 codes against a float query, decoding x_i = min_i + code_i * step_i on the fly (index/sq8.h:
  // the exact re-rank and IVF-SQ8 lists): sum((q_i - x_i)^2) and sum(q_i * x_i). Float arithmetic,
  // so the levels differ in the last bits (FMA, order of summation); scalar is the oracle.
  float (*sq8_l2sq)(const float* q, const uint8_t* code, const float* min, const float* step, size_t d);
  float (*sq8_dot)(const float* q, const uint8_t* code, const float* min, const float* step, size_t d);
};

// The kernels for `level`, or nullptr when this CPU cannot run them (or they were not built).
const Kernels* ForLevel(Level level);

// Levels this CPU can run, ascending; always starts with kScalar.
std::vector<Level> AvailableLevels();

// The kernels chosen for this process (see above). Resolved on first call, then constant.
const Kernels& Active();

// Scales v to unit length; returns its original norm (0 leaves v unchanged).
float Normalize(float* v, size_t d);

}  // namespace sextant::simd

#endif  // SEXTANT_SIMD_DISTANCE_H_
