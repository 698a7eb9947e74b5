// Fixed-algorithm random numbers for synthesis.
//
// The std:: distributions are implemented differently by each standard
// library, so a seed would give other values elsewhere. These generators are
// written out here: splitmix64 for the stream, 53-bit uniforms, and
// Box-Muller for normal deviates. Box-Muller calls std::log, std::sqrt and
// std::cos; glibc's results for these are deterministic, but another libm may
// round the last bit differently.
#ifndef FACESPACE_SRC_SYNTH_RANDOM_H_
#define FACESPACE_SRC_SYNTH_RANDOM_H_

#include <cmath>
#include <cstdint>
#include <numbers>
#include <string_view>

namespace facespace::synth {

// Returns the splitmix64 finaliser of `x`: a bijective 64-bit mix.
constexpr std::uint64_t Mix64(std::uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Returns the 64-bit FNV-1a hash of `text`.
constexpr std::uint64_t HashText(std::string_view text) {
  std::uint64_t hash = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}

  std::uint64_t Next() {
    state_ += 0x9e3779b97f4a7c15ULL;
    return Mix64(state_);
  }

  // Returns a uniform double in [0, 1) with 53 random bits.
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

  // Returns a standard normal deviate (Box-Muller; the second value of each
  // pair is kept for the next call).
  double Normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    const double u1 = 1.0 - Uniform();  // in (0, 1], so the log is finite
    const double u2 = Uniform();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  std::uint64_t state_;
  double spare_ = 0;
  bool has_spare_ = false;
};

}  // namespace facespace::synth

#endif  // FACESPACE_SRC_SYNTH_RANDOM_H_
