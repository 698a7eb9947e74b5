// The k nearest neighbours of every row, gathered from candidates offered in
// any order. Ties are broken by the smaller row index, so the lists equal
// those of a scan over each row's candidates in ascending index order.
#ifndef FACESPACE_SRC_ANALYSIS_NEAREST_LISTS_H_
#define FACESPACE_SRC_ANALYSIS_NEAREST_LISTS_H_

#include <cstdint>
#include <limits>
#include <vector>

namespace facespace::analysis {

// The k nearest candidates of every row, in the order (distance, row index).
class NearestLists {
 public:
  NearestLists(std::size_t rows, int k)
      : k_(k),
        distance_(rows * k),
        index_(rows * k),
        count_(rows, 0),
        bound_(rows, std::numeric_limits<float>::infinity()) {}

  // Distance a candidate must not exceed to enter the list of `row`.
  float bound(std::size_t row) const { return bound_[row]; }
  const float* bounds() const { return bound_.data(); }

  // Inserts (distance, index) into the list of `row` when it is among the k
  // smallest pairs offered so far.
  void Offer(std::size_t row, float distance, std::uint32_t index) {
    float* distances = distance_.data() + row * k_;
    std::uint32_t* indices = index_.data() + row * k_;
    int place = count_[row];
    if (place == k_) {
      const float last = distances[k_ - 1];
      if (distance > last || (distance == last && index > indices[k_ - 1])) return;
      place = k_ - 1;
    } else {
      ++count_[row];
    }
    while (place > 0 && (distance < distances[place - 1] ||
                         (distance == distances[place - 1] && index < indices[place - 1]))) {
      distances[place] = distances[place - 1];
      indices[place] = indices[place - 1];
      --place;
    }
    distances[place] = distance;
    indices[place] = index;
    if (count_[row] == k_) bound_[row] = distances[k_ - 1];
  }

  int count(std::size_t row) const { return count_[row]; }
  float distance(std::size_t row, int r) const { return distance_[row * k_ + r]; }
  std::uint32_t index(std::size_t row, int r) const { return index_[row * k_ + r]; }

 private:
  int k_;
  std::vector<float> distance_;
  std::vector<std::uint32_t> index_;
  std::vector<int> count_;
  std::vector<float> bound_;
};

}  // namespace facespace::analysis

#endif  // FACESPACE_SRC_ANALYSIS_NEAREST_LISTS_H_
