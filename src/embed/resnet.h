// dlib's face-recognition ResNet and the conversion of tfjs weights into it.
//
// The network type is the inference form of the network that dlib's
// dnn_face_recognition_ex example loads (dlib 19.24): batch normalisation
// folded into per-channel affine layers, 29 convolutions, a 128-wide fully
// connected layer without bias. dlib's official
// dlib_face_recognition_resnet_model_v1.dat is a plain dlib serialisation of
// this type, so the same type reads both that file and ours.
#ifndef FACESPACE_SRC_EMBED_RESNET_H_
#define FACESPACE_SRC_EMBED_RESNET_H_

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <opencv2/core.hpp>

namespace facespace::embed {

// Residual units. `block` is conv(stride) -> affine -> relu -> conv -> affine;
// the down-sampling unit adds an average-pooled copy of its input, which dlib
// zero-pads to the larger channel count and spatial size.
template <template <int, template <typename> class, int, typename> class Block, int N,
          template <typename> class Bn, typename Subnet>
using Residual = dlib::add_prev1<Block<N, Bn, 1, dlib::tag1<Subnet>>>;

template <template <int, template <typename> class, int, typename> class Block, int N,
          template <typename> class Bn, typename Subnet>
using ResidualDown =
    dlib::add_prev2<dlib::avg_pool<2, 2, 2, 2, dlib::skip1<dlib::tag2<Block<N, Bn, 2, dlib::tag1<Subnet>>>>>>;

template <int N, template <typename> class Bn, int Stride, typename Subnet>
using Block = Bn<dlib::con<N, 3, 3, 1, 1, dlib::relu<Bn<dlib::con<N, 3, 3, Stride, Stride, Subnet>>>>>;

template <int N, typename Subnet>
using AffineResidual = dlib::relu<Residual<Block, N, dlib::affine, Subnet>>;
template <int N, typename Subnet>
using AffineResidualDown = dlib::relu<ResidualDown<Block, N, dlib::affine, Subnet>>;

template <typename Subnet>
using Level0 = AffineResidualDown<256, Subnet>;
template <typename Subnet>
using Level1 = AffineResidual<256, AffineResidual<256, AffineResidualDown<256, Subnet>>>;
template <typename Subnet>
using Level2 = AffineResidual<128, AffineResidual<128, AffineResidualDown<128, Subnet>>>;
template <typename Subnet>
using Level3 =
    AffineResidual<64, AffineResidual<64, AffineResidual<64, AffineResidualDown<64, Subnet>>>>;
template <typename Subnet>
using Level4 = AffineResidual<32, AffineResidual<32, AffineResidual<32, Subnet>>>;

using ResNet = dlib::loss_metric<dlib::fc_no_bias<
    128,
    dlib::avg_pool_everything<Level0<Level1<Level2<Level3<Level4<dlib::max_pool<
        3, 3, 2, 2,
        dlib::relu<dlib::affine<dlib::con<32, 7, 7, 2, 2, dlib::input_rgb_image_sized<150>>>>>>>>>>>>>;

// One tensor of a tfjs weights manifest, dequantised to float32.
struct TfjsTensor {
  std::string name;
  std::vector<int> shape;     // as the manifest gives it; convolutions are H x W x In x Out
  std::vector<float> values;  // row-major in `shape`
};

// Reads the tensors of a tfjs manifest from `weights`, the concatenation of
// the binary files the manifest names, in manifest order. A tensor with
// "quantization": {"dtype": "uint8", "scale": s, "min": m} takes one byte a
// value and decodes to m + s * q; other tensors are little-endian float32.
// `manifest_name` and `weights_name` are used in error messages only.
// Throws Error(kCorrupt) on malformed JSON, an unsupported dtype or a binary
// whose size differs from the sum the manifest implies.
std::vector<TfjsTensor> ParseTfjsWeights(const std::string& manifest_json,
                                         std::span<const std::uint8_t> weights,
                                         const std::string& manifest_name,
                                         const std::string& weights_name);

// Reorders a convolution filter from tfjs's H x W x In x Out to dlib's
// Out x In x H x W.
std::vector<float> HwioToOihw(std::span<const float> hwio, int height, int width, int in, int out);

// Name and shape of one tensor FillResNet reads.
struct TfjsTensorSpec {
  std::string name;
  std::vector<int> shape;
};

// Returns the tensors FillResNet reads, in the order it reads them.
std::vector<TfjsTensorSpec> ExpectedTfjsTensors();

// Builds the network and fills it with `tensors`, which must be exactly the
// tensors of face-api's face recognition model, in its manifest order (see the
// table in tfjs_import.cpp). Throws Error(kCorrupt) naming the tensor and both
// shapes when a tensor does not fit its layer, or naming a missing or
// unexpected tensor.
void FillResNet(const std::vector<TfjsTensor>& tensors, ResNet& net);

// Returns the number of learned values: convolution filters and biases, affine
// scales and shifts, fully connected weights.
std::size_t CountParameters(ResNet& net);

// Throws Error(kInvalidArgument) unless `chip` is kChipSize square CV_8UC3.
void CheckChip(const cv::Mat& chip);

// Converts a chip (kChipSize square, CV_8UC3, RGB order) into dlib's image type.
// Throws Error(kInvalidArgument) on a chip of another size or type.
dlib::matrix<dlib::rgb_pixel> ToDlibChip(const cv::Mat& chip);

}  // namespace facespace::embed

#endif  // FACESPACE_SRC_EMBED_RESNET_H_
