// Thumbnails, projection and contact sheets of the experiment report.
#include "experiment_pictures.h"

#include <algorithm>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include <fmt/format.h>
#include <opencv2/core.hpp>

#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/image.h"
#include "facespace/log.h"
#include "facespace/report.h"
#include "facespace/synth.h"

namespace facespace::cli {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Longer side of the hover thumbnails in pixels. At JPEG quality 88 a 48-pixel
// LFW face took 1.4 KB on average, so the 3000 points of the default budget add
// about 5.6 MB of base64 to report.html.
constexpr int kThumbnailSize = 48;

std::vector<cv::Point2f> LandmarkPoints(const std::vector<float>& coordinates) {
  std::vector<cv::Point2f> points;
  for (std::size_t i = 0; i + 1 < coordinates.size(); i += 2) points.emplace_back(coordinates[i], coordinates[i + 1]);
  return points;
}

// Returns the part of `picture` inside `box`. Throws Error(kInvalidArgument)
// when the box lies outside the picture.
cv::Mat CropFace(const cv::Mat& picture, const FaceBox& box) {
  const cv::Rect area = cv::Rect(box.left, box.top, box.right - box.left + 1, box.bottom - box.top + 1) &
                        cv::Rect(0, 0, picture.cols, picture.rows);
  if (area.area() == 0) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("face box ({}, {})-({}, {}) lies outside the {}x{} picture", box.left, box.top, box.right,
                            box.bottom, picture.cols, picture.rows));
  }
  return picture(area);
}

// Returns the face record a real sample was embedded from.
FaceRecord SourceFace(const Store& store, const Sample& source) {
  if (source.kind != SampleKind::kReal || !source.image_id || !source.face_id) {
    throw Error(ErrorCategory::kNotFound, fmt::format("sample {}: not a real sample with a stored face", source.id));
  }
  for (FaceRecord& face : store.FacesOfImage(*source.image_id)) {
    if (face.id == *source.face_id) return face;
  }
  throw Error(ErrorCategory::kNotFound, fmt::format("sample {}: face {} not in the store", source.id, *source.face_id));
}

// Makes the face of a synthetic sample again from its source photograph `rgb`
// and its stored parameters. ApplyRecipe is a pure function of the drawn values
// and the pixels, so these are the pixels Synthesize made. On the whole image
// the result is the source box moved by the geometric steps; on the chip, the
// transformed chip. `finder` is loaded from landmark_model on first need.
cv::Mat RenderSyntheticFace(const Sample& sample, const cv::Mat& rgb, const FaceRecord& source_face,
                            std::optional<FaceFinder>& finder, const fs::path& landmark_model) {
  const json params = json::parse(sample.synthetic->params_json, nullptr, false);
  if (!params.is_object() || !params.contains("target") || !params["target"].is_string()) {
    throw Error(ErrorCategory::kCorrupt,
                fmt::format("synthetic sample {}: its parameters JSON has no \"target\"", sample.id));
  }
  const SampledRecipe sampled = ParseSampledRecipeJson(sample.synthetic->params_json);

  if (ParseApplyTarget(params["target"].get<std::string>()) == ApplyTarget::kChip) {
    if (!finder) finder.emplace(landmark_model);
    const cv::Mat chip = finder->AlignInBox(rgb, source_face.box).chip;
    return ApplyRecipe(sampled, chip, ApplyTarget::kChip);
  }

  FaceGeometry geometry = FaceGeometry::FromFace(source_face.box, LandmarkPoints(source_face.landmarks));
  const cv::Mat transformed = ApplyRecipe(sampled, rgb, ApplyTarget::kImage, &geometry);
  return CropFace(transformed, geometry.BoundingBox()).clone();
}

// Writes OUT/thumbs/<sample id>.jpg for every chosen sample and returns the
// relative path per sample id. A real sample shows its face box; a synthetic
// sample shows its own face, made again from its source. Samples whose picture
// cannot be read or made again get no thumbnail, and one warning counts them.
std::map<SampleId, std::string> WriteThumbnails(const Store& store, const std::vector<Sample>& samples,
                                                const std::vector<const Sample*>& chosen,
                                                const ProjectionRequest& request) {
  std::map<SampleId, const Sample*> by_id;
  for (const Sample& sample : samples) by_id.emplace(sample.id, &sample);

  // Grouped by the real sample whose photograph they come from, so each
  // photograph is decoded once.
  std::map<SampleId, std::vector<const Sample*>> by_source;
  for (const Sample* sample : chosen) {
    const bool synthetic = sample->kind == SampleKind::kSynthetic && sample->synthetic;
    by_source[synthetic ? sample->synthetic->source_sample : sample->id].push_back(sample);
  }

  fs::create_directories(request.out / "thumbs");
  std::map<SampleId, std::string> thumbnails;
  std::optional<FaceFinder> finder;
  std::size_t missing = 0;
  std::string first_error;
  auto record_failure = [&](const Error& error, std::size_t count) {
    missing += count;
    if (first_error.empty()) first_error = error.what();
  };

  for (const auto& [source_id, members] : by_source) {
    const auto source = by_id.find(source_id);
    if (source == by_id.end()) {
      record_failure(Error(ErrorCategory::kNotFound, fmt::format("source sample {} not in the store", source_id)),
                     members.size());
      continue;
    }
    FaceRecord face;
    cv::Mat rgb;
    try {
      face = SourceFace(store, *source->second);
      rgb = ReadImageFile(request.dataset_root / source->second->image_path).rgb;
    } catch (const Error& error) {
      record_failure(error, members.size());
      continue;
    }

    for (const Sample* member : members) {
      try {
        const cv::Mat picture = member->id == source_id
                                    ? CropFace(rgb, face.box)
                                    : RenderSyntheticFace(*member, rgb, face, finder, request.landmark_model);
        const std::string relative = fmt::format("thumbs/{}.jpg", member->id);
        WriteThumbnail(picture, request.out / relative, kThumbnailSize);
        thumbnails[member->id] = relative;
      } catch (const Error& error) {
        record_failure(error, 1);
      }
    }
  }
  if (missing > 0) {
    Logger().warn("{} of {} projection points have no thumbnail; the first cause: {}", missing, chosen.size(),
                  first_error);
  }
  return thumbnails;
}

}  // namespace

json ProjectionJson(const Store& store, const std::vector<Sample>& samples, const ProjectionRequest& request) {
  std::map<std::string, int> count_of;
  for (const Sample& sample : samples) ++count_of[sample.identity];
  std::vector<std::pair<int, std::string>> by_size;
  for (const auto& [name, count] : count_of) by_size.emplace_back(-count, name);
  std::sort(by_size.begin(), by_size.end());
  std::set<std::string> shown;
  int total = 0;
  for (const auto& [negative_count, name] : by_size) {
    if (total - negative_count > request.max_points && !shown.empty()) break;
    shown.insert(name);
    total -= negative_count;
  }

  std::vector<const Sample*> chosen;
  std::vector<float> vectors;
  std::vector<std::uint8_t> fit;
  for (const Sample& sample : samples) {
    if (!shown.count(sample.identity)) continue;
    chosen.push_back(&sample);
    vectors.insert(vectors.end(), sample.embedding.begin(), sample.embedding.end());
    fit.push_back(sample.kind == SampleKind::kReal ? 1 : 0);
  }
  const bool tsne = request.method == "tsne";
  TsneOptions tsne_options;
  tsne_options.seed = request.seed;
  const Projection2d projection =
      tsne ? ProjectTsne(vectors, kEmbeddingDim, tsne_options) : ProjectPca(vectors, kEmbeddingDim, fit);
  const std::map<SampleId, std::string> thumbnails = WriteThumbnails(store, samples, chosen, request);

  json points = json::array();
  for (std::size_t i = 0; i < chosen.size(); ++i) {
    const Sample& sample = *chosen[i];
    const bool synthetic = sample.kind == SampleKind::kSynthetic;
    json point = {{"x", projection.points[i][0]},
                  {"y", projection.points[i][1]},
                  {"identity", sample.identity},
                  {"kind", synthetic ? "synthetic" : "real"},
                  {"sample_id", sample.id},
                  {"file", synthetic ? fmt::format("synthetic from sample {} ({})", sample.synthetic->source_sample,
                                                   sample.image_path)
                                     : sample.image_path}};
    if (const auto thumbnail = thumbnails.find(sample.id); thumbnail != thumbnails.end()) {
      point["thumbnail"] = thumbnail->second;
    }
    points.push_back(std::move(point));
  }
  std::string note =
      tsne ? fmt::format("t-SNE of the real and synthetic samples together (perplexity {:.3g}, {} iterations, seed {}), "
                         "so both share one picture. Neighbourhoods are meaningful, but distances between clusters and "
                         "cluster sizes are not.",
                         EffectiveTsnePerplexity(tsne_options.perplexity, chosen.size()), tsne_options.iterations,
                         request.seed)
           : "PCA fitted on the real samples; synthetic samples are projected on the same axes, so both share one "
             "picture.";
  note += " Each point shows its own face: a synthetic sample's is made again from its source photograph and its "
          "stored parameters.";
  if (shown.size() < count_of.size()) {
    note += fmt::format(" Showing the {} identities with the most samples ({} of {}).", shown.size(), total,
                        samples.size());
  }
  json result = {{"method", request.method}, {"fitted_on", tsne ? "all" : "real"}, {"note", note}, {"points", points}};
  if (tsne) {
    result["perplexity"] = EffectiveTsnePerplexity(tsne_options.perplexity, chosen.size());
    result["seed"] = request.seed;
  } else {
    result["explained_variance"] = projection.explained_variance;
  }
  return result;
}

// Contact sheets written by augment under OUT/synthetic, copied beside the report.
json ContactSheetsJson(const fs::path& synthetic_dir, const fs::path& out, int max_sheets) {
  json sheets = json::array();
  if (!fs::is_directory(synthetic_dir)) return sheets;
  std::vector<fs::path> found;
  for (const auto& entry : fs::recursive_directory_iterator(synthetic_dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && name.find("contact") != std::string::npos) found.push_back(entry.path());
  }
  std::sort(found.begin(), found.end());
  for (const fs::path& file : found) {
    if (static_cast<int>(sheets.size()) >= max_sheets) break;
    const std::string relative = fs::relative(file, out).generic_string();
    std::string identity = file.parent_path() == synthetic_dir ? file.stem().string()
                                                               : file.parent_path().filename().string();
    sheets.push_back({{"identity", identity}, {"image", relative},
                      {"caption", "each row: the original face, then its synthetic variants"}});
  }
  return sheets;
}

}  // namespace facespace::cli
