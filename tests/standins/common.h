// Shared vocabulary of the stand-ins: an error is a sentence for the journal,
// because a stand-in's only job when something is wrong is to say precisely
// what, on stderr.
#pragma once

#include <expected>
#include <string>

namespace standin {

template <typename T>
using Result = std::expected<T, std::string>;
using Status = std::expected<void, std::string>;

inline std::unexpected<std::string> Fail(std::string message) {
  return std::unexpected(std::move(message));
}

// What the stand-ins report as their version (the release hardway targets by
// default).
inline constexpr const char* kVersion = "v1.32.3-standin";

}  // namespace standin
