// Export of a store's embeddings and metadata for NumPy, spreadsheets and
// TensorBoard's embedding projector.
#include <fstream>

#include <fmt/format.h>

#include "facespace/error.h"
#include "facespace/store.h"

namespace facespace {
namespace {

std::ofstream OpenForWriting(const std::filesystem::path& file) {
  std::ofstream stream(file, std::ios::binary | std::ios::trunc);
  if (!stream) throw Error(ErrorCategory::kIo, file.string() + ": cannot create");
  return stream;
}

void Finish(std::ofstream& stream, const std::filesystem::path& file) {
  stream.flush();
  if (!stream) throw Error(ErrorCategory::kIo, file.string() + ": write failed");
}

// Quotes a CSV field when it contains a comma, quote or line break (RFC 4180).
std::string CsvField(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string TsvField(std::string text) {
  for (char& c : text) {
    if (c == '\t' || c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

void WriteNpy(const std::filesystem::path& file, const std::vector<Sample>& samples, int dimension) {
  std::string header = fmt::format("{{'descr': '<f4', 'fortran_order': False, 'shape': ({}, {}), }}",
                                   samples.size(), dimension);
  // Magic (6) + version (2) + length (2) + header + '\n' is padded to a multiple of 64.
  const std::size_t unpadded = 10 + header.size() + 1;
  header.append((64 - unpadded % 64) % 64, ' ');
  header.push_back('\n');
  std::ofstream stream = OpenForWriting(file);
  stream.write("\x93NUMPY\x01\x00", 8);
  const auto length = static_cast<std::uint16_t>(header.size());
  const char length_bytes[2] = {static_cast<char>(length & 0xff), static_cast<char>(length >> 8)};
  stream.write(length_bytes, 2);
  stream.write(header.data(), static_cast<std::streamsize>(header.size()));
  for (const Sample& sample : samples) {
    stream.write(reinterpret_cast<const char*>(sample.embedding.data()),
                 static_cast<std::streamsize>(sample.embedding.size() * sizeof(float)));
  }
  Finish(stream, file);
}

}  // namespace

ExportSummary ExportStore(const Store& store, const std::filesystem::path& out_dir, const SampleFilter& filter) {
  std::error_code error;
  std::filesystem::create_directories(out_dir, error);
  if (error) throw Error(ErrorCategory::kIo, out_dir.string() + ": cannot create directory: " + error.message());
  SampleFilter with_vectors = filter;
  with_vectors.with_embeddings = true;
  const std::vector<Sample> samples = store.ListSamples(with_vectors);

  ExportSummary summary;
  summary.rows = samples.size();
  summary.files = {out_dir / "embeddings.npy", out_dir / "metadata.csv", out_dir / "vectors.tsv",
                   out_dir / "metadata.tsv"};
  WriteNpy(summary.files[0], samples, store.config().dimension);

  std::ofstream csv = OpenForWriting(summary.files[1]);
  csv << "row,sample_id,identity,identity_id,kind,image_path,source_sample,recipe,seed\n";
  std::ofstream vectors = OpenForWriting(summary.files[2]);
  std::ofstream labels = OpenForWriting(summary.files[3]);
  labels << "identity\tkind\tsample_id\n";
  for (std::size_t row = 0; row < samples.size(); ++row) {
    const Sample& sample = samples[row];
    const bool synthetic = sample.synthetic.has_value();
    csv << row << ',' << sample.id << ',' << CsvField(sample.identity) << ',' << sample.identity_id << ','
        << SampleKindName(sample.kind) << ',' << CsvField(sample.image_path) << ','
        << (synthetic ? std::to_string(sample.synthetic->source_sample) : "") << ','
        << (synthetic ? CsvField(sample.synthetic->recipe) : "") << ','
        << (synthetic ? std::to_string(sample.synthetic->seed) : "") << '\n';
    for (std::size_t i = 0; i < sample.embedding.size(); ++i) {
      vectors << (i ? "\t" : "") << fmt::format("{:.9g}", sample.embedding[i]);
    }
    vectors << '\n';
    labels << TsvField(sample.identity) << '\t' << SampleKindName(sample.kind) << '\t' << sample.id << '\n';
  }
  Finish(csv, summary.files[1]);
  Finish(vectors, summary.files[2]);
  Finish(labels, summary.files[3]);
  return summary;
}

}  // namespace facespace
