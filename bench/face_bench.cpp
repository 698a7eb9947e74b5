// Speed of the face stage's own detector and landmark code against the dlib
// code it reproduces, in the same run, on one thread.
//
// The images are the first of each of the first N people of LFW, as grey for
// the detector parts and RGB for the landmarks. Each part runs dlib's version
// and ours in turn for --rounds rounds. The program reports the median time
// per image of each, and their ratio:
//   resize:    doubling the image, then 5/6 levels while both sides exceed
//              48 pixels (dlib::pyramid_up and pyramid_down<6> against
//              PyramidUpGrey and GreyPyramidDown6);
//   hog:       HOG features of those levels (extract_fhog_features against
//              ExtractGreyHog);
//   detector:  the whole frontal face detector on the doubled image;
//   landmarks: the 68-point shape predictor on the fallback box.
// Both versions give identical results (tests/face checks it); this program
// also counts any image where they do not.
//
// Usage: face_bench [--images DIR] [--count N] [--rounds N] [--landmarks FILE]
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <string>
#include <vector>

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
#include "facespace/face.h"
#include "facespace/image.h"
#include "lfw_images.h"

namespace {

using Clock = std::chrono::steady_clock;
using GreyImage = dlib::array2d<unsigned char>;

struct Args {
  std::filesystem::path images;
  int count = 200;
  int rounds = 5;
  std::filesystem::path landmarks;
};

Args ParseArgs(int argc, char** argv) {
  Args args;
  args.images = facespace::bench::DefaultLfwImages();
  args.landmarks = facespace::DefaultLandmarkModelPath();
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) throw facespace::Error(facespace::ErrorCategory::kInvalidArgument, flag + ": missing value");
    const std::string value = argv[++i];
    if (flag == "--images") {
      args.images = value;
    } else if (flag == "--count" || flag == "--rounds") {
      const int number = std::stoi(value);
      if (number < 1) {
        throw facespace::Error(facespace::ErrorCategory::kInvalidArgument, flag + " " + value + ": must be at least 1");
      }
      (flag == "--count" ? args.count : args.rounds) = number;
    } else if (flag == "--landmarks") {
      args.landmarks = value;
    } else {
      throw facespace::Error(facespace::ErrorCategory::kInvalidArgument,
                             flag + ": unknown option (known: --images --count --rounds --landmarks)");
    }
  }
  return args;
}

// One part's two versions: each runs over all images and returns a checksum
// of its results, so that a difference between them is noticed.
struct Part {
  std::string name;
  std::function<double()> dlib_version;
  std::function<double()> our_version;
};

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

double Checksum(const GreyImage& image) {
  double sum = 0;
  for (long r = 0; r < image.nr(); ++r) {
    long row_sum = 0;
    for (long c = 0; c < image.nc(); ++c) row_sum += image[r][c];
    sum += static_cast<double>(row_sum) * (r + 1);
  }
  return sum;
}

double Checksum(const dlib::array<dlib::array2d<float>>& hog) {
  double sum = 0;
  for (std::size_t plane = 0; plane < hog.size(); ++plane) {
    double plane_sum = 0;
    for (long r = 0; r < hog[plane].nr(); ++r) {
      for (long c = 0; c < hog[plane].nc(); ++c) plane_sum += hog[plane][r][c];
    }
    sum += plane_sum * static_cast<double>(plane + 1);
  }
  return sum;
}

double Checksum(const std::vector<dlib::rect_detection>& detections) {
  double sum = 0;
  for (const auto& detection : detections) {
    sum += detection.detection_confidence + detection.rect.left() + 3.0 * detection.rect.top() +
           5.0 * detection.rect.width() + 7.0 * detection.weight_index;
  }
  return sum;
}

double Checksum(const dlib::full_object_detection& shape) {
  double sum = 0;
  for (unsigned long i = 0; i < shape.num_parts(); ++i) sum += shape.part(i).x() * (i + 1) + shape.part(i).y() * (i + 2);
  return sum;
}

// Returns `grey` doubled, then each 5/6 level while both sides exceed 48
// pixels (close to the detector's own levels), made with dlib's resize or ours.
template <typename Down>
std::vector<GreyImage> Levels(const GreyImage& grey, bool ours) {
  std::vector<GreyImage> levels(1);
  dlib::assign_image(levels[0], grey);
  if (ours) {
    facespace::face::PyramidUpGrey(levels[0]);
  } else {
    dlib::pyramid_up(levels[0]);
  }
  const Down down;
  while (levels.back().nr() > 48 && levels.back().nc() > 48) {
    GreyImage smaller;
    down(levels.back(), smaller);
    levels.push_back(std::move(smaller));
  }
  return levels;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Args args = ParseArgs(argc, argv);
    const std::vector<std::filesystem::path> files = facespace::bench::FirstImageOfEachPerson(args.images, args.count);
    if (files.empty()) {
      throw facespace::Error(facespace::ErrorCategory::kNotFound,
                             args.images.string() + ": no LFW images found (set FACESPACE_TEST_DATA)");
    }

    std::vector<cv::Mat> rgb;
    std::vector<GreyImage> grey(files.size());
    std::vector<GreyImage> doubled(files.size());
    std::vector<std::vector<GreyImage>> levels;
    for (std::size_t i = 0; i < files.size(); ++i) {
      rgb.push_back(facespace::ReadImageFile(files[i]).rgb);
      cv::Mat grey_mat;
      cv::cvtColor(rgb.back(), grey_mat, cv::COLOR_RGB2GRAY);
      dlib::assign_image(grey[i], dlib::cv_image<unsigned char>(grey_mat));
      levels.push_back(Levels<dlib::pyramid_down<6>>(grey[i], false));
      dlib::assign_image(doubled[i], levels.back().front());
    }

    dlib::frontal_face_detector dlib_detector = dlib::get_frontal_face_detector();
    facespace::face::GreyFaceDetector our_detector = facespace::face::MakeGreyFaceDetector();
    dlib::shape_predictor dlib_predictor;
    dlib::deserialize(args.landmarks.string()) >> dlib_predictor;
    std::ifstream landmark_file(args.landmarks, std::ios::binary);
    const facespace::face::LandmarkPredictor our_predictor = facespace::face::LandmarkPredictor::Read(landmark_file);

    const auto hog_of_levels = [&](bool ours) {
      double sum = 0;
      dlib::array<dlib::array2d<float>> hog;
      for (const auto& image_levels : levels) {
        for (const GreyImage& level : image_levels) {
          if (ours) {
            facespace::face::GreyHogExtractor()(level, hog, 8, 10, 10);
          } else {
            dlib::extract_fhog_features(level, hog, 8, 10, 10);
          }
          sum += Checksum(hog);
        }
      }
      return sum;
    };
    const auto detect_all = [&](auto& detector) {
      double sum = 0;
      std::vector<dlib::rect_detection> detections;
      for (const GreyImage& image : doubled) {
        detector(image, detections);
        sum += Checksum(detections);
      }
      return sum;
    };
    const auto landmarks = [&](bool ours) {
      double sum = 0;
      for (const cv::Mat& image : rgb) {
        const facespace::FaceBox box = facespace::FallbackBox(image.cols, image.rows);
        const dlib::rectangle rect(box.left, box.top, box.right, box.bottom);
        const dlib::cv_image<dlib::rgb_pixel> view(image);
        sum += Checksum(ours ? our_predictor(view, rect) : dlib_predictor(view, rect));
      }
      return sum;
    };

    const std::vector<Part> parts = {
        {"resize",
         [&] {
           double sum = 0;
           for (const GreyImage& image : grey) {
             for (const GreyImage& level : Levels<dlib::pyramid_down<6>>(image, false)) sum += Checksum(level);
           }
           return sum;
         },
         [&] {
           double sum = 0;
           for (const GreyImage& image : grey) {
             for (const GreyImage& level : Levels<facespace::face::GreyPyramidDown6>(image, true)) sum += Checksum(level);
           }
           return sum;
         }},
        {"hog", [&] { return hog_of_levels(false); }, [&] { return hog_of_levels(true); }},
        {"detector", [&] { return detect_all(dlib_detector); }, [&] { return detect_all(our_detector); }},
        {"landmarks", [&] { return landmarks(false); }, [&] { return landmarks(true); }},
    };

    std::cout << fmt::format("face_bench: {} LFW images from {}, {} rounds, 1 thread\n", files.size(),
                             args.images.string(), args.rounds);
    std::cout << fmt::format("{:<10} {:>14} {:>14} {:>8}  {}\n", "part", "dlib ms/image", "ours ms/image", "ratio",
                             "results");
    for (const Part& part : parts) {
      std::vector<double> dlib_times;
      std::vector<double> our_times;
      bool same = true;
      for (int round = 0; round < args.rounds; ++round) {
        Clock::time_point start = Clock::now();
        const double dlib_sum = part.dlib_version();
        dlib_times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() / files.size());
        start = Clock::now();
        const double our_sum = part.our_version();
        our_times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count() / files.size());
        same = same && dlib_sum == our_sum;
      }
      const double dlib_median = Median(dlib_times);
      const double our_median = Median(our_times);
      std::cout << fmt::format("{:<10} {:>14.3f} {:>14.3f} {:>7.2f}x  {}\n", part.name, dlib_median, our_median,
                               dlib_median / our_median, same ? "identical" : "DIFFERENT");
    }
    return 0;
  } catch (const std::exception& error) {
    std::cerr << "face_bench: error: " << error.what() << "\n";
    return 1;
  }
}
