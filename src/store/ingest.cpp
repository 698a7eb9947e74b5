// Ingest: hash, skip what the store holds, embed through the pipeline, and
// commit one store transaction per batch.
#include <chrono>
#include <filesystem>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "facespace/error.h"
#include "facespace/ingest.h"
#include "facespace/log.h"
#include "facespace/pipeline.h"

namespace facespace {
namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Strips the "<source>: " prefix errors carry, so reasons group across files.
std::string ReasonOf(const std::string& message, const std::string& source) {
  const std::string prefix = source + ": ";
  return message.rfind(prefix, 0) == 0 ? message.substr(prefix.size()) : message;
}

// Names the ingest stage an image error belongs to.
std::string StageOf(const Error& error) {
  switch (error.category()) {
    case ErrorCategory::kIo:
    case ErrorCategory::kNotFound:
      return "read";
    case ErrorCategory::kDecode:
      return "decode";
    case ErrorCategory::kNoFace:
      return "detect";
    default:
      return "embed";
  }
}

// Runs the pipeline on a batch. ProcessFiles throws when embedding fails for
// the batch as a whole, so the batch is then retried one file at a time and
// only the files that still fail carry the error.
std::vector<ImageResult> ProcessBatch(const Pipeline& pipeline, const std::vector<std::filesystem::path>& paths) {
  if (paths.empty()) return {};
  try {
    return pipeline.ProcessFiles(paths);
  } catch (const Error& error) {
    Logger().warn("a batch of {} images failed ({}); retrying them one at a time", paths.size(), error.what());
  }
  std::vector<ImageResult> results;
  for (const std::filesystem::path& path : paths) {
    try {
      results.push_back(std::move(pipeline.ProcessFiles(std::span<const std::filesystem::path>(&path, 1)).front()));
    } catch (const Error& error) {
      ImageResult failed;
      failed.source = path.string();
      failed.error = error;
      results.push_back(std::move(failed));
    }
  }
  return results;
}

struct PendingFile {
  const DatasetFile* file;
  std::string sha256;
  std::int64_t size_bytes;
};

class BatchWriter {
 public:
  BatchWriter(Store& store, IngestSummary& summary) : store_(store), summary_(summary) {}

  void RecordFailure(const std::string& file, const std::string& stage, const std::string& reason) {
    store_.AddFailure(summary_.run, file, stage, reason);
    ++summary_.failures_by_reason[stage + ": " + reason];
  }

  void Write(const PendingFile& pending, const ImageResult& result) {
    const DatasetFile& file = *pending.file;
    ImageRecord image;
    image.identity_id = store_.AddIdentity(file.identity);
    image.relative_path = file.relative_path;
    image.sha256 = pending.sha256;
    image.size_bytes = pending.size_bytes;
    image.width = result.width;
    image.height = result.height;
    if (result.error) {
      image.status = ImageStatus::kDecodeFailed;
      store_.AddImage(image);
      RecordFailure(file.relative_path, StageOf(*result.error), ReasonOf(result.error->what(), result.source));
      return;
    }
    if (result.faces.empty()) {
      image.status = ImageStatus::kNoFace;
      store_.AddImage(image);
      RecordFailure(file.relative_path, "detect", "no face found");
      return;
    }
    image.status = ImageStatus::kOk;
    const ImageId image_id = store_.AddImage(image);
    for (const EmbeddedFace& embedded : result.faces) WriteFace(file, image.identity_id, image_id, embedded);
  }

 private:
  void WriteFace(const DatasetFile& file, IdentityId identity, ImageId image, const EmbeddedFace& embedded) {
    FaceRecord face;
    face.image_id = image;
    face.box = embedded.face.box;
    face.detector_score = embedded.face.detector_score;
    face.fallback = embedded.face.fallback;
    face.landmarks.reserve(embedded.face.landmarks.size() * 2);
    for (const cv::Point2f& point : embedded.face.landmarks) {
      face.landmarks.push_back(point.x);
      face.landmarks.push_back(point.y);
    }
    const FaceId face_id = store_.AddFace(face);
    try {
      store_.AddRealSample(identity, face_id, embedded.embedding, summary_.run);
    } catch (const Error& error) {
      if (error.category() != ErrorCategory::kInvalidArgument) throw;
      RecordFailure(file.relative_path, "embed", ReasonOf(error.what(), "embedding of face " + std::to_string(face_id)));
      return;
    }
    ++summary_.faces;
    if (face.fallback) ++summary_.fallbacks;
  }

  Store& store_;
  IngestSummary& summary_;
};

}  // namespace

IngestSummary Ingest(const DatasetScan& scan, const Pipeline& pipeline, Store& store,
                     const IngestOptions& options) {
  const Clock::time_point start = Clock::now();
  IngestSummary summary;
  summary.scan = scan;
  double store_seconds = 0;
  const auto timed = [&store_seconds](auto&& action) {
    const Clock::time_point begin = Clock::now();
    action();
    store_seconds += SecondsSince(begin);
  };

  nlohmann::json params = {{"files", scan.files.size()},
                           {"model_id", pipeline.model_info().model_id},
                           {"fallback_box", pipeline.options().detect.fallback_box},
                           {"batch_size", options.batch_size}};
  timed([&] {
    summary.run = store.BeginRun("ingest", params.dump());
    store.Commit();
  });

  BatchWriter writer(store, summary);

  // First hash every file and look it up, so the progress counts only the
  // images this run embeds and a resumed run shows its true time left.
  std::vector<PendingFile> pending;
  std::unordered_set<std::string> hashes_this_run;
  for (const DatasetFile& file : scan.files) {
    std::string sha256;
    std::int64_t size_bytes = 0;
    const Clock::time_point hash_start = Clock::now();
    try {
      sha256 = Sha256File(file.path);
      size_bytes = static_cast<std::int64_t>(std::filesystem::file_size(file.path));
    } catch (const std::exception& error) {
      timed([&] { writer.RecordFailure(file.relative_path, "read", ReasonOf(error.what(), file.path.string())); });
      continue;
    }
    summary.hash_seconds += SecondsSince(hash_start);
    bool known = false;
    timed([&] { known = store.FindImageByHash(sha256).has_value(); });
    if (known || !hashes_this_run.insert(sha256).second) {
      ++summary.already_stored;
      continue;
    }
    pending.push_back({&file, sha256, size_bytes});
  }
  timed([&] { store.Commit(); });

  const std::int64_t total = static_cast<std::int64_t>(pending.size());
  const std::size_t batch_size = static_cast<std::size_t>(std::max(1, options.batch_size));
  for (std::size_t begin = 0; begin < pending.size(); begin += batch_size) {
    const std::size_t end = std::min(pending.size(), begin + batch_size);
    std::vector<std::filesystem::path> paths;
    for (std::size_t i = begin; i < end; ++i) paths.push_back(pending[i].file->path);

    const std::vector<ImageResult> results = ProcessBatch(pipeline, paths);
    timed([&] {
      for (std::size_t i = begin; i < end; ++i) writer.Write(pending[i], results[i - begin]);
      store.Commit();
    });
    summary.images += static_cast<std::int64_t>(end - begin);
    if (options.on_progress) options.on_progress(static_cast<std::int64_t>(end), total);
  }

  timed([&] {
    store.FinishRun(summary.run, "ok");
    store.Commit();
    summary.single_image_identities = store.Info().single_image_identities;
  });
  summary.seconds = SecondsSince(start);
  summary.store_seconds = store_seconds;
  Logger().info("ingest: {} images, {} faces, {:.1f} s ({:.2f} s in store writes)", summary.images, summary.faces,
                summary.seconds, summary.store_seconds);
  return summary;
}

}  // namespace facespace
