#include "util/suggest.h"

#include <algorithm>
#include <cctype>

namespace hardway {

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out)
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

}  // namespace

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1,
                                     std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] =
          std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

std::vector<std::string> ClosestMatches(
    std::string_view word, const std::vector<std::string>& candidates,
    size_t max) {
  const std::string lower = Lower(word);
  const size_t limit =
      std::max<size_t>(1, std::min<size_t>(3, lower.size() / 3));
  struct Scored {
    size_t score;
    size_t index;
  };
  std::vector<Scored> scored;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const std::string c = Lower(candidates[i]);
    const size_t d = EditDistance(lower, c);
    if (d <= limit) {
      scored.push_back({d, i});
    } else if (lower.size() >= 3 && c.find(lower) != std::string::npos) {
      scored.push_back({limit + 1, i});  // after every typo match
    }
  }
  std::stable_sort(
      scored.begin(), scored.end(),
      [](const Scored& a, const Scored& b) { return a.score < b.score; });
  std::vector<std::string> out;
  for (const Scored& s : scored) {
    if (out.size() == max) break;
    const std::string& c = candidates[s.index];
    if (std::find(out.begin(), out.end(), c) == out.end()) out.push_back(c);
  }
  return out;
}

}  // namespace hardway
