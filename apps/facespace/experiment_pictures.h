// Parts of the experiment report made from pictures: the 2-D projection with
// its hover thumbnails, and the contact sheets.
#ifndef FACESPACE_APPS_EXPERIMENT_PICTURES_H_
#define FACESPACE_APPS_EXPERIMENT_PICTURES_H_

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "facespace/store.h"

namespace facespace::cli {

struct ProjectionRequest {
  std::string method = "pca";                 // "pca" or "tsne"
  std::uint64_t seed = 1;                     // t-SNE's initial positions
  int max_points = 3000;                      // samples shown, whole identities at a time
  std::filesystem::path dataset_root;         // the store's relative image paths start here
  std::filesystem::path out;                  // the report folder; thumbnails go to out/thumbs
  std::filesystem::path landmark_model;       // cuts chips again for samples made on the chip
};

// Returns the report's projection section: PCA fitted on the real samples with
// the synthetic samples projected on the same axes, or t-SNE of real and
// synthetic samples together. With more than max_points samples, only the
// identities with the most samples are shown. Every shown sample gets a face
// thumbnail; a synthetic sample's is rendered again from its source picture
// and stored parameters.
nlohmann::json ProjectionJson(const Store& store, const std::vector<Sample>& samples,
                              const ProjectionRequest& request);

// Returns up to max_sheets contact sheets that augment wrote under
// synthetic_dir, with paths relative to out.
nlohmann::json ContactSheetsJson(const std::filesystem::path& synthetic_dir, const std::filesystem::path& out,
                                 int max_sheets);

}  // namespace facespace::cli

#endif  // FACESPACE_APPS_EXPERIMENT_PICTURES_H_
