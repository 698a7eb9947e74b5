// Checks on vectors before they reach an index or the database.
#ifndef FACESPACE_SRC_STORE_VECTOR_CHECKS_H_
#define FACESPACE_SRC_STORE_VECTOR_CHECKS_H_

#include <span>
#include <string>

#include "facespace/distance.h"

namespace facespace {

// Throws Error(kInvalidArgument) "<subject>: ..." when `vector` has a NaN or
// infinite component or is all zeros (no face embedding is the zero vector,
// and it has no direction for cosine).
void CheckEmbedding(std::span<const float> vector, const std::string& subject);

// Throws Error(kInvalidArgument) when `query` has a NaN or infinite component,
// or is all zeros under the cosine metric.
void CheckQuery(std::span<const float> query, Metric metric);

// Scales `vector` to unit L2 length; a zero vector is left unchanged.
void NormaliseInPlace(std::span<float> vector);

}  // namespace facespace

#endif  // FACESPACE_SRC_STORE_VECTOR_CHECKS_H_
