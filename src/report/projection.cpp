// PCA projection of embeddings onto two axes fitted on a subset of the rows.
#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "facespace/error.h"
#include "facespace/report.h"

namespace facespace {

Projection2d ProjectPca(std::span<const float> vectors, int dimension,
                        const std::vector<std::uint8_t>& fit) {
  if (dimension < 2 || vectors.size() != fit.size() * static_cast<std::size_t>(dimension)) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("projection: {} floats do not form {} rows of dimension {}",
                            vectors.size(), fit.size(), dimension));
  }
  const int rows = static_cast<int>(fit.size());
  // cv::Mat has no const constructor; `all` is only read.
  const cv::Mat all(rows, dimension, CV_32F, const_cast<float*>(vectors.data()));

  cv::Mat fitted;
  for (int i = 0; i < rows; ++i) {
    if (fit[i]) fitted.push_back(all.row(i));
  }
  if (fitted.rows < 3) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("projection: {} rows to fit the PCA on, at least 3 are needed", fitted.rows));
  }

  Projection2d result;
  cv::Mat projected;
  try {
    cv::PCA pca(fitted, cv::noArray(), cv::PCA::DATA_AS_ROW, 2);
    projected = pca.project(all);

    // Share of variance: each axis's eigenvalue over the total variance of the fitted rows.
    cv::Mat centered = fitted - cv::repeat(pca.mean, fitted.rows, 1);
    const double total = cv::sum(centered.mul(centered))[0] / fitted.rows;
    for (int axis = 0; axis < 2 && axis < pca.eigenvalues.rows; ++axis) {
      result.explained_variance[axis] = total > 0 ? pca.eigenvalues.at<float>(axis) / total : 0.0;
    }
  } catch (const cv::Exception& error) {
    throw Error(ErrorCategory::kInternal, fmt::format("projection: OpenCV PCA failed: {}", error.what()));
  }

  result.points.resize(rows);
  for (int i = 0; i < rows; ++i) {
    result.points[i] = {projected.at<float>(i, 0), projected.cols > 1 ? projected.at<float>(i, 1) : 0.f};
  }
  return result;
}

}  // namespace facespace
