// LandmarkPredictor: dlib's shape predictor with flat trees and prefetched
// leaves; see landmark_predictor.h.
#include "face/landmark_predictor.h"

#include <string>
#include <utility>

#include <dlib/image_processing/shape_predictor.h>
#include <dlib/serialize.h>

namespace facespace::face {
namespace {

// Trees whose leaves are requested from memory before they are added. One
// leaf of the 68-point model is 544 bytes, about nine cache lines.
constexpr std::size_t kPrefetchTrees = 8;
constexpr std::size_t kCacheLine = 64;

bool IsPowerOfTwo(std::size_t value) { return value != 0 && (value & (value - 1)) == 0; }

[[noreturn]] void Fail(const std::string& what) {
  throw dlib::serialization_error("shape predictor: " + what);
}

}  // namespace

LandmarkPredictor LandmarkPredictor::Read(std::istream& in) {
  int version = 0;
  dlib::deserialize(version, in);
  if (version != 1) Fail("unsupported format version " + std::to_string(version) + ", expected 1");

  LandmarkPredictor predictor;
  std::vector<std::vector<dlib::impl::regression_tree>> forests;
  std::vector<std::vector<unsigned long>> anchors;
  std::vector<std::vector<dlib::vector<float, 2>>> deltas;
  dlib::deserialize(predictor.initial_shape_, in);
  dlib::deserialize(forests, in);
  dlib::deserialize(anchors, in);
  dlib::deserialize(deltas, in);

  const long shape_size = predictor.initial_shape_.size();
  if (shape_size == 0 || shape_size % 2 != 0) Fail("mean shape has " + std::to_string(shape_size) + " values");
  if (anchors.size() != forests.size() || deltas.size() != forests.size()) {
    Fail("pixel lists do not match the number of cascade levels");
  }

  for (std::size_t l = 0; l < forests.size(); ++l) {
    std::vector<dlib::impl::regression_tree>& forest = forests[l];
    Level level;
    level.trees = forest.size();
    level.anchor = std::move(anchors[l]);
    level.deltas = std::move(deltas[l]);
    if (level.anchor.size() != level.deltas.size()) Fail("level " + std::to_string(l) + ": pixel lists differ in size");
    for (const unsigned long anchor : level.anchor) {
      if (anchor >= static_cast<unsigned long>(shape_size / 2)) Fail("level " + std::to_string(l) + ": anchor out of range");
    }

    const std::size_t leaf_count = forest.empty() ? 1 : forest.front().leaf_values.size();
    if (!IsPowerOfTwo(leaf_count)) Fail("level " + std::to_string(l) + ": trees are not complete binary trees");
    while ((std::size_t{1} << level.depth) < leaf_count) ++level.depth;
    const std::size_t split_count = leaf_count - 1;
    level.splits.reserve(level.trees * split_count);
    level.leaves.reserve(level.trees * leaf_count * static_cast<std::size_t>(shape_size));

    for (dlib::impl::regression_tree& tree : forest) {
      if (tree.leaf_values.size() != leaf_count || tree.splits.size() != split_count) {
        Fail("level " + std::to_string(l) + ": trees differ in depth");
      }
      for (const auto& split : tree.splits) {
        if (split.idx1 >= level.anchor.size() || split.idx2 >= level.anchor.size()) {
          Fail("level " + std::to_string(l) + ": split refers to a pixel that does not exist");
        }
        level.splits.push_back({static_cast<std::uint32_t>(split.idx1), static_cast<std::uint32_t>(split.idx2),
                                split.thresh});
      }
      for (const auto& leaf : tree.leaf_values) {
        if (leaf.size() != shape_size) Fail("level " + std::to_string(l) + ": leaf size differs from the shape");
        level.leaves.insert(level.leaves.end(), leaf.begin(), leaf.end());
      }
      // Frees the tree now, so loading needs little more than one copy.
      tree = dlib::impl::regression_tree();
    }
    predictor.levels_.push_back(std::move(level));
  }
  return predictor;
}

dlib::full_object_detection LandmarkPredictor::operator()(const dlib::cv_image<dlib::rgb_pixel>& image,
                                                          const dlib::rectangle& box) const {
  dlib::matrix<float, 0, 1> shape = initial_shape_;
  const std::size_t shape_size = static_cast<std::size_t>(shape.size());
  std::vector<float> pixels;
  std::vector<std::size_t> leaf_offsets;

  for (const Level& level : levels_) {
    dlib::impl::extract_feature_pixel_values(image, box, shape, initial_shape_, level.anchor, level.deltas, pixels);

    // Walk every tree first: the pixel values stay fixed within a level.
    const std::size_t split_count = (std::size_t{1} << level.depth) - 1;
    const std::size_t leaf_bytes = shape_size * sizeof(float);
    leaf_offsets.resize(level.trees);
    for (std::size_t t = 0; t < level.trees; ++t) {
      const Split* splits = level.splits.data() + t * split_count;
      std::size_t node = 0;
      while (node < split_count) {
        const Split& split = splits[node];
        node = pixels[split.first] - pixels[split.second] > split.threshold ? 2 * node + 1 : 2 * node + 2;
      }
      leaf_offsets[t] = ((t << level.depth) + (node - split_count)) * shape_size;
    }

    // Then add the leaves in tree order, as dlib does, asking for later
    // leaves ahead of time.
    float* current = &shape(0);
    for (std::size_t t = 0; t < level.trees; ++t) {
      if (t + kPrefetchTrees < level.trees) {
        const char* ahead = reinterpret_cast<const char*>(level.leaves.data() + leaf_offsets[t + kPrefetchTrees]);
        for (std::size_t byte = 0; byte < leaf_bytes; byte += kCacheLine) __builtin_prefetch(ahead + byte);
        __builtin_prefetch(ahead + leaf_bytes - 1);
      }
      const float* leaf = level.leaves.data() + leaf_offsets[t];
      for (std::size_t i = 0; i < shape_size; ++i) current[i] += leaf[i];
    }
  }

  const dlib::point_transform_affine to_image = dlib::impl::unnormalizing_tform(box);
  std::vector<dlib::point> parts(shape_size / 2);
  for (std::size_t i = 0; i < parts.size(); ++i) parts[i] = to_image(dlib::impl::location(shape, i));
  return dlib::full_object_detection(box, parts);
}

}  // namespace facespace::face
