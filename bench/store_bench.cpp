// Benchmarks of the vector store; docs/benchmarks.md has the figures.
//
//   store_bench search [--sizes 10000,100000,1000000] [--queries 1000] [--seed 1] [--threads 1]
//     Builds exact (Flat), HNSW32 and IVF indexes over synthetic 128-d vectors
//     clustered like identities, and reports queries/s (one query per call),
//     recall@10 against the exact index, and bytes per vector. --threads sets
//     the OpenMP threads of building and searching (default 1).
//   store_bench ingest --lfw DIR [--pipeline-images 200]
//     Times the store's share of ingesting every image under DIR: hashing,
//     lookups, inserts and commits with precomputed (synthetic) embeddings,
//     against the embedding pipeline's own time on a sample of the images.
#include <omp.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "facespace/embedding.h"
#include "facespace/error.h"
#include "facespace/face.h"
#include "facespace/ingest.h"
#include "facespace/pipeline.h"
#include "facespace/store.h"

namespace {

using namespace facespace;
using Clock = std::chrono::steady_clock;

constexpr int kDimension = 128;
constexpr int kSamplesPerIdentity = 10;
constexpr int kRecallK = 10;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

// Vectors clustered like face embeddings: identity centres about 1.0 apart
// (plain L2) and samples about 0.4 from each other within an identity, the
// scale of dlib's ResNet embeddings.
struct ClusteredData {
  std::vector<float> centres;
  std::vector<float> base;
  std::vector<float> queries;
};

ClusteredData MakeData(std::size_t count, std::size_t query_count, std::uint64_t seed) {
  std::mt19937_64 generator(seed);
  std::normal_distribution<float> centre_noise(0.0f, 0.0625f);
  std::normal_distribution<float> sample_noise(0.0f, 0.025f);
  ClusteredData data;
  const std::size_t identities = std::max<std::size_t>(1, count / kSamplesPerIdentity);
  data.centres.resize(identities * kDimension);
  for (float& value : data.centres) value = centre_noise(generator);
  const auto sample = [&](std::vector<float>& out, std::size_t identity) {
    for (int d = 0; d < kDimension; ++d) out.push_back(data.centres[identity * kDimension + d] + sample_noise(generator));
  };
  data.base.reserve(count * kDimension);
  for (std::size_t i = 0; i < count; ++i) sample(data.base, i % identities);
  std::uniform_int_distribution<std::size_t> pick(0, identities - 1);
  for (std::size_t i = 0; i < query_count; ++i) sample(data.queries, pick(generator));
  return data;
}

struct Measured {
  double build_seconds = 0;
  double queries_per_second = 0;
  double recall = 1;
  double bytes_per_vector = 0;
};

VectorIndex Build(const IndexSpec& spec, const std::vector<float>& base, double& seconds) {
  const Clock::time_point start = Clock::now();
  VectorIndex index(kDimension, spec);
  const std::size_t count = base.size() / kDimension;
  std::vector<SampleId> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = static_cast<SampleId>(i);
  index.Add(ids, base);
  seconds = Seconds(start);
  return index;
}

// Times one-query-per-call searches of the first `limit` queries.
double QueriesPerSecond(const VectorIndex& index, const std::vector<float>& queries, std::size_t limit) {
  const std::size_t count = std::min(limit, queries.size() / kDimension);
  const Clock::time_point start = Clock::now();
  for (std::size_t q = 0; q < count; ++q) {
    const auto hits = index.Search(std::span<const float>(queries).subspan(q * kDimension, kDimension), kRecallK);
    if (hits.empty()) std::abort();
  }
  return count / Seconds(start);
}

double Recall(const VectorIndex& index, const std::vector<float>& queries,
              const std::vector<std::vector<IndexHit>>& truth) {
  const auto found = index.SearchBatch(queries, kRecallK);
  std::size_t hits = 0;
  for (std::size_t q = 0; q < truth.size(); ++q) {
    std::set<SampleId> expected;
    for (const IndexHit& hit : truth[q]) expected.insert(hit.id);
    for (const IndexHit& hit : found[q]) hits += expected.count(hit.id);
  }
  return static_cast<double>(hits) / (truth.size() * kRecallK);
}

void PrintRow(std::size_t count, const std::string& name, const Measured& m, double exact_qps) {
  std::cout << fmt::format("{:>8} {:<28} {:>9.1f} {:>10.1f} {:>8.1f}x {:>8.4f} {:>8.0f}\n", count, name,
                           m.build_seconds, m.queries_per_second, m.queries_per_second / exact_qps, m.recall,
                           m.bytes_per_vector);
}

int RunSearch(const std::vector<std::size_t>& sizes, std::size_t query_count, std::uint64_t seed) {
  std::cout << fmt::format("search benchmark: {}-d clustered vectors ({} per identity), {} queries, seed {}, "
                           "one thread, one query per call for queries/s\n",
                           kDimension, kSamplesPerIdentity, query_count, seed);
  std::cout << fmt::format("{:>8} {:<28} {:>9} {:>10} {:>9} {:>8} {:>8}\n", "vectors", "index", "build s",
                           "queries/s", "vs exact", "recall10", "B/vector");
  for (const std::size_t count : sizes) {
    const ClusteredData data = MakeData(count, query_count, seed);
    Measured exact;
    const VectorIndex flat = Build(IndexSpec{}, data.base, exact.build_seconds);
    const auto truth = flat.SearchBatch(data.queries, kRecallK);
    // The exact index is slow at 1M vectors; time fewer queries there.
    exact.queries_per_second = QueriesPerSecond(flat, data.queries, count >= 1000000 ? 100 : query_count);
    exact.bytes_per_vector = static_cast<double>(flat.IndexBytes()) / count;
    PrintRow(count, "Flat (exact)", exact, exact.queries_per_second);

    IndexSpec hnsw;
    hnsw.factory = "HNSW32";
    Measured graph;
    VectorIndex graph_index = Build(hnsw, data.base, graph.build_seconds);
    graph.bytes_per_vector = static_cast<double>(graph_index.IndexBytes()) / count;
    for (const int ef : {16, 32, 64, 128, 256}) {
      IndexSpec tuned = hnsw;
      tuned.hnsw_ef_search = ef;
      // efSearch is a search-time parameter: reload the same graph with it.
      const VectorIndex searched = VectorIndex::Deserialize(kDimension, tuned, graph_index.Serialize());
      graph.queries_per_second = QueriesPerSecond(searched, data.queries, query_count);
      graph.recall = Recall(searched, data.queries, truth);
      PrintRow(count, fmt::format("HNSW32 efSearch={}", ef), graph, exact.queries_per_second);
    }

    const int cells = static_cast<int>(std::max<std::size_t>(16, static_cast<std::size_t>(std::sqrt(count))));
    IndexSpec ivf;
    ivf.factory = fmt::format("IVF{},Flat", cells);
    Measured inverted;
    VectorIndex ivf_index = Build(ivf, data.base, inverted.build_seconds);
    inverted.bytes_per_vector = static_cast<double>(ivf_index.IndexBytes()) / count;
    for (const int probes : {8, 32}) {
      IndexSpec tuned = ivf;
      tuned.ivf_nprobe = probes;
      const VectorIndex searched = VectorIndex::Deserialize(kDimension, tuned, ivf_index.Serialize());
      inverted.queries_per_second = QueriesPerSecond(searched, data.queries, query_count);
      inverted.recall = Recall(searched, data.queries, truth);
      PrintRow(count, fmt::format("{} nprobe={}", ivf.factory, probes), inverted, exact.queries_per_second);
    }
  }
  return 0;
}

int RunIngest(const std::filesystem::path& lfw, std::size_t pipeline_images) {
  const DatasetScan scan = ScanDataset(lfw);
  std::cout << fmt::format("ingest benchmark: {} images of {} identities under {}\n", scan.files.size(),
                           scan.identities, lfw.string());

  // Store side: everything ingest does except the pipeline, with a random embedding per image.
  const std::filesystem::path directory =
      std::filesystem::temp_directory_path() / fmt::format("facespace-store-bench-{}", ::getpid());
  std::filesystem::remove_all(directory);
  StoreConfig config;
  config.model_id = "bench";
  config.dimension = kDimension;
  std::mt19937 generator(1);
  std::normal_distribution<float> noise(0.0f, 0.06f);
  double hash_seconds = 0;
  double store_seconds = 0;
  {
    Store store = Store::Create(directory, config);
    Clock::time_point start = Clock::now();
    const RunId run = store.BeginRun("bench", "{}");
    store_seconds += Seconds(start);
    for (std::size_t i = 0; i < scan.files.size(); ++i) {
      const DatasetFile& file = scan.files[i];
      start = Clock::now();
      const std::string sha256 = Sha256File(file.path);
      const auto size = static_cast<std::int64_t>(std::filesystem::file_size(file.path));
      hash_seconds += Seconds(start);

      std::vector<float> embedding(kDimension);
      for (float& value : embedding) value = noise(generator);
      start = Clock::now();
      if (!store.FindImageByHash(sha256)) {
        ImageRecord image{0, store.AddIdentity(file.identity), file.relative_path, sha256, size, ImageStatus::kOk,
                          250, 250};
        FaceRecord face;
        face.image_id = store.AddImage(image);
        face.box = {60, 60, 189, 189};
        face.landmarks.assign(2 * kLandmarkCount, 100.0f);
        face.detector_score = 1.0;
        store.AddRealSample(image.identity_id, store.AddFace(face), embedding, run);
      }
      if ((i + 1) % 64 == 0) store.Commit();
      store_seconds += Seconds(start);
    }
    start = Clock::now();
    store.Commit();
    store_seconds += Seconds(start);
  }
  std::filesystem::remove_all(directory);
  std::cout << fmt::format("store writes and commits: {:.2f} s; SHA-256 hashing: {:.2f} s\n", store_seconds,
                           hash_seconds);

  // Pipeline side: decode, detect, align and embed a sample of the same images.
  PipelineOptions options;
  options.detect.fallback_box = true;
  Pipeline pipeline(DefaultModelPath(), DefaultLandmarkModelPath(), options);
  std::vector<std::filesystem::path> sample;
  const std::size_t step = std::max<std::size_t>(1, scan.files.size() / pipeline_images);
  for (std::size_t i = 0; i < scan.files.size() && sample.size() < pipeline_images; i += step) {
    sample.push_back(scan.files[i].path);
  }
  const Clock::time_point start = Clock::now();
  pipeline.ProcessFiles(sample);
  const double per_image = Seconds(start) / sample.size();
  const double pipeline_seconds = per_image * scan.files.size();
  const double total = pipeline_seconds + store_seconds + hash_seconds;
  std::cout << fmt::format("pipeline: {:.1f} images/s on {} images, so about {:.0f} s for all {}\n", 1.0 / per_image,
                           sample.size(), pipeline_seconds, scan.files.size());
  std::cout << fmt::format("store share of ingest time: {:.2f}% (store) + {:.2f}% (hashing) = {:.2f}%\n",
                           100 * store_seconds / total, 100 * hash_seconds / total,
                           100 * (store_seconds + hash_seconds) / total);
  return 0;
}

std::vector<std::size_t> ParseSizes(const std::string& text) {
  std::vector<std::size_t> sizes;
  std::size_t begin = 0;
  while (begin <= text.size()) {
    const std::size_t end = std::min(text.find(',', begin), text.size());
    sizes.push_back(std::stoul(text.substr(begin, end - begin)));
    begin = end + 1;
  }
  return sizes;
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  const auto option = [&args](const std::string& name, const std::string& fallback) {
    for (std::size_t i = 0; i + 1 < args.size(); ++i) {
      if (args[i] == name) return args[i + 1];
    }
    return fallback;
  };
  try {
    if (!args.empty() && args[0] == "search") {
      omp_set_num_threads(std::stoi(option("--threads", "1")));
      return RunSearch(ParseSizes(option("--sizes", "10000,100000,1000000")), std::stoul(option("--queries", "1000")),
                       std::stoull(option("--seed", "1")));
    }
    if (!args.empty() && args[0] == "ingest") {
      const std::string lfw = option("--lfw", "");
      if (lfw.empty()) throw Error(ErrorCategory::kInvalidArgument, "ingest: --lfw DIR is required");
      return RunIngest(lfw, std::stoul(option("--pipeline-images", "200")));
    }
  } catch (const Error& error) {
    std::cerr << "store_bench: error: " << error.what() << "\n";
    return 1;
  }
  std::cerr << "usage: store_bench search [--sizes N,N,...] [--queries Q] [--seed S]\n"
               "       store_bench ingest --lfw DIR [--pipeline-images N]\n";
  return 2;
}
