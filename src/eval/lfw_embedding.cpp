// Embedding of LFW images and distances of pairs.
#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/lfw.h"
#include "facespace/pipeline.h"

namespace facespace {
namespace {

void RequireBenchmarkOptions(const PipelineOptions& options) {
  if (options.aligned_input || !options.detect.fallback_box ||
      options.detect.policy == MultiFacePolicy::kAll) {
    throw Error(ErrorCategory::kInvalidArgument,
                "LFW embedding: the pipeline must detect faces, keep one face per image and fall "
                "back to the central box, so that every image yields one face");
  }
}

}  // namespace

LfwEmbeddingSet EmbedLfwImages(const Pipeline& pipeline, std::span<const LfwImage> images,
                               const std::filesystem::path& images_dir,
                               const std::function<void(std::size_t, std::size_t)>& on_done) {
  RequireBenchmarkOptions(pipeline.options());

  std::vector<std::filesystem::path> files;
  files.reserve(images.size());
  for (const LfwImage& image : images) files.push_back(LfwImagePath(images_dir, image));

  std::size_t done = 0;
  const std::vector<ImageResult> results = pipeline.ProcessFiles(files, [&](const ImageResult&) {
    ++done;
    if (on_done) on_done(done, files.size());
  });

  LfwEmbeddingSet set;
  std::vector<std::string> failures;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const ImageResult& result = results[i];
    if (result.error) {
      failures.push_back(result.error->what());
      continue;
    }
    if (result.faces.size() != 1) {
      failures.push_back(fmt::format("{}: expected one face, found {}", result.source, result.faces.size()));
      continue;
    }
    const EmbeddedFace& face = result.faces.front();
    set.images[images[i]] = LfwEmbedding{face.embedding, face.face.fallback};
    if (face.face.fallback) ++set.fallbacks;
  }

  if (!failures.empty()) {
    throw Error(ErrorCategory::kDecode,
                fmt::format("{} of {} LFW images failed, and no pair may be dropped: {}",
                            failures.size(), files.size(), fmt::join(failures, "; ")));
  }
  return set;
}

std::vector<ScoredPair> ScorePairs(std::span<const LfwPair> pairs, const LfwEmbeddingSet& embeddings,
                                   Metric metric) {
  auto find = [&](const LfwImage& image, int line) -> const Embedding& {
    const auto found = embeddings.images.find(image);
    if (found == embeddings.images.end()) {
      throw Error(ErrorCategory::kNotFound,
                  fmt::format("pair on line {}: image {} {} has no embedding", line, image.name, image.number));
    }
    return found->second.embedding;
  };

  std::vector<ScoredPair> scored;
  scored.reserve(pairs.size());
  for (const LfwPair& pair : pairs) {
    const Embedding& first = find(pair.first, pair.line);
    const Embedding& second = find(pair.second, pair.line);
    scored.push_back(ScoredPair{Distance(metric, first, second), pair.matched, pair.fold});
  }
  return scored;
}

VerificationCounts CountDecisions(std::span<const ScoredPair> pairs, double threshold) {
  VerificationCounts counts;
  for (const ScoredPair& pair : pairs) {
    const bool same = pair.distance < threshold;
    if (pair.matched) {
      ++(same ? counts.true_accepts : counts.false_rejects);
    } else {
      ++(same ? counts.false_accepts : counts.true_rejects);
    }
  }
  return counts;
}

}  // namespace facespace
