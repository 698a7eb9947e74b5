// FaceFinder: dlib's HOG frontal face detector, the 68-point shape predictor
// and dlib's face-chip alignment, over OpenCV RGB images wrapped without a copy.
// The detector's resizing and HOG features and the shape predictor run through
// faster code of ours (grey_pyramid.h, grey_hog.h, landmark_predictor.h) that
// gives dlib's results bit for bit.
#include "facespace/face.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <map>
#include <mutex>

#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
#include <dlib/opencv/cv_image.h>

#include <fmt/format.h>
#include <opencv2/imgproc.hpp>

#include "face/grey_hog.h"
#include "face/grey_pyramid.h"
#include "face/landmark_predictor.h"
#include "facespace/error.h"
#include "facespace/log.h"

namespace facespace {
namespace {

using RgbView = dlib::cv_image<dlib::rgb_pixel>;

// Each upsampling doubles both sides, so 3 already means 64 times the pixels.
constexpr int kMaxUpsample = 3;

// Highest level tried again when the requested one finds no face and the
// fallback box is enabled: level 3 costs 64 times the pixels of level 0.
constexpr int kMaxRetryUpsample = 2;

FaceBox FromDlib(const dlib::rectangle& rect) {
  return {static_cast<int>(rect.left()), static_cast<int>(rect.top()), static_cast<int>(rect.right()),
          static_cast<int>(rect.bottom())};
}

void CheckImage(const cv::Mat& rgb) {
  if (rgb.empty() || rgb.type() != CV_8UC3) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("face detection: expected a non-empty 8-bit 3-channel RGB image, got {}x{} "
                            "of OpenCV type {}",
                            rgb.cols, rgb.rows, rgb.type()));
  }
}

void CheckOptions(const DetectOptions& options) {
  if (options.upsample < 0 || options.upsample > kMaxUpsample) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("upsample {}: must be between 0 and {}", options.upsample, kMaxUpsample));
  }
}

}  // namespace

struct FaceFinder::Models {
  std::filesystem::path path;
  face::LandmarkPredictor predictor;
};

struct FaceFinder::Detector {
  face::GreyFaceDetector detector = face::MakeGreyFaceDetector();

  // Runs the detector on `grey` doubled `upsample` times and returns boxes in
  // the coordinates of `grey`.
  std::vector<dlib::rect_detection> Detect(const cv::Mat& grey, int upsample) {
    std::vector<dlib::rect_detection> detections;
    try {
      if (upsample == 0) {
        detector(dlib::cv_image<unsigned char>(grey), detections);
        return detections;
      }
      dlib::array2d<unsigned char> enlarged;
      dlib::assign_image(enlarged, dlib::cv_image<unsigned char>(grey));
      for (int i = 0; i < upsample; ++i) face::PyramidUpGrey(enlarged);
      detector(enlarged, detections);
    } catch (const dlib::error& error) {
      throw Error(ErrorCategory::kInternal, std::string("face detection failed: ") + error.what());
    }
    const dlib::pyramid_down<2> pyramid;
    for (auto& detection : detections) {
      detection.rect = pyramid.rect_down(detection.rect, static_cast<unsigned int>(upsample));
    }
    return detections;
  }
};

FaceFinder::FaceFinder(const std::filesystem::path& landmark_model) : detector_(std::make_unique<Detector>()) {
  // Every FaceFinder built from the same file shares one loaded model of
  // about 100 MB. The cache keeps weak pointers, so the model is freed once
  // the last FaceFinder using it is destroyed.
  static std::mutex cache_mutex;
  static std::map<std::filesystem::path, std::weak_ptr<const Models>> cache;
  const std::lock_guard lock(cache_mutex);
  if (auto cached = cache[landmark_model].lock()) {
    models_ = std::move(cached);
    return;
  }

  if (!std::filesystem::is_regular_file(landmark_model)) {
    throw Error(ErrorCategory::kNotFound,
                landmark_model.string() + ": landmark model not found (install libdlib-data or set "
                                          "FACESPACE_LANDMARK_MODEL)");
  }
  auto models = std::make_shared<Models>();
  models->path = landmark_model;
  std::ifstream in(landmark_model, std::ios::binary);
  if (!in) throw Error(ErrorCategory::kIo, landmark_model.string() + ": failed to open the landmark model");
  try {
    models->predictor = face::LandmarkPredictor::Read(in);
  } catch (const dlib::error& error) {
    throw Error(ErrorCategory::kCorrupt,
                landmark_model.string() + ": not a dlib shape predictor file (" + error.what() + ")");
  } catch (const std::exception& error) {
    // dlib sizes vectors from counts stored in the file, so a damaged count
    // fails with std::length_error or std::bad_alloc.
    throw Error(ErrorCategory::kCorrupt, landmark_model.string() +
                                             ": not a dlib shape predictor file (a stored length is too large: " +
                                             error.what() + ")");
  }
  if (models->predictor.num_parts() != kLandmarkCount) {
    throw Error(ErrorCategory::kMismatch,
                fmt::format("{}: landmark model has {} points, expected {}", landmark_model.string(),
                            models->predictor.num_parts(), kLandmarkCount));
  }
  Logger().debug("loaded landmark model {}", landmark_model.string());
  cache[landmark_model] = models;
  models_ = std::move(models);
}

FaceFinder::FaceFinder(const FaceFinder& other)
    : models_(other.models_), detector_(std::make_unique<Detector>(*other.detector_)) {}

FaceFinder::~FaceFinder() = default;

std::vector<Face> FaceFinder::Find(const cv::Mat& rgb, const DetectOptions& options) const {
  CheckImage(rgb);
  CheckOptions(options);

  // The detector runs on the grey image, as in dlib's face detection example,
  // so HOG takes one gradient per pixel instead of the strongest of three
  // colour channels. On 250x250 LFW images that cut the CPU time per image
  // from about 52 to 37 ms, embedding included.
  cv::Mat grey;
  cv::cvtColor(rgb, grey, cv::COLOR_RGB2GRAY);
  std::vector<dlib::rect_detection> detections = detector_->Detect(grey, options.upsample);
  if (detections.empty() && options.fallback_box) {
    // The HOG pyramid samples scales coarsely, so a face missed at one
    // upsampling level is often found at a neighbouring one.
    const int last = std::min(options.upsample + 1, kMaxRetryUpsample);
    for (int upsample = 0; upsample <= last && detections.empty(); ++upsample) {
      if (upsample != options.upsample) detections = detector_->Detect(grey, upsample);
    }
  }

  std::vector<Face> faces;
  if (detections.empty()) {
    if (!options.fallback_box) return faces;
    Face face = AlignInBox(rgb, FallbackBox(rgb.cols, rgb.rows));
    face.fallback = true;
    faces.push_back(std::move(face));
    return faces;
  }

  // dlib returns detections sorted by confidence, highest first.
  std::stable_sort(detections.begin(), detections.end(), [](const auto& a, const auto& b) {
    return a.detection_confidence > b.detection_confidence;
  });
  if (options.policy == MultiFacePolicy::kLargest) {
    const auto largest = std::max_element(detections.begin(), detections.end(), [](const auto& a, const auto& b) {
      return a.rect.area() < b.rect.area();
    });
    detections = {*largest};
  } else if (options.policy == MultiFacePolicy::kCentral) {
    const dlib::dpoint image_centre(rgb.cols / 2.0, rgb.rows / 2.0);
    const auto central = std::min_element(detections.begin(), detections.end(), [&](const auto& a, const auto& b) {
      return (dlib::dcenter(a.rect) - image_centre).length_squared() <
             (dlib::dcenter(b.rect) - image_centre).length_squared();
    });
    detections = {*central};
  }
  for (const auto& detection : detections) {
    Face face = AlignInBox(rgb, FromDlib(detection.rect));
    face.detector_score = detection.detection_confidence;
    faces.push_back(std::move(face));
  }
  return faces;
}

Face FaceFinder::AlignInBox(const cv::Mat& rgb, const FaceBox& box) const {
  CheckImage(rgb);
  if (box.right < box.left || box.bottom < box.top) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("face box ({}, {})-({}, {}): right and bottom must not be less than left and top",
                            box.left, box.top, box.right, box.bottom));
  }

  const RgbView image(rgb);
  Face face;
  face.box = box;
  dlib::array2d<dlib::rgb_pixel> chip;
  try {
    const dlib::full_object_detection shape =
        models_->predictor(image, dlib::rectangle(box.left, box.top, box.right, box.bottom));
    for (int i = 0; i < kLandmarkCount; ++i) {
      const dlib::point& point = shape.part(static_cast<unsigned long>(i));
      face.landmarks[static_cast<std::size_t>(i)] =
          cv::Point2f(static_cast<float>(point.x()), static_cast<float>(point.y()));
    }
    // Pixels of the chip that fall outside the image are filled with black.
    dlib::extract_image_chip(image, dlib::get_face_chip_details(shape, kChipSize, kChipPadding), chip);
  } catch (const dlib::error& error) {
    throw Error(ErrorCategory::kInternal, std::string("face alignment failed: ") + error.what());
  }

  face.chip.create(kChipSize, kChipSize, CV_8UC3);
  for (int y = 0; y < kChipSize; ++y) {
    auto* row = face.chip.ptr<cv::Vec3b>(y);
    for (int x = 0; x < kChipSize; ++x) {
      const dlib::rgb_pixel& pixel = chip[y][x];
      row[x] = cv::Vec3b(pixel.red, pixel.green, pixel.blue);
    }
  }
  return face;
}

FaceBox FallbackBox(int width, int height) {
  // Matches the mean HOG box on 300 LFW deep-funneled images (250x250): side
  // about 104 px, centred horizontally and about 9 px below the centre. For
  // 250x250 this gives (73, 81)-(177, 185).
  const double side = 0.42 * std::min(width, height);
  const double centre_x = 0.5 * width;
  const double centre_y = 0.535 * height;
  const int left = static_cast<int>(std::lround(centre_x - side / 2));
  const int top = static_cast<int>(std::lround(centre_y - side / 2));
  const int side_pixels = static_cast<int>(std::lround(side));
  return {left, top, left + side_pixels - 1, top + side_pixels - 1};
}

std::filesystem::path DefaultLandmarkModelPath() {
  if (const char* path = std::getenv("FACESPACE_LANDMARK_MODEL"); path != nullptr && *path != '\0') return path;
  return FACESPACE_DEFAULT_LANDMARK_MODEL;
}

}  // namespace facespace
