// Benchmarks of the vector store; docs/benchmarks.md has the figures.
//
//   store_bench search [--sizes 10000,100000,1000000] [--queries 1000] [--seed 1] [--threads 1]
//                      [--build-threads N] [--like STORE]
//     Builds exact (Flat), HNSW32 and IVF indexes over synthetic 128-d vectors
//     clustered like identities, and reports queries/s (one query per call),
//     recall@10 against the exact index, and bytes per vector. --threads sets
//     the OpenMP threads of searching (default 1) and --build-threads those of
//     building (default: as --threads). --like fits the spread of identity
//     centres and of samples around them to the real samples of STORE.
//     Without it both spreads are isotropic.
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
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <opencv2/core.hpp>

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

// The spread of the synthetic vectors. Each identity has a centre and
// kSamplesPerIdentity samples around it: centre = mean + centre_map * z and
// sample = centre + sample_map * z, with z standard normal. Empty maps mean the
// isotropic spreads of MakeData.
struct DataShape {
  std::string description;
  cv::Mat mean;        // 1 x kDimension, CV_32F
  cv::Mat centre_map;  // kDimension x kDimension, CV_32F
  cv::Mat sample_map;
};

struct ClusteredData {
  std::vector<float> base;
  std::vector<float> queries;
};

// Returns the participation ratio (sum of eigenvalues)^2 / (sum of squares):
// the number of equally strong directions that would give the same spread.
double EffectiveDimensions(const cv::Mat& eigenvalues) {
  double sum = 0;
  double squares = 0;
  for (int i = 0; i < eigenvalues.rows; ++i) {
    sum += eigenvalues.at<double>(i);
    squares += eigenvalues.at<double>(i) * eigenvalues.at<double>(i);
  }
  return squares > 0 ? sum * sum / squares : 0;
}

// Returns V * diag(sqrt(max(eigenvalue, 0))) for a symmetric covariance, so
// that map * z has that covariance, and sets `eigenvalues`.
cv::Mat CovarianceMap(const cv::Mat& covariance, cv::Mat& eigenvalues) {
  cv::Mat vectors;
  cv::eigen(covariance, eigenvalues, vectors);
  eigenvalues = cv::max(eigenvalues, 0.0);
  cv::Mat map = vectors.t();
  for (int j = 0; j < map.cols; ++j) map.col(j) *= std::sqrt(eigenvalues.at<double>(j));
  cv::Mat map32;
  map.convertTo(map32, CV_32F);
  return map32;
}

// Fits DataShape to the real samples of the store at `directory`: the pooled
// covariance of samples around their identity's mean, and the covariance of
// the identity means less the part that sampling noise adds to a mean.
// Identities with one sample are left out.
DataShape ShapeOfStore(const std::filesystem::path& directory) {
  const Store store = Store::Open(directory);
  if (store.config().dimension != kDimension) {
    throw Error(ErrorCategory::kMismatch, fmt::format("{}: the store's embeddings have {} dimensions, expected {}",
                                                      directory.string(), store.config().dimension, kDimension));
  }
  SampleFilter filter;
  filter.kind = SampleKind::kReal;
  std::map<IdentityId, std::vector<const Sample*>> groups;
  const std::vector<Sample> samples = store.ListSamples(filter);
  for (const Sample& sample : samples) groups[sample.identity_id].push_back(&sample);

  cv::Mat within = cv::Mat::zeros(kDimension, kDimension, CV_64F);
  cv::Mat means(0, kDimension, CV_64F);
  double noise_share = 0;  // sum over identities of 1 / (samples of the identity)
  std::size_t used = 0;
  for (const auto& [identity, members] : groups) {
    if (members.size() < 2) continue;
    cv::Mat rows(static_cast<int>(members.size()), kDimension, CV_64F);
    for (std::size_t i = 0; i < members.size(); ++i) {
      for (int d = 0; d < kDimension; ++d) rows.at<double>(static_cast<int>(i), d) = members[i]->embedding[d];
    }
    cv::Mat mean;
    cv::reduce(rows, mean, 0, cv::REDUCE_AVG);
    const cv::Mat centred = rows - cv::repeat(mean, rows.rows, 1);
    within += centred.t() * centred;
    means.push_back(mean);
    noise_share += 1.0 / members.size();
    used += members.size();
  }
  const int identities = means.rows;
  if (identities < 2) {
    throw Error(ErrorCategory::kInvalidArgument,
                fmt::format("{}: --like needs at least two identities with two or more real samples each",
                            directory.string()));
  }
  within /= static_cast<double>(used - identities);

  cv::Mat between;
  cv::Mat grand_mean;
  cv::calcCovarMatrix(means, between, grand_mean, cv::COVAR_NORMAL | cv::COVAR_ROWS | cv::COVAR_SCALE);
  between *= static_cast<double>(identities) / (identities - 1);
  between -= within * (noise_share / identities);

  DataShape shape;
  cv::Mat within_eigenvalues;
  cv::Mat between_eigenvalues;
  shape.sample_map = CovarianceMap(within, within_eigenvalues);
  shape.centre_map = CovarianceMap(between, between_eigenvalues);
  grand_mean.convertTo(shape.mean, CV_32F);
  shape.description = fmt::format(
      "fitted to {} real samples of {} identities in {}: samples {:.3f} apart within an identity and centres "
      "{:.3f} apart (root mean square, plain L2); effective dimensions {:.1f} within, {:.1f} between",
      used, identities, directory.string(), std::sqrt(2 * cv::sum(within_eigenvalues)[0]),
      std::sqrt(2 * cv::sum(between_eigenvalues)[0]), EffectiveDimensions(within_eigenvalues),
      EffectiveDimensions(between_eigenvalues));
  return shape;
}

// Returns `count` base vectors, kSamplesPerIdentity per identity, and
// `query_count` queries, each a new sample of a random identity.
ClusteredData MakeData(std::size_t count, std::size_t query_count, std::uint64_t seed, const DataShape& shape) {
  std::mt19937_64 generator(seed);
  const std::size_t identities = std::max<std::size_t>(1, count / kSamplesPerIdentity);
  ClusteredData data;
  data.base.reserve(count * kDimension);
  std::uniform_int_distribution<std::size_t> pick(0, identities - 1);

  if (shape.centre_map.empty()) {
    // Isotropic: identity centres about 1.0 apart (plain L2) and samples about
    // 0.4 from each other within an identity. On LFW under dlib's ResNet the
    // samples of one identity lie 0.44 apart, but identity means only 0.70.
    std::normal_distribution<float> centre_noise(0.0f, 0.0625f);
    std::normal_distribution<float> sample_noise(0.0f, 0.025f);
    std::vector<float> centres(identities * kDimension);
    for (float& value : centres) value = centre_noise(generator);
    const auto sample = [&](std::vector<float>& out, std::size_t identity) {
      for (int d = 0; d < kDimension; ++d) out.push_back(centres[identity * kDimension + d] + sample_noise(generator));
    };
    for (std::size_t i = 0; i < count; ++i) sample(data.base, i % identities);
    for (std::size_t i = 0; i < query_count; ++i) sample(data.queries, pick(generator));
    return data;
  }

  // Rows of standard normal noise times a map's transpose give rows with the
  // map's covariance.
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const auto spread = [&](std::size_t rows, const cv::Mat& map) {
    cv::Mat noise(static_cast<int>(rows), kDimension, CV_32F);
    for (int r = 0; r < noise.rows; ++r) {
      for (int d = 0; d < kDimension; ++d) noise.at<float>(r, d) = normal(generator);
    }
    cv::Mat out;
    cv::gemm(noise, map, 1.0, cv::noArray(), 0.0, out, cv::GEMM_2_T);
    return out;
  };
  cv::Mat centres = spread(identities, shape.centre_map);
  centres += cv::repeat(shape.mean, centres.rows, 1);
  const auto append = [&](std::vector<float>& out, const std::vector<std::size_t>& owners) {
    constexpr std::size_t kBlock = 65536;
    for (std::size_t begin = 0; begin < owners.size(); begin += kBlock) {
      const std::size_t end = std::min(owners.size(), begin + kBlock);
      const cv::Mat offsets = spread(end - begin, shape.sample_map);
      for (std::size_t i = begin; i < end; ++i) {
        const float* centre = centres.ptr<float>(static_cast<int>(owners[i]));
        const float* offset = offsets.ptr<float>(static_cast<int>(i - begin));
        for (int d = 0; d < kDimension; ++d) out.push_back(centre[d] + offset[d]);
      }
    }
  };
  std::vector<std::size_t> owners(count);
  for (std::size_t i = 0; i < count; ++i) owners[i] = i % identities;
  append(data.base, owners);
  owners.resize(query_count);
  for (std::size_t& owner : owners) owner = pick(generator);
  append(data.queries, owners);
  return data;
}

struct Measured {
  double build_seconds = 0;
  double queries_per_second = 0;
  double recall = 1;
  double bytes_per_vector = 0;
};

// Threads that build the indexes and threads that search them, both set by main().
int build_threads = 1;
int search_threads = 1;

VectorIndex Build(const IndexSpec& spec, const std::vector<float>& base, double& seconds) {
  omp_set_num_threads(build_threads);
  const Clock::time_point start = Clock::now();
  VectorIndex index(kDimension, spec);
  const std::size_t count = base.size() / kDimension;
  std::vector<SampleId> ids(count);
  for (std::size_t i = 0; i < count; ++i) ids[i] = static_cast<SampleId>(i);
  index.Add(ids, base);
  seconds = Seconds(start);
  omp_set_num_threads(search_threads);
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

int RunSearch(const std::vector<std::size_t>& sizes, std::size_t query_count, std::uint64_t seed,
              const DataShape& shape) {
  std::cout << fmt::format("search benchmark: {}-d clustered vectors ({} per identity), {} queries, seed {}, "
                           "{} build thread(s), {} search thread(s), one query per call for queries/s\n",
                           kDimension, kSamplesPerIdentity, query_count, seed, build_threads, search_threads);
  std::cout << "data: " << shape.description << "\n";
  std::cout << fmt::format("{:>8} {:<28} {:>9} {:>10} {:>9} {:>8} {:>8}\n", "vectors", "index", "build s",
                           "queries/s", "vs exact", "recall10", "B/vector");
  for (const std::size_t count : sizes) {
    const ClusteredData data = MakeData(count, query_count, seed, shape);
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
      search_threads = std::stoi(option("--threads", "1"));
      build_threads = std::stoi(option("--build-threads", std::to_string(search_threads)));
      omp_set_num_threads(search_threads);
      DataShape shape;
      shape.description = "isotropic: samples about 0.4 apart within an identity, centres about 1.0 apart (plain L2)";
      const std::string like = option("--like", "");
      if (!like.empty()) shape = ShapeOfStore(like);
      return RunSearch(ParseSizes(option("--sizes", "10000,100000,1000000")), std::stoul(option("--queries", "1000")),
                       std::stoull(option("--seed", "1")), shape);
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
  std::cerr << "usage: store_bench search [--sizes N,N,...] [--queries Q] [--seed S] [--threads T] "
               "[--build-threads T] [--like STORE]\n"
               "       store_bench ingest --lfw DIR [--pipeline-images N]\n";
  return 2;
}
