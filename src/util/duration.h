#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace hardway {

// Parses Go/Kubernetes-style durations: "10s", "720h", "1h30m", "250ms", "87600h".
// Returns nullopt for anything else (no unit, negative, unknown unit, overflow).
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view text);

// "3d 4h", "12m 5s", "800ms": for people, not for parsing.
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace hardway
