// Bilinear resizing of 8-bit grey images that gives the same bytes as
// dlib::resize_image with interpolate_bilinear, in less time.
//
// The HOG detector resizes every image several times: once per upsampling
// (dlib::pyramid_up) and once per level of its 5/6 pyramid. dlib's grey
// resize computes the source columns and weights of each output pixel again
// on every row and loads the four source pixels one at a time. This version
// computes the columns once per image and, with AVX2, picks the source pixels
// of 8 outputs at a time out of 16 loaded bytes with byte shuffles. Each output pixel is
// computed with the same float operations in the same order as dlib's, so the
// detector gets identical pyramids and finds identical boxes.
#ifndef FACESPACE_SRC_FACE_GREY_PYRAMID_H_
#define FACESPACE_SRC_FACE_GREY_PYRAMID_H_

#include <cstddef>
#include <type_traits>

#include <dlib/image_processing/generic_image.h>
#include <dlib/image_transforms/image_pyramid.h>

namespace facespace::face {

// A grey image in memory: `rows` rows of `columns` bytes, `stride` bytes apart.
struct GreyView {
  const unsigned char* data = nullptr;
  long rows = 0;
  long columns = 0;
  std::ptrdiff_t stride = 0;
};

// Resizes `in` to fill `out` (out.data is written), as dlib::resize_image(in,
// out, interpolate_bilinear()) does for two unsigned char images.
void ResizeGrey(const GreyView& in, unsigned char* out, long out_rows, long out_columns, std::ptrdiff_t out_stride);

// Adapts any dlib grey image type to ResizeGrey. `out` must already have its
// size.
template <typename In, typename Out>
void ResizeGreyImage(const In& in, Out& out) {
  static_assert(std::is_same_v<typename dlib::image_traits<In>::pixel_type, unsigned char> &&
                    std::is_same_v<typename dlib::image_traits<Out>::pixel_type, unsigned char>,
                "ResizeGrey takes 8-bit grey images only");
  // Unqualified, so that argument-dependent lookup finds the overloads of
  // image types declared after this header, such as dlib::cv_image.
  using dlib::image_data, dlib::num_columns, dlib::num_rows, dlib::width_step;
  const GreyView view{static_cast<const unsigned char*>(image_data(in)), num_rows(in), num_columns(in),
                      static_cast<std::ptrdiff_t>(width_step(in))};
  ResizeGrey(view, static_cast<unsigned char*>(image_data(out)), num_rows(out), num_columns(out),
             static_cast<std::ptrdiff_t>(width_step(out)));
}

// dlib's pyramid_down<6> (each level 5/6 the size of the one before) with its
// resize replaced by ResizeGrey. Usable as the pyramid of
// dlib::scan_fhog_pyramid for 8-bit grey images; the level sizes and the
// mapping of boxes between levels are pyramid_down<6>'s own.
class GreyPyramidDown6 : public dlib::pyramid_down<6> {
 public:
  template <typename In, typename Out>
  void operator()(const In& original, Out& down) const {
    using dlib::num_columns, dlib::num_rows, dlib::set_image_size;
    set_image_size(down, (5 * num_rows(original)) / 6, (5 * num_columns(original)) / 6);
    ResizeGreyImage(original, down);
  }

  template <typename Image>
  void operator()(Image& image) const {
    Image smaller;
    (*this)(image, smaller);
    dlib::swap(smaller, image);
  }
};

// dlib::pyramid_up(image) for an 8-bit grey image: doubles both sides with the
// sizes pyramid_down<2> gives, using ResizeGrey.
template <typename Image>
void PyramidUpGrey(Image& image) {
  Image larger;
  using dlib::num_columns, dlib::num_rows, dlib::set_image_size;
  if (num_rows(image) == 0 || num_columns(image) == 0) {
    dlib::swap(larger, image);
    return;
  }
  const dlib::rectangle up = dlib::pyramid_down<2>().rect_up(dlib::get_rect(image));
  if (up.is_empty()) {
    dlib::swap(larger, image);
    return;
  }
  set_image_size(larger, up.bottom() + 1, up.right() + 1);
  ResizeGreyImage(image, larger);
  dlib::swap(larger, image);
}

}  // namespace facespace::face

#endif  // FACESPACE_SRC_FACE_GREY_PYRAMID_H_
