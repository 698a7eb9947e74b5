// dlib's shape predictor (Kazemi and Sullivan, "One Millisecond Face Alignment
// with an Ensemble of Regression Trees", CVPR 2014), evaluated with its trees
// laid out for the memory system.
//
// dlib stores each of the 7,500 trees of the 68-point model as separate
// vectors, and every leaf as its own heap block of 136 floats, so evaluating
// one face reads about 4 MB from scattered addresses. Within one cascade
// level the trees only look at pixel values fixed at the start of the level,
// so this version first walks all trees of a level, then adds their leaves
// while prefetching the ones ahead. Leaves are added in dlib's order, in
// float, so the landmarks are the same as dlib::shape_predictor's. On LFW
// faces it took half of dlib's time or less (bench/face_bench).
#ifndef FACESPACE_SRC_FACE_LANDMARK_PREDICTOR_H_
#define FACESPACE_SRC_FACE_LANDMARK_PREDICTOR_H_

#include <cstdint>
#include <istream>
#include <vector>

#include <dlib/geometry.h>
#include <dlib/image_processing/full_object_detection.h>
#include <dlib/matrix.h>
#include <dlib/opencv/cv_image.h>
#include <dlib/pixel.h>

namespace facespace::face {

class LandmarkPredictor {
 public:
  // Reads a serialised dlib::shape_predictor. Throws dlib::serialization_error
  // when the stream does not contain one, or when its trees are not complete
  // binary trees of one depth per cascade level (dlib's trainer builds them so).
  static LandmarkPredictor Read(std::istream& in);

  unsigned long num_parts() const { return static_cast<unsigned long>(initial_shape_.size() / 2); }

  // Returns the landmarks of the face in `box`, as
  // dlib::shape_predictor::operator() does for the same image and box.
  dlib::full_object_detection operator()(const dlib::cv_image<dlib::rgb_pixel>& image,
                                         const dlib::rectangle& box) const;

 private:
  struct Split {
    std::uint32_t first;   // index of the first pixel value compared
    std::uint32_t second;  // index of the second
    float threshold;       // the tree goes left when first - second > threshold
  };

  // One cascade level: its trees, each with 2^depth - 1 splits and 2^depth
  // leaves stored one after another, and where its pixels sit relative to the
  // mean shape.
  struct Level {
    int depth = 0;
    std::size_t trees = 0;
    std::vector<Split> splits;  // trees * (2^depth - 1), breadth first per tree
    std::vector<float> leaves;  // trees * 2^depth * shape size
    std::vector<unsigned long> anchor;
    std::vector<dlib::vector<float, 2>> deltas;
  };

  dlib::matrix<float, 0, 1> initial_shape_;
  std::vector<Level> levels_;
};

}  // namespace facespace::face

#endif  // FACESPACE_SRC_FACE_LANDMARK_PREDICTOR_H_
