// Level names, CPU detection and the choice of kernels for the process (simd/distance.h).
//
// Built for the x86-64 baseline like everything outside the per-ISA files, so it runs anywhere
// and decides, before anything calls into them, whether the wider kernels may run.
//
// CPU detection happens once (function-local static, thread-safe). A level needs both the
// instructions (CPUID, through __builtin_cpu_supports) and the OS's consent to use the registers:
// the kernel must save the YMM (AVX) or ZMM and opmask (AVX-512) state on a context switch, which
// XCR0 says. GCC's libgcc already folds XCR0 into the AVX features it reports, but that is an
// implementation detail, and a hypervisor or a kernel booted without AVX-512 state support can
// advertise the CPUID bits without the OS support, so XCR0 is read here explicitly as well.
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <string>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "simd/distance.h"
#include "simd/kernels_internal.h"
#include "util/logging.h"

namespace sextant::simd {
namespace {

constexpr Level kAllLevels[] = {Level::kScalar, Level::kSse4, Level::kAvx2, Level::kAvx512};

struct CpuFeatures {
  bool sse4 = false;
  bool avx2 = false;    // AVX2 + FMA, with YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F + DQ + BW + VL (+ AVX2/FMA), with ZMM/opmask state enabled
};

#if defined(__x86_64__) || defined(__i386__)
// XCR0, or 0 when the OS has not enabled XSAVE (then no AVX state is saved: AVX is unusable).
uint64_t ReadXcr0() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
  if ((ecx & bit_OSXSAVE) == 0) return 0;
  uint32_t lo = 0, hi = 0;
  // xgetbv as an instruction: the _xgetbv intrinsic would need -mxsave on this file.
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}
#endif

CpuFeatures DetectCpu() {
  CpuFeatures f;
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  const uint64_t xcr0 = ReadXcr0();
  const bool os_avx = (xcr0 & 0x6) == 0x6;         // XMM (bit 1) and YMM (bit 2) state
  const bool os_avx512 = (xcr0 & 0xe6) == 0xe6;    // + opmask, ZMM_Hi256, Hi16_ZMM (bits 5-7)
  f.sse4 = __builtin_cpu_supports("sse4.2");
  f.avx2 = f.sse4 && os_avx && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  f.avx512 = f.avx2 && os_avx512 && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
#endif
  return f;
}

const CpuFeatures& Cpu() {
  static const CpuFeatures features = DetectCpu();
  return features;
}

const Kernels* BuiltKernels(Level level) {
  switch (level) {
    case Level::kScalar:
      return internal::ScalarKernels();
    case Level::kSse4:
      return internal::Sse4Kernels();
    case Level::kAvx2:
      return internal::Avx2Kernels();
    case Level::kAvx512:
      return internal::Avx512Kernels();
  }
  return nullptr;
}

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return std::tolower(static_cast<unsigned char>(c)); };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

}  // namespace

std::string_view LevelName(Level level) {
  switch (level) {
    case Level::kScalar:
      return "scalar";
    case Level::kSse4:
      return "sse4";
    case Level::kAvx2:
      return "avx2";
    case Level::kAvx512:
      return "avx512";
  }
  return "unknown";
}

// Case-insensitive, so that SEXTANT_SIMD=AVX2 works too.
std::optional<Level> ParseLevel(std::string_view name) {
  for (Level level : kAllLevels) {
    if (EqualsIgnoringCase(name, LevelName(level))) return level;
  }
  return std::nullopt;
}

const Kernels* ForLevel(Level level) {
  if (!internal::CpuSupports(level)) return nullptr;
  return BuiltKernels(level);
}

std::vector<Level> AvailableLevels() {
  std::vector<Level> levels;
  for (Level level : kAllLevels) {
    if (ForLevel(level) != nullptr) levels.push_back(level);
  }
  return levels;
}

const Kernels& Active() {
  static const Kernels* const kernels = [] {
    const char* env = std::getenv("SEXTANT_SIMD");
    std::string warning;
    const Level level = internal::ChooseLevel(
        env != nullptr ? std::optional<std::string_view>(env) : std::nullopt, AvailableLevels(),
        &warning);
    if (!warning.empty()) sextant::internal::Log(sextant::internal::LogLevel::kWarning, warning);
    sextant::internal::Log(sextant::internal::LogLevel::kInfo,
                  "SIMD distance kernels: " + std::string(LevelName(level)));
    return ForLevel(level);
  }();
  return *kernels;
}

// Deliberately not through the SIMD kernels: the norm is taken in double with a fixed order of
// summation, so a stored unit vector is the same bits on every CPU. It runs once per insert, not
// per distance, so speed does not matter.
float Normalize(float* v, size_t d) {
  double s0 = 0.0, s1 = 0.0;
  size_t i = 0;
  for (; i + 2 <= d; i += 2) {
    s0 += static_cast<double>(v[i]) * v[i];
    s1 += static_cast<double>(v[i + 1]) * v[i + 1];
  }
  if (i < d) s0 += static_cast<double>(v[i]) * v[i];
  const double norm = std::sqrt(s0 + s1);
  // 0 (nothing to scale) and inf/NaN (the input had them) leave v as it was.
  if (norm == 0.0 || !std::isfinite(norm)) return static_cast<float>(norm);
  const double inv = 1.0 / norm;
  for (size_t j = 0; j < d; ++j) v[j] = static_cast<float>(v[j] * inv);
  return static_cast<float>(norm);
}

namespace internal {

bool CpuSupports(Level level) {
  switch (level) {
    case Level::kScalar:
      return true;
    case Level::kSse4:
      return Cpu().sse4;
    case Level::kAvx2:
      return Cpu().avx2;
    case Level::kAvx512:
      return Cpu().avx512;
  }
  return false;
}

Level ChooseLevel(std::optional<std::string_view> env, const std::vector<Level>& available,
                  std::string* warning) {
  if (warning != nullptr) warning->clear();
  // The best available level not above `cap`; kScalar is always there, but don't rely on it.
  auto best_up_to = [&available](Level cap) {
    Level best = Level::kScalar;
    for (Level level : available) {
      if (level <= cap && level > best) best = level;
    }
    return best;
  };
  if (!env.has_value() || env->empty()) return best_up_to(Level::kAvx512);
  const std::optional<Level> requested = ParseLevel(*env);
  if (!requested.has_value()) {
    const Level chosen = best_up_to(Level::kAvx512);
    if (warning != nullptr) {
      *warning = "SEXTANT_SIMD=\"" + std::string(*env) +
                 "\" is not one of scalar, sse4, avx2, avx512; using " +
                 std::string(LevelName(chosen));
    }
    return chosen;
  }
  const Level chosen = best_up_to(*requested);
  if (chosen != *requested && warning != nullptr) {
    *warning = "SEXTANT_SIMD=" + std::string(*env) + ": " + std::string(LevelName(*requested)) +
               " kernels are not available on this CPU or in this build; using " +
               std::string(LevelName(chosen));
  }
  return chosen;
}

}  // namespace internal
}  // namespace sextant::simd
