#include "util/duration.h"

#include <cctype>
#include <limits>

namespace hardway {

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  long double total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return std::nullopt;
    long double value = 0;
    try {
      value = std::stold(std::string(text.substr(start, i - start)));
    } catch (...) {
      return std::nullopt;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    long double factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1000;
    else if (unit == "m") factor = 60'000;
    else if (unit == "h") factor = 3'600'000;
    else if (unit == "d") factor = 86'400'000;
    else return std::nullopt;
    total_ms += value * factor;
    if (total_ms > static_cast<long double>(std::numeric_limits<long long>::max() / 2)) return std::nullopt;
  }
  return std::chrono::milliseconds(static_cast<long long>(total_ms));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  long long ms = d.count();
  if (ms < 0) return "-" + FormatDuration(std::chrono::milliseconds(-ms));
  if (ms < 1000) return std::to_string(ms) + "ms";
  long long s = ms / 1000;
  long long days = s / 86400, hours = (s % 86400) / 3600, mins = (s % 3600) / 60, secs = s % 60;
  if (days > 0) return std::to_string(days) + "d " + std::to_string(hours) + "h";
  if (hours > 0) return std::to_string(hours) + "h " + std::to_string(mins) + "m";
  if (mins > 0) return std::to_string(mins) + "m " + std::to_string(secs) + "s";
  return std::to_string(secs) + "s";
}

}  // namespace hardway
