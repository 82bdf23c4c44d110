#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "util/error.h"

namespace hardway {

// Lower-case hex SHA-256 (OpenSSL EVP).
std::string Sha256Hex(std::string_view data);
Result<std::string> Sha256File(const std::filesystem::path& path);

}  // namespace hardway
