// Reading labelled embeddings out of a store.
#include <map>

#include "facespace/compare.h"
#include "facespace/error.h"

namespace facespace {

std::string_view SampleSubsetName(SampleSubset subset) {
  switch (subset) {
    case SampleSubset::kReal: return "real";
    case SampleSubset::kSynthetic: return "synthetic";
    case SampleSubset::kAll: return "all";
  }
  return "unknown";
}

SampleSubset ParseSampleSubset(std::string_view text) {
  if (text == "real") return SampleSubset::kReal;
  if (text == "synthetic") return SampleSubset::kSynthetic;
  if (text == "all") return SampleSubset::kAll;
  throw Error(ErrorCategory::kInvalidArgument,
              "subset '" + std::string(text) + "': expected real, synthetic or all");
}

LabeledEmbeddings LoadStoreEmbeddings(const Store& store, SampleSubset subset) {
  SampleFilter filter;
  if (subset == SampleSubset::kReal) filter.kind = SampleKind::kReal;
  if (subset == SampleSubset::kSynthetic) filter.kind = SampleKind::kSynthetic;
  const std::vector<Sample> samples = store.ListSamples(filter);
  if (samples.empty()) {
    throw Error(ErrorCategory::kInvalidArgument,
                store.directory().string() + ": the store has no " +
                    std::string(SampleSubsetName(subset)) + " samples to analyse");
  }

  LabeledEmbeddings data;
  data.dimension = store.config().dimension;
  std::map<std::string, std::int32_t> label_of;
  for (const Identity& identity : store.ListIdentities()) label_of.emplace(identity.name, 0);
  for (auto& [name, label] : label_of) {
    label = std::int32_t(data.identity_names.size());
    data.identity_names.push_back(name);
  }
  data.vectors.reserve(samples.size() * std::size_t(data.dimension));
  for (const Sample& sample : samples) {
    if (sample.embedding.size() != std::size_t(data.dimension)) {
      throw Error(ErrorCategory::kCorrupt, store.directory().string() + ": sample " +
                                               std::to_string(sample.id) + " has " +
                                               std::to_string(sample.embedding.size()) +
                                               " embedding values, expected " +
                                               std::to_string(data.dimension));
    }
    const auto found = label_of.find(sample.identity);
    if (found == label_of.end()) {
      throw Error(ErrorCategory::kCorrupt, store.directory().string() + ": sample " +
                                               std::to_string(sample.id) + " names unknown identity '" +
                                               sample.identity + "'");
    }
    data.labels.push_back(found->second);
    data.vectors.insert(data.vectors.end(), sample.embedding.begin(), sample.embedding.end());
    data.synthetic.push_back(sample.kind == SampleKind::kSynthetic ? 1 : 0);
    data.sample_ids.push_back(sample.id);
  }
  return data;
}

}  // namespace facespace
