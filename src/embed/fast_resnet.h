// A batched forward pass of the face ResNet built on single-precision GEMM.
//
// dlib's CPU convolution runs one image at a time, so its GEMMs for the deep
// layers are tiny (a 4x4 feature map is 16 rows). This engine keeps the
// activations of a whole batch in NHWC order, turns every convolution into one
// im2col + cblas_sgemm over all images of the batch, and folds each affine
// layer and the convolution bias into the filters. Its output agrees with
// dlib's forward pass to float rounding (the tests bound the L2 difference by
// 1e-3).
#ifndef FACESPACE_SRC_EMBED_FAST_RESNET_H_
#define FACESPACE_SRC_EMBED_FAST_RESNET_H_

#include <vector>

#include <opencv2/core.hpp>

#include "embed/resnet.h"
#include "facespace/embedding.h"

namespace facespace::embed {

class FastResNet {
 public:
  // Copies the weights out of `net`, which must have been loaded or filled.
  explicit FastResNet(ResNet& net);

  // Embeds `count` chips starting at `chips` (each kChipSize square, CV_8UC3,
  // RGB order, already checked by the caller) into `out`. Runs on the calling
  // thread; the BLAS library may use its own threads for the GEMMs. Not
  // thread-safe: the object keeps scratch buffers, so each thread needs its own.
  void Forward(const cv::Mat* chips, std::size_t count, Embedding* out);

  // Convolution after convolution: weights as a K x Out row-major matrix with
  // K in (ky, kx, in-channel) order, affine scale folded in.
  struct Conv {
    int in = 0;
    int out = 0;
    int kernel = 0;
    int stride = 1;
    int pad = 0;
    std::vector<float> weights;
    std::vector<float> bias;
  };

 private:
  struct Activation {
    int n = 0, h = 0, w = 0, c = 0;
    std::vector<float> data;  // NHWC
  };

  void RunConv(const Conv& conv, const Activation& input, Activation& output, bool relu);
  void ResidualUnit(std::size_t first_conv, Activation& x);
  void ResidualDownUnit(std::size_t first_conv, Activation& x);

  std::vector<Conv> convs_;       // input to output order, as the table in tfjs_import.cpp
  std::vector<float> fc_;         // 256 x 128 row-major
  std::vector<float> columns_;    // im2col scratch
  // Kept between calls so that batches of one size reuse their memory.
  Activation input_;
  Activation first_;
  Activation trunk_;  // the activation that flows through the residual units
  Activation scratch_[3];
};

}  // namespace facespace::embed

#endif  // FACESPACE_SRC_EMBED_FAST_RESNET_H_
