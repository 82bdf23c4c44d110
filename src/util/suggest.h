// "Did you mean" for names people type: the candidates closest to a word.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace hardway {

// Optimal string alignment distance: Levenshtein plus adjacent
// transpositions, so "pod_cdir" is one edit from "pod_cidr".
size_t EditDistance(std::string_view a, std::string_view b);

// Up to `max` candidates that look like what `word` meant, best first: those
// within a typo's distance (about a third of the word, at least 1, at most 3
// edits; case ignored), then those containing `word` (3+ characters), so
// "node-0" finds "kubelet-node-0". Ties keep the candidates' order; no
// duplicates.
std::vector<std::string> ClosestMatches(
    std::string_view word, const std::vector<std::string>& candidates,
    size_t max = 3);

}  // namespace hardway
