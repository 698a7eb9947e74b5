// ExtractGreyHog: dlib's Felzenszwalb HOG for 8-bit grey images with the same
// float operations in the same order; see grey_hog.h.
//
// The method (Felzenszwalb, Girshick, McAllester and Ramanan, "Object
// Detection with Discriminatively Trained Part Based Models", PAMI 2010):
// each pixel's gradient votes with its length into one of 18 orientation
// bins of the four nearest 8x8 cells, weighted bilinearly. Each cell's 18
// bins are then normalised by the energy of the four 2x2 blocks around it,
// giving 18 signed and 9 unsigned orientation features plus 4 texture
// features per cell.
//
// Exactness rests on three rules, checked by the tests against dlib:
// - This file is compiled with -ffp-contract=off. Where GCC 12 fuses a
//   multiply and an add in dlib's code (the scalar histogram votes and the
//   block energies), std::fma does the same here. In dlib's vector loop GCC
//   12 leaves the orientation dot products unfused, as here. For all 261,121
//   gradients of 8-bit images the chosen bin is the same fused or not.
// - Votes reach each histogram bin in dlib's order: pixel by pixel along the
//   row, four votes per pixel.
// - Columns that dlib handles in its 8-wide loop and in its scalar tail are
//   computed with the formulas of each part.
#include "face/grey_hog.h"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms/fhog.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/simd.h>
#include <opencv2/core.hpp>

#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace facespace::face {
namespace {

constexpr int kBins = 18;        // signed orientations, 20 degrees apart
constexpr int kDirections = 9;   // unit vectors of the first 9 bins
constexpr int kFeatures = 31;

// dlib writes these as double literals into a float matrix.
const float kDirectionX[kDirections] = {
    static_cast<float>(1.0000),  static_cast<float>(0.9397),  static_cast<float>(0.7660),
    static_cast<float>(0.500),   static_cast<float>(0.1736),  static_cast<float>(-0.1736),
    static_cast<float>(-0.5000), static_cast<float>(-0.7660), static_cast<float>(-0.9397)};
const float kDirectionY[kDirections] = {
    static_cast<float>(0.0000), static_cast<float>(0.3420), static_cast<float>(0.6428),
    static_cast<float>(0.8660), static_cast<float>(0.9848), static_cast<float>(0.9848),
    static_cast<float>(0.8660), static_cast<float>(0.6428), static_cast<float>(0.3420)};

inline float MultiplyAdd(float a, float b, float c) {
#if defined(__FMA__) && defined(__GNUC__) && !defined(__clang__)
  return std::fma(a, b, c);
#else
  return a * b + c;
#endif
}

// Returns the bin of gradient (gx, gy) as dlib's scalar loop picks it. That is
// the first bin, in the order 0, 9, 1, 10, ..., with the largest positive dot
// product (bin o + 9 has the negated direction of bin o), or 0 when none is
// positive.
inline int ScalarBin(float gx, float gy) {
  float best_dot = 0;
  int best = 0;
  for (int o = 0; o < kDirections; ++o) {
    const float dot = kDirectionX[o] * gx + kDirectionY[o] * gy;
    if (dot > best_dot) {
      best_dot = dot;
      best = o;
    } else if (-dot > best_dot) {
      best_dot = -dot;
      best = o + kDirections;
    }
  }
  return best;
}

// Histogram of a (cells_nr + 2) x (cells_nc + 2) grid of cells with kBins
// floats each, as dlib's `hist`: the outer ring absorbs votes from the
// image border.
class Histogram {
 public:
  Histogram(int rows, int columns)
      : columns_(columns + 2), bins_(static_cast<std::size_t>(rows + 2) * columns_ * kBins, 0.0f) {}

  float* Cell(int row, int column) { return bins_.data() + (static_cast<std::size_t>(row) * columns_ + column) * kBins; }
  const float* Cell(int row, int column) const {
    return bins_.data() + (static_cast<std::size_t>(row) * columns_ + column) * kBins;
  }
  std::ptrdiff_t RowStride() const { return static_cast<std::ptrdiff_t>(columns_) * kBins; }

 private:
  int columns_;
  std::vector<float> bins_;
};

// dlib's output for an image too small for one feature: 31 empty planes.
void SetEmptyPlanes(dlib::array<dlib::array2d<float>>& hog) {
  hog.clear();
  hog.resize(kFeatures);
}

void InitFeaturePlanes(dlib::array<dlib::array2d<float>>& hog, int hog_nr, int hog_nc, int rows_padding,
                       int columns_padding) {
  hog.resize(kFeatures);
  for (int i = 0; i < kFeatures; ++i) {
    hog[i].set_size(hog_nr + rows_padding - 1, hog_nc + columns_padding - 1);
    dlib::rectangle inside = dlib::get_rect(hog[i]);
    inside.top() += (rows_padding - 1) / 2;
    inside.left() += (columns_padding - 1) / 2;
    inside.right() -= columns_padding / 2;
    inside.bottom() -= rows_padding / 2;
    dlib::zero_border_pixels(hog[i], inside);
  }
}

#if defined(__AVX2__)
// Adds the votes of the pixels [x, x + 8) of row y, as dlib's 8-wide loop does.
// `column_cell` and the two weights contain dlib's per-column values.
inline void VoteEight(const unsigned char* above, const unsigned char* row, const unsigned char* below, int x,
                      const int* column_cell, const float* weight_right, const float* weight_left, float vy0,
                      float vy1, float* upper, float* lower) {
  const __m256i left = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + x - 1)));
  const __m256i right = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(row + x + 1)));
  const __m256i top = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(above + x)));
  const __m256i bottom = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(below + x)));
  const __m256 gx = _mm256_cvtepi32_ps(_mm256_sub_epi32(right, left));
  const __m256 gy = _mm256_cvtepi32_ps(_mm256_sub_epi32(bottom, top));
  // Sums of squares of integers up to 255 are exact in float.
  const __m256 length = _mm256_sqrt_ps(_mm256_add_ps(_mm256_mul_ps(gx, gx), _mm256_mul_ps(gy, gy)));

  // dlib compares dot and -dot with the best so far for each direction in
  // turn. Since the best is never negative, that is the first direction
  // with the largest |dot|, the sign choosing between bins o and o + 9.
  const __m256 sign_bit = _mm256_set1_ps(-0.0f);
  __m256 best = _mm256_setzero_ps();
  __m256 best_dot = _mm256_setzero_ps();
  __m256 best_direction = _mm256_setzero_ps();
  for (int o = 0; o < kDirections; ++o) {
    const __m256 dot =
        _mm256_add_ps(_mm256_mul_ps(gx, _mm256_set1_ps(kDirectionX[o])), _mm256_mul_ps(gy, _mm256_set1_ps(kDirectionY[o])));
    const __m256 magnitude = _mm256_andnot_ps(sign_bit, dot);
    const __m256 better = _mm256_cmp_ps(magnitude, best, _CMP_GT_OQ);
    best = _mm256_blendv_ps(best, magnitude, better);
    best_dot = _mm256_blendv_ps(best_dot, dot, better);
    best_direction = _mm256_blendv_ps(best_direction, _mm256_set1_ps(static_cast<float>(o)), better);
  }
  const __m256 negative = _mm256_cmp_ps(best_dot, _mm256_setzero_ps(), _CMP_LT_OQ);
  const __m256 bin = _mm256_add_ps(best_direction, _mm256_and_ps(negative, _mm256_set1_ps(static_cast<float>(kDirections))));

  const __m256 vx1 = _mm256_mul_ps(_mm256_loadu_ps(weight_left + x), length);
  const __m256 vx0 = _mm256_mul_ps(_mm256_loadu_ps(weight_right + x), length);
  const __m256 y1 = _mm256_set1_ps(vy1);
  const __m256 y0 = _mm256_set1_ps(vy0);
  alignas(32) float v11[8];
  alignas(32) float v01[8];
  alignas(32) float v10[8];
  alignas(32) float v00[8];
  alignas(32) int bins[8];
  _mm256_store_ps(v11, _mm256_mul_ps(y1, vx1));
  _mm256_store_ps(v01, _mm256_mul_ps(y0, vx1));
  _mm256_store_ps(v10, _mm256_mul_ps(y1, vx0));
  _mm256_store_ps(v00, _mm256_mul_ps(y0, vx0));
  _mm256_store_si256(reinterpret_cast<__m256i*>(bins), _mm256_cvttps_epi32(bin));

  for (int lane = 0; lane < 8; ++lane) {
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(column_cell[x + lane]) * kBins + bins[lane];
    upper[at] += v11[lane];
    lower[at] += v01[lane];
    upper[at + kBins] += v10[lane];
    lower[at + kBins] += v00[lane];
  }
}
#endif

// The 31 features of every cell from the histogram, as dlib computes them.
void Normalise(const Histogram& hist, int cells_nr, int cells_nc, int hog_nr, int hog_nc, int rows_offset,
               int columns_offset, dlib::array<dlib::array2d<float>>& hog) {
  // Energy of each cell: the squared sums of opposite bins.
  dlib::array2d<float> norm(cells_nr, cells_nc);
  dlib::assign_all_pixels(norm, 0);
  for (int r = 0; r < cells_nr; ++r) {
    for (int c = 0; c < cells_nc; ++c) {
      const float* cell = hist.Cell(r + 1, c + 1);
      for (int o = 0; o < kDirections; ++o) {
        const float both = cell[o] + cell[o + kDirections];
        norm[r][c] = MultiplyAdd(both, both, norm[r][c]);
      }
    }
  }

  const float eps = 0.0001;
  for (int y = 0; y < hog_nr; ++y) {
    const int yy = y + rows_offset;
    for (int x = 0; x < hog_nc; ++x) {
      // The four 2x2 blocks that contain cell (y + 1, x + 1), one per lane.
      const dlib::simd4f z1(norm[y + 1][x + 1], norm[y][x + 1], norm[y + 1][x], norm[y][x]);
      const dlib::simd4f z2(norm[y + 1][x + 2], norm[y][x + 2], norm[y + 1][x + 1], norm[y][x + 1]);
      const dlib::simd4f z3(norm[y + 2][x + 1], norm[y + 1][x + 1], norm[y + 2][x], norm[y + 1][x]);
      const dlib::simd4f z4(norm[y + 2][x + 2], norm[y + 1][x + 2], norm[y + 2][x + 1], norm[y + 1][x + 1]);
      const dlib::simd4f nn = 0.2 * dlib::sqrt(z1 + z2 + z3 + z4 + eps);
      const dlib::simd4f n = 0.1 / nn;
      const float* cell = hist.Cell(y + 2, x + 2);
      const int xx = x + columns_offset;

      dlib::simd4f texture = 0;
      for (int o = 0; o < kBins; o += 3) {
        const dlib::simd4f h0 = dlib::min(dlib::simd4f(cell[o]), nn) * n;
        const dlib::simd4f h1 = dlib::min(dlib::simd4f(cell[o + 1]), nn) * n;
        const dlib::simd4f h2 = dlib::min(dlib::simd4f(cell[o + 2]), nn) * n;
        hog[o][yy][xx] = dlib::sum(h0);
        hog[o + 1][yy][xx] = dlib::sum(h1);
        hog[o + 2][yy][xx] = dlib::sum(h2);
        texture += h0 + h1 + h2;
      }
      texture *= 2 * 0.2357;

      for (int o = 0; o < kDirections; o += 3) {
        const dlib::simd4f h0 = dlib::min(dlib::simd4f(cell[o] + cell[o + kDirections]), nn) * n;
        const dlib::simd4f h1 = dlib::min(dlib::simd4f(cell[o + 1] + cell[o + kDirections + 1]), nn) * n;
        const dlib::simd4f h2 = dlib::min(dlib::simd4f(cell[o + 2] + cell[o + kDirections + 2]), nn) * n;
        hog[o + kBins][yy][xx] = dlib::sum(h0);
        hog[o + kBins + 1][yy][xx] = dlib::sum(h1);
        hog[o + kBins + 2][yy][xx] = dlib::sum(h2);
      }

      float textures[4];
      texture.store(textures);
      for (int i = 0; i < 4; ++i) hog[27 + i][yy][xx] = textures[i];
    }
  }
}

}  // namespace

void ExtractGreyHog(const GreyView& image, dlib::array<dlib::array2d<float>>& hog, int cell_size,
                    int filter_rows_padding, int filter_cols_padding) {
#if defined(__AVX2__)
  const bool own_path = cell_size > 1;
#else
  const bool own_path = false;
#endif
  if (!own_path) {
    // dlib's cell_size 1 code, and builds without AVX2, run dlib itself.
    const cv::Mat header(static_cast<int>(image.rows), static_cast<int>(image.columns), CV_8UC1,
                         const_cast<unsigned char*>(image.data), static_cast<std::size_t>(image.stride));
    dlib::extract_fhog_features(dlib::cv_image<unsigned char>(header), hog, cell_size, filter_rows_padding,
                                filter_cols_padding);
    return;
  }

#if defined(__AVX2__)
  const int cells_nr = static_cast<int>(static_cast<float>(image.rows) / static_cast<float>(cell_size) + 0.5);
  const int cells_nc = static_cast<int>(static_cast<float>(image.columns) / static_cast<float>(cell_size) + 0.5);
  if (cells_nr == 0 || cells_nc == 0) {
    SetEmptyPlanes(hog);
    return;
  }
  Histogram hist(cells_nr, cells_nc);
  const int hog_nr = std::max(cells_nr - 2, 0);
  const int hog_nc = std::max(cells_nc - 2, 0);
  if (hog_nr == 0 || hog_nc == 0) {
    SetEmptyPlanes(hog);
    return;
  }
  InitFeaturePlanes(hog, hog_nr, hog_nc, filter_rows_padding, filter_cols_padding);

  const int visible_nr = static_cast<int>(std::min(static_cast<long>(cells_nr) * cell_size, image.rows) - 1);
  const int visible_nc = static_cast<int>(std::min(static_cast<long>(cells_nc) * cell_size, image.columns) - 1);

  // dlib's 8-wide loop: position xp = (x + 0.5) / cell_size + 0.5 in float,
  // its cell by truncation and the weights of that cell and the next.
  std::vector<int> column_cell(static_cast<std::size_t>(visible_nc) + 8);
  std::vector<float> weight_right(column_cell.size());
  std::vector<float> weight_left(column_cell.size());
  for (int x = 0; x < visible_nc; ++x) {
    const float xp = (static_cast<float>(x) + 0.5f) / static_cast<float>(cell_size) + 0.5f;
    column_cell[x] = static_cast<int>(xp);
    weight_right[x] = xp - static_cast<float>(column_cell[x]);
    weight_left[x] = 1.0f - weight_right[x];
  }

  for (int y = 1; y < visible_nr; ++y) {
    const float yp = (static_cast<float>(y) + 0.5) / static_cast<float>(cell_size) - 0.5;
    const int iyp = static_cast<int>(std::floor(yp));
    const float vy0 = yp - iyp;
    const float vy1 = 1.0 - vy0;
    const unsigned char* row = image.data + y * image.stride;
    const unsigned char* above = row - image.stride;
    const unsigned char* below = row + image.stride;
    float* upper = hist.Cell(iyp + 1, 0);
    float* lower = upper + hist.RowStride();

    int x = 1;
    for (; x < visible_nc - 7; x += 8) {
      VoteEight(above, row, below, x, column_cell.data(), weight_right.data(), weight_left.data(), vy0, vy1, upper,
                lower);
    }

    // dlib's scalar loop for the rest of the row.
    for (; x < visible_nc; ++x) {
      const float gx = static_cast<float>(static_cast<int>(row[x + 1]) - static_cast<int>(row[x - 1]));
      const float gy = static_cast<float>(static_cast<int>(below[x]) - static_cast<int>(above[x]));
      const int bin = ScalarBin(gx, gy);
      const float v = std::sqrt(gx * gx + gy * gy);
      const float xp = (static_cast<double>(x) + 0.5) / static_cast<double>(cell_size) - 0.5;
      const int ixp = static_cast<int>(std::floor(xp));
      const float vx0 = xp - ixp;
      const float vx1 = 1.0 - vx0;
      float* near_upper = upper + static_cast<std::ptrdiff_t>(ixp + 1) * kBins + bin;
      float* near_lower = lower + static_cast<std::ptrdiff_t>(ixp + 1) * kBins + bin;
      *near_upper = MultiplyAdd(vy1 * vx1, v, *near_upper);
      *near_lower = MultiplyAdd(vy0 * vx1, v, *near_lower);
      near_upper[kBins] = MultiplyAdd(vy1 * vx0, v, near_upper[kBins]);
      near_lower[kBins] = MultiplyAdd(vy0 * vx0, v, near_lower[kBins]);
    }
  }

  Normalise(hist, cells_nr, cells_nc, hog_nr, hog_nc, (filter_rows_padding - 1) / 2, (filter_cols_padding - 1) / 2,
            hog);
#endif
}

GreyFaceDetector MakeGreyFaceDetector() {
  // The two detectors differ only in the pyramid and feature types, which
  // dlib does not write out, so the weights carry over through serialisation.
  std::stringstream weights;
  dlib::serialize(dlib::get_frontal_face_detector(), weights);
  GreyFaceDetector detector;
  dlib::deserialize(detector, weights);
  return detector;
}

}  // namespace facespace::face
