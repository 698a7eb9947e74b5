// Batched GEMM forward pass of the face ResNet; see fast_resnet.h.
#include "embed/fast_resnet.h"

#include <cblas.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "facespace/face.h"

namespace facespace::embed {
namespace {

// Index of the first convolution of each residual unit, in the order the data
// flows; the two convolutions of a unit are adjacent. Convolution 0 is the
// 7x7 input convolution.
constexpr std::size_t kLevel32[] = {1, 3, 5};
constexpr std::size_t kDown64 = 7;
constexpr std::size_t kLevel64[] = {9, 11, 13};
constexpr std::size_t kDown128 = 15;
constexpr std::size_t kLevel128[] = {17, 19};
constexpr std::size_t kDown256 = 21;
constexpr std::size_t kLevel256[] = {23, 25};
constexpr std::size_t kDown256Out = 27;
constexpr std::size_t kConvCount = 29;

// The im2col buffer contains at most this many floats (64 MiB), so larger
// convolutions run in chunks of rows.
constexpr std::size_t kMaxColumnFloats = std::size_t{16} << 20;

// dlib's input_rgb_image_sized subtracts these means and divides by 256.
constexpr float kMeanR = 122.782f;
constexpr float kMeanG = 117.001f;
constexpr float kMeanB = 104.298f;

struct RawConv {
  const dlib::tensor* params = nullptr;
  long filters = 0;
  long kernel = 0;
  long stride = 0;
  long pad = 0;
};

struct WeightCollector {
  std::vector<RawConv>* convs;
  std::vector<dlib::affine_*>* affines;
  const dlib::tensor** fc;

  template <long N, long R, long C, int Sy, int Sx, int Py, int Px>
  void operator()(size_t, dlib::con_<N, R, C, Sy, Sx, Py, Px>& conv) const {
    convs->push_back({&conv.get_layer_params(), conv.num_filters(), R, Sy, conv.padding_y()});
  }
  void operator()(size_t, dlib::affine_& affine) const { affines->push_back(&affine); }
  template <unsigned long N, dlib::fc_bias_mode Mode>
  void operator()(size_t, dlib::fc_<N, Mode>& layer) const {
    *fc = &layer.get_layer_params();
  }
  template <typename Other>
  void operator()(size_t, Other&) const {}
};

// Folds conv + bias followed by a per-channel affine (scale g, shift b) into
// one convolution: g * (W x + c) + b = (g W) x + (g c + b).
FastResNet::Conv FoldConv(const RawConv& raw, dlib::affine_& affine, int in) {
  FastResNet::Conv conv;
  conv.in = in;
  conv.out = static_cast<int>(raw.filters);
  conv.kernel = static_cast<int>(raw.kernel);
  conv.stride = static_cast<int>(raw.stride);
  conv.pad = static_cast<int>(raw.pad);

  const std::size_t filter_values = static_cast<std::size_t>(conv.out) * in * conv.kernel * conv.kernel;
  const bool has_bias = raw.params->size() == filter_values + conv.out;
  if (!has_bias && raw.params->size() != filter_values) {
    throw std::logic_error("FastResNet: convolution parameter count does not match its shape");
  }
  auto gamma = affine.get_gamma();
  auto beta = affine.get_beta();
  if (affine.get_mode() != dlib::CONV_MODE || gamma.size() != static_cast<std::size_t>(conv.out)) {
    throw std::logic_error("FastResNet: affine layer is not per channel");
  }
  const float* params = raw.params->host();
  const float* g = gamma.host();
  const float* b = beta.host();

  const int k = conv.kernel;
  conv.weights.resize(filter_values);
  for (int o = 0; o < conv.out; ++o) {
    for (int i = 0; i < in; ++i) {
      for (int y = 0; y < k; ++y) {
        for (int x = 0; x < k; ++x) {
          const std::size_t from = ((static_cast<std::size_t>(o) * in + i) * k + y) * k + x;
          const std::size_t row = (static_cast<std::size_t>(y) * k + x) * in + i;
          conv.weights[row * conv.out + o] = params[from] * g[o];
        }
      }
    }
  }
  conv.bias.resize(conv.out);
  for (int o = 0; o < conv.out; ++o) conv.bias[o] = (has_bias ? params[filter_values + o] * g[o] : 0.0f) + b[o];
  return conv;
}

void AddBiasRelu(float* data, std::size_t rows, const std::vector<float>& bias, bool relu) {
  const std::size_t channels = bias.size();
  for (std::size_t r = 0; r < rows; ++r) {
    float* row = data + r * channels;
    for (std::size_t c = 0; c < channels; ++c) {
      const float value = row[c] + bias[c];
      row[c] = relu ? std::max(value, 0.0f) : value;
    }
  }
}

}  // namespace

FastResNet::FastResNet(ResNet& net) {
  std::vector<RawConv> raw;
  std::vector<dlib::affine_*> affines;
  const dlib::tensor* fc = nullptr;
  dlib::visit_computational_layers(net, WeightCollector{&raw, &affines, &fc});
  std::reverse(raw.begin(), raw.end());  // the visitor walks from the output
  std::reverse(affines.begin(), affines.end());
  if (raw.size() != kConvCount || affines.size() != kConvCount || fc == nullptr ||
      fc->size() != 256u * kEmbeddingDim) {
    throw std::logic_error("FastResNet: network does not have the face ResNet's layers");
  }

  int channels = 3;
  for (std::size_t i = 0; i < kConvCount; ++i) {
    convs_.push_back(FoldConv(raw[i], *affines[i], channels));
    channels = convs_.back().out;
  }
  fc_.assign(fc->host(), fc->host() + fc->size());
}

void FastResNet::RunConv(const Conv& conv, const Activation& input, Activation& output, bool relu) {
  const int k = conv.kernel;
  output.n = input.n;
  output.h = (input.h + 2 * conv.pad - k) / conv.stride + 1;
  output.w = (input.w + 2 * conv.pad - k) / conv.stride + 1;
  output.c = conv.out;
  const std::size_t rows = static_cast<std::size_t>(output.n) * output.h * output.w;
  output.data.resize(rows * conv.out);

  const std::size_t depth = static_cast<std::size_t>(k) * k * conv.in;  // GEMM K
  const std::size_t chunk = std::max<std::size_t>(1, std::min(rows, kMaxColumnFloats / depth));
  columns_.resize(chunk * depth);
  const std::size_t pixels = static_cast<std::size_t>(output.h) * output.w;
  const std::size_t span = static_cast<std::size_t>(conv.in);

  for (std::size_t first = 0; first < rows; first += chunk) {
    const std::size_t count = std::min(chunk, rows - first);
    for (std::size_t r = 0; r < count; ++r) {
      const std::size_t row = first + r;
      const int n = static_cast<int>(row / pixels);
      const int oy = static_cast<int>((row % pixels) / output.w);
      const int ox = static_cast<int>(row % output.w);
      // The k input pixels under one kernel row are adjacent in NHWC, so each
      // kernel row is one copy, with zeros where it hangs over the border.
      const int ix_first = ox * conv.stride - conv.pad;
      const int kx_begin = std::max(0, -ix_first);
      const int kx_end = std::min(k, input.w - ix_first);
      float* column = columns_.data() + r * depth;
      for (int ky = 0; ky < k; ++ky) {
        const int iy = oy * conv.stride + ky - conv.pad;
        float* target = column + static_cast<std::size_t>(ky) * k * span;
        if (iy < 0 || iy >= input.h || kx_begin >= kx_end) {
          std::fill(target, target + k * span, 0.0f);
          continue;
        }
        std::fill(target, target + kx_begin * span, 0.0f);
        const float* source =
            input.data.data() + ((static_cast<std::size_t>(n) * input.h + iy) * input.w + ix_first + kx_begin) * span;
        std::memcpy(target + kx_begin * span, source, (kx_end - kx_begin) * span * sizeof(float));
        std::fill(target + kx_end * span, target + k * span, 0.0f);
      }
    }
    float* result = output.data.data() + first * conv.out;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(count), conv.out,
                static_cast<int>(depth), 1.0f, columns_.data(), static_cast<int>(depth), conv.weights.data(),
                conv.out, 0.0f, result, conv.out);
    AddBiasRelu(result, count, conv.bias, relu);
  }
}

void FastResNet::ResidualUnit(std::size_t first_conv, Activation& x) {
  Activation& hidden = scratch_[0];
  Activation& sum = scratch_[1];
  RunConv(convs_[first_conv], x, hidden, true);
  RunConv(convs_[first_conv + 1], hidden, sum, false);
  for (std::size_t i = 0; i < sum.data.size(); ++i) sum.data[i] = std::max(sum.data[i] + x.data[i], 0.0f);
  std::swap(x, sum);
}

// The shortcut is a 2x2 average pool of the input. dlib adds tensors of
// different shapes as if both were zero-padded to the larger one, aligned at
// row, column and channel 0.
void FastResNet::ResidualDownUnit(std::size_t first_conv, Activation& x) {
  Activation& hidden = scratch_[0];
  Activation& branch = scratch_[1];
  Activation& sum = scratch_[2];
  RunConv(convs_[first_conv], x, hidden, true);
  RunConv(convs_[first_conv + 1], hidden, branch, false);

  const int pooled_h = (x.h - 2) / 2 + 1;
  const int pooled_w = (x.w - 2) / 2 + 1;
  sum.n = x.n;
  sum.h = std::max(branch.h, pooled_h);
  sum.w = std::max(branch.w, pooled_w);
  sum.c = std::max(branch.c, x.c);
  sum.data.assign(static_cast<std::size_t>(sum.n) * sum.h * sum.w * sum.c, 0.0f);

  for (int n = 0; n < sum.n; ++n) {
    for (int y = 0; y < sum.h; ++y) {
      for (int x_ = 0; x_ < sum.w; ++x_) {
        float* target = sum.data.data() + ((static_cast<std::size_t>(n) * sum.h + y) * sum.w + x_) * sum.c;
        if (y < branch.h && x_ < branch.w) {
          const float* source =
              branch.data.data() + ((static_cast<std::size_t>(n) * branch.h + y) * branch.w + x_) * branch.c;
          for (int c = 0; c < branch.c; ++c) target[c] += source[c];
        }
        if (y < pooled_h && x_ < pooled_w) {
          for (int dy = 0; dy < 2; ++dy) {
            for (int dx = 0; dx < 2; ++dx) {
              const float* source =
                  x.data.data() +
                  ((static_cast<std::size_t>(n) * x.h + 2 * y + dy) * x.w + 2 * x_ + dx) * x.c;
              for (int c = 0; c < x.c; ++c) target[c] += 0.25f * source[c];
            }
          }
        }
        for (int c = 0; c < sum.c; ++c) target[c] = std::max(target[c], 0.0f);
      }
    }
  }
  std::swap(x, sum);
}

void FastResNet::Forward(const cv::Mat* chips, std::size_t count, Embedding* out) {
  if (count == 0) return;
  Activation& input = input_;
  input.n = static_cast<int>(count);
  input.h = kChipSize;
  input.w = kChipSize;
  input.c = 3;
  input.data.resize(count * kChipSize * kChipSize * 3);
  float* target = input.data.data();
  for (std::size_t i = 0; i < count; ++i) {
    for (int y = 0; y < kChipSize; ++y) {
      const auto* row = chips[i].ptr<cv::Vec3b>(y);
      for (int x = 0; x < kChipSize; ++x) {
        *target++ = (row[x][0] - kMeanR) / 256.0f;
        *target++ = (row[x][1] - kMeanG) / 256.0f;
        *target++ = (row[x][2] - kMeanB) / 256.0f;
      }
    }
  }

  Activation& first = first_;
  RunConv(convs_[0], input, first, true);

  // 3x3 max pool, stride 2, no padding.
  Activation& x = trunk_;
  x.n = first.n;
  x.h = (first.h - 3) / 2 + 1;
  x.w = (first.w - 3) / 2 + 1;
  x.c = first.c;
  x.data.resize(static_cast<std::size_t>(x.n) * x.h * x.w * x.c);
  for (int n = 0; n < x.n; ++n) {
    for (int y = 0; y < x.h; ++y) {
      for (int x_ = 0; x_ < x.w; ++x_) {
        float* pooled = x.data.data() + ((static_cast<std::size_t>(n) * x.h + y) * x.w + x_) * x.c;
        std::fill(pooled, pooled + x.c, -std::numeric_limits<float>::infinity());
        for (int dy = 0; dy < 3; ++dy) {
          for (int dx = 0; dx < 3; ++dx) {
            const float* source =
                first.data.data() +
                ((static_cast<std::size_t>(n) * first.h + 2 * y + dy) * first.w + 2 * x_ + dx) * first.c;
            for (int c = 0; c < x.c; ++c) pooled[c] = std::max(pooled[c], source[c]);
          }
        }
      }
    }
  }

  for (std::size_t unit : kLevel32) ResidualUnit(unit, x);
  ResidualDownUnit(kDown64, x);
  for (std::size_t unit : kLevel64) ResidualUnit(unit, x);
  ResidualDownUnit(kDown128, x);
  for (std::size_t unit : kLevel128) ResidualUnit(unit, x);
  ResidualDownUnit(kDown256, x);
  for (std::size_t unit : kLevel256) ResidualUnit(unit, x);
  ResidualDownUnit(kDown256Out, x);

  // Global average pool, then the fully connected layer (no bias).
  std::vector<float> pooled(static_cast<std::size_t>(x.n) * x.c, 0.0f);
  const std::size_t pixels = static_cast<std::size_t>(x.h) * x.w;
  for (int n = 0; n < x.n; ++n) {
    for (std::size_t p = 0; p < pixels; ++p) {
      const float* source = x.data.data() + (n * pixels + p) * x.c;
      for (int c = 0; c < x.c; ++c) pooled[static_cast<std::size_t>(n) * x.c + c] += source[c];
    }
    for (int c = 0; c < x.c; ++c) pooled[static_cast<std::size_t>(n) * x.c + c] /= static_cast<float>(pixels);
  }
  std::vector<float> result(static_cast<std::size_t>(x.n) * kEmbeddingDim);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, x.n, kEmbeddingDim, x.c, 1.0f, pooled.data(), x.c,
              fc_.data(), kEmbeddingDim, 0.0f, result.data(), kEmbeddingDim);
  for (std::size_t i = 0; i < count; ++i) {
    std::copy(result.begin() + i * kEmbeddingDim, result.begin() + (i + 1) * kEmbeddingDim, out[i].begin());
  }
}

}  // namespace facespace::embed
