// EXIF orientation: where the tag sits in each container, and how to undo it.
#include <opencv2/core.hpp>

#include "image/decoders.h"

namespace facespace::image_internal {

cv::Mat ApplyOrientation(const cv::Mat& rgb, int orientation) {
  // EXIF orientation (tag 0x0112) names where row 0 and column 0 of the
  // stored image belong. To display it upright: 1 nothing, 2 mirror,
  // 3 rotate 180 degrees, 4 flip vertically, 5 transpose, 6 rotate 90 degrees
  // clockwise, 7 transverse, 8 rotate 90 degrees counter-clockwise.
  cv::Mat out;
  switch (orientation) {
    case 2: cv::flip(rgb, out, 1); break;
    case 3: cv::rotate(rgb, out, cv::ROTATE_180); break;
    case 4: cv::flip(rgb, out, 0); break;
    case 5: cv::transpose(rgb, out); break;
    case 6: cv::rotate(rgb, out, cv::ROTATE_90_CLOCKWISE); break;
    case 7: {
      cv::Mat transposed;
      cv::transpose(rgb, transposed);
      cv::rotate(transposed, out, cv::ROTATE_180);
      break;
    }
    case 8: cv::rotate(rgb, out, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: out = rgb; break;
  }
  return out;
}

}  // namespace facespace::image_internal
