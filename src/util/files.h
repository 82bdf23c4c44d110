// Local file helpers. Every file hardway writes goes through WriteFileAtomic so a crash never
// leaves a half-written file, and an unchanged file keeps its bytes and mtime.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "util/error.h"

namespace hardway {

// Writes `content` to `path` through a temporary file in the same folder and rename(2).
// When the file already holds exactly `content` with `mode`, nothing is touched and the
// result is false; otherwise true. Parent folders are created (0700).
Result<bool> WriteFileAtomic(const std::filesystem::path& path, std::string_view content,
                             std::filesystem::perms mode);

Result<std::string> ReadFile(const std::filesystem::path& path);

// Expands a leading "~/" with $HOME.
std::filesystem::path ExpandHome(const std::string& path);

// Folder holding playbooks/, units/ and playbooks/templates/: $HARDWAY_HOME, else the source
// tree hardway was built from, else <binary>/../share/hardway.
std::filesystem::path ResourceDir();

}  // namespace hardway
