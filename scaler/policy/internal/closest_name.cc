#include "scaler/policy/internal/closest_name.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace signalscaler {
namespace policy_internal {
namespace {

size_t EditDistance(absl::string_view a, absl::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string Normalize(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '_' && c != '-') out.push_back(absl::ascii_tolower(c));
  }
  return out;
}

}  // namespace

std::string ClosestName(absl::string_view given,
                        const std::vector<std::string>& candidates) {
  const std::string normalized = Normalize(given);
  for (const std::string& c : candidates) {
    if (Normalize(c) == normalized) return c;
  }
  std::string best;
  size_t best_distance = 3;  // Only suggest within edit distance 2.
  for (const std::string& c : candidates) {
    const size_t d = EditDistance(given, c);
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  return best;
}

}  // namespace policy_internal
}  // namespace signalscaler
