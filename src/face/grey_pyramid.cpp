// ResizeGrey: dlib's bilinear grey resize, computed the same way but with the
// per-column work done once per image; see grey_pyramid.h.
//
// dlib's resize runs in two parts per row. First, columns in blocks of 4 go
// through single-precision SIMD. The source column x advances in float by
// 4 * x_scale per block. Each output is tl*w_tl + tr*w_tr + bl*w_bl + br*w_br
// with float weights, rounded by adding 0.5 in double and truncating. This
// loop stops at the first block whose last column would read past the image.
// The remaining columns use a scalar formula in double. Both parts are
// reproduced below with the same order of operations, so the bytes agree.
#include "face/grey_pyramid.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include <dlib/pixel.h>
#include <dlib/simd.h>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace facespace::face {
namespace {

// Source columns and weights of the output columns that dlib computes in its
// 4-wide block loop: columns [0, block_end).
struct BlockColumns {
  std::vector<std::int32_t> left;
  std::vector<float> fraction;          // weight of column left + 1
  std::vector<float> inverse_fraction;  // weight of column left
  long block_end = 0;

  // For each group of 8 columns: the first source column and byte shuffles
  // that pick each column's left and right pixels out of the 16 source bytes
  // from there. A group whose pixels span more than 16 bytes (a reduction to
  // less than half) has no shuffles and takes the 4-wide path.
  struct Group {
    std::int32_t base = 0;
    bool shuffles = false;
    alignas(16) std::uint8_t left[16] = {};
    alignas(16) std::uint8_t right[16] = {};
  };
  std::vector<Group> groups;
};

BlockColumns ComputeBlockColumns(long in_columns, long out_columns, double x_scale) {
  BlockColumns columns;
  const std::size_t capacity = static_cast<std::size_t>(out_columns);
  columns.left.resize(capacity);
  columns.fraction.resize(capacity);
  columns.inverse_fraction.resize(capacity);

  const double x = -4 * x_scale;
  const dlib::simd4f step = 4 * x_scale;
  dlib::simd4f position(x, x + x_scale, x + 2 * x_scale, x + 3 * x_scale);
  long c = 0;
  for (;; c += 4) {
    position += step;
    const dlib::simd4i left = dlib::simd4i(position);
    const dlib::simd4f fraction = position - left;
    const dlib::simd4f inverse_fraction = 1 - fraction;
    const dlib::simd4i right = left + 1;
    dlib::int32 lefts[4];
    dlib::int32 rights[4];
    left.store(lefts);
    right.store(rights);
    // dlib's loop has only the first test. The second differs from it only
    // where float error would make dlib write past the end of the row.
    if (rights[3] >= in_columns || c + 4 > out_columns) break;
    for (int lane = 0; lane < 4; ++lane) columns.left[c + lane] = lefts[lane];
    fraction.store(columns.fraction.data() + c);
    inverse_fraction.store(columns.inverse_fraction.data() + c);
  }
  columns.block_end = c;

  for (long first = 0; first + 8 <= columns.block_end; first += 8) {
    BlockColumns::Group group;
    group.base = columns.left[first];
    group.shuffles = columns.left[first + 7] + 1 - group.base < 16;
    std::fill(std::begin(group.left), std::end(group.left), 0x80);  // 0x80 makes a zero byte
    std::fill(std::begin(group.right), std::end(group.right), 0x80);
    for (int lane = 0; lane < 8 && group.shuffles; ++lane) {
      group.left[lane] = static_cast<std::uint8_t>(columns.left[first + lane] - group.base);
      group.right[lane] = static_cast<std::uint8_t>(group.left[lane] + 1);
    }
    columns.groups.push_back(group);
  }
  return columns;
}

// Rounds a non-negative float to the nearest byte the way dlib does:
// static_cast<unsigned char>(value + 0.5), with the addition in double.
inline unsigned char RoundToByte(float value) { return static_cast<unsigned char>(value + 0.5); }

// Output columns [c, c + 4) of one row, computed as dlib's block loop does.
void FourColumns(const BlockColumns& columns, long c, const unsigned char* top, const unsigned char* bottom,
                 float top_weight, float bottom_weight, unsigned char* out) {
  const dlib::simd4f inverse_tb = top_weight;
  const dlib::simd4f tb = bottom_weight;
  dlib::simd4f fraction;
  dlib::simd4f inverse_fraction;
  fraction.load(columns.fraction.data() + c);
  inverse_fraction.load(columns.inverse_fraction.data() + c);
  const std::int32_t* left = columns.left.data() + c;
  const dlib::simd4f w_tl = inverse_tb * inverse_fraction;
  const dlib::simd4f w_tr = inverse_tb * fraction;
  const dlib::simd4f w_bl = tb * inverse_fraction;
  const dlib::simd4f w_br = tb * fraction;
  const dlib::simd4f tl(top[left[0]], top[left[1]], top[left[2]], top[left[3]]);
  const dlib::simd4f tr(top[left[0] + 1], top[left[1] + 1], top[left[2] + 1], top[left[3] + 1]);
  const dlib::simd4f bl(bottom[left[0]], bottom[left[1]], bottom[left[2]], bottom[left[3]]);
  const dlib::simd4f br(bottom[left[0] + 1], bottom[left[1] + 1], bottom[left[2] + 1], bottom[left[3] + 1]);
  const dlib::simd4f value = dlib::simd4f(w_tl * tl + w_tr * tr + w_bl * bl + w_br * br);
  float values[4];
  value.store(values);
  for (int lane = 0; lane < 4; ++lane) out[c + lane] = RoundToByte(values[lane]);
}

#if defined(__AVX2__)
// Returns the 16 source bytes of a row from column `base`, with zeros past
// the end of the row so that nothing outside the image is read.
inline __m128i SixteenBytes(const unsigned char* row, long base, long row_length) {
  if (base + 16 <= row_length) return _mm_loadu_si128(reinterpret_cast<const __m128i*>(row + base));
  alignas(16) unsigned char bytes[16] = {};
  std::copy(row + base, row + row_length, bytes);
  return _mm_load_si128(reinterpret_cast<const __m128i*>(bytes));
}

inline __m256 EightFloats(__m128i bytes, const std::uint8_t* shuffle) {
  const __m128i picked = _mm_shuffle_epi8(bytes, _mm_load_si128(reinterpret_cast<const __m128i*>(shuffle)));
  return _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(picked));
}
#endif

// Output columns [0, block_end) of one row; `top` and `bottom` are the two
// source rows.
void BlockPart(const BlockColumns& columns, const unsigned char* top, const unsigned char* bottom, long row_length,
               float top_weight, float bottom_weight, unsigned char* out) {
  long c = 0;
#if defined(__AVX2__)
  const __m256 inverse_tb = _mm256_set1_ps(top_weight);
  const __m256 tb = _mm256_set1_ps(bottom_weight);
  const __m256d half = _mm256_set1_pd(0.5);
  for (const BlockColumns::Group& group : columns.groups) {
    if (!group.shuffles) {
      FourColumns(columns, c, top, bottom, top_weight, bottom_weight, out);
      FourColumns(columns, c + 4, top, bottom, top_weight, bottom_weight, out);
      c += 8;
      continue;
    }
    const __m256 fraction = _mm256_loadu_ps(columns.fraction.data() + c);
    const __m256 inverse_fraction = _mm256_loadu_ps(columns.inverse_fraction.data() + c);
    const __m256 w_tl = inverse_tb * inverse_fraction;
    const __m256 w_tr = inverse_tb * fraction;
    const __m256 w_bl = tb * inverse_fraction;
    const __m256 w_br = tb * fraction;
    const __m128i top_bytes = SixteenBytes(top, group.base, row_length);
    const __m128i bottom_bytes = SixteenBytes(bottom, group.base, row_length);
    const __m256 tl = EightFloats(top_bytes, group.left);
    const __m256 tr = EightFloats(top_bytes, group.right);
    const __m256 bl = EightFloats(bottom_bytes, group.left);
    const __m256 br = EightFloats(bottom_bytes, group.right);
#if defined(__FMA__) && defined(__GNUC__) && !defined(__clang__)
    // GCC 12 with FMA contracts dlib's sum into one multiplication and three
    // fused multiply-adds in this order. Left to itself, it contracts this copy
    // in another order, and that changes the last bit of some sums.
    // NOTE: another compiler or -ffp-contract setting may contract dlib's sum
    // differently. The ResizeGrey tests compare the bytes and would fail.
    const __m256 value = _mm256_fmadd_ps(w_br, br, _mm256_fmadd_ps(w_bl, bl, _mm256_fmadd_ps(w_tr, tr, w_tl * tl)));
#else
    const __m256 value = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(w_tl * tl, w_tr * tr), w_bl * bl), w_br * br);
#endif

    const __m128i low = _mm256_cvttpd_epi32(_mm256_add_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(value)), half));
    const __m128i high = _mm256_cvttpd_epi32(_mm256_add_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(value, 1)), half));
    const __m128i words = _mm_packus_epi32(low, high);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out + c), _mm_packus_epi16(words, words));
    c += 8;
  }
#endif
  for (; c < columns.block_end; c += 4) FourColumns(columns, c, top, bottom, top_weight, bottom_weight, out);
}

}  // namespace

void ResizeGrey(const GreyView& in, unsigned char* out, long out_rows, long out_columns, std::ptrdiff_t out_stride) {
  if (out_rows == 0 || out_columns == 0 || in.rows == 0 || in.columns == 0) return;

  const double x_scale = (in.columns - 1) / static_cast<double>(std::max<long>(out_columns - 1, 1));
  const double y_scale = (in.rows - 1) / static_cast<double>(std::max<long>(out_rows - 1, 1));
  const BlockColumns columns = ComputeBlockColumns(in.columns, out_columns, x_scale);

  double y = -y_scale;
  for (long r = 0; r < out_rows; ++r) {
    y += y_scale;
    const long top = static_cast<long>(std::floor(y));
    const long bottom = std::min(top + 1, in.rows - 1);
    const double tb_frac = y - top;
    const unsigned char* top_source = in.data + top * in.stride;
    const unsigned char* bottom_source = in.data + bottom * in.stride;

    unsigned char* out_row = out + r * out_stride;
    const dlib::simd4f bottom_weight = tb_frac;
    const dlib::simd4f top_weight = 1 - tb_frac;
    float bottom_weight_value[4];
    float top_weight_value[4];
    bottom_weight.store(bottom_weight_value);
    top_weight.store(top_weight_value);
    BlockPart(columns, top_source, bottom_source, in.columns, top_weight_value[0], bottom_weight_value[0], out_row);

    // dlib's scalar loop for the columns after the blocks.
    double x = -x_scale + columns.block_end * x_scale;
    for (long c = columns.block_end; c < out_columns; ++c) {
      x += x_scale;
      const long left = static_cast<long>(std::floor(x));
      const long right = std::min(left + 1, in.columns - 1);
      const float lr_frac = x - left;
      float tl = 0;
      float tr = 0;
      float bl = 0;
      float br = 0;
      dlib::assign_pixel(tl, top_source[left]);
      dlib::assign_pixel(tr, top_source[right]);
      dlib::assign_pixel(bl, bottom_source[left]);
      dlib::assign_pixel(br, bottom_source[right]);
      const float value = (1 - tb_frac) * ((1 - lr_frac) * tl + lr_frac * tr) + tb_frac * ((1 - lr_frac) * bl + lr_frac * br);
      dlib::assign_pixel(out_row[c], value);
    }
  }
}

}  // namespace facespace::face
