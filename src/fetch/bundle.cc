#include "fetch/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fetch/install.h"
#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace fs = std::filesystem;

namespace {

// Bundles are reproducible: the same artifacts make the same bytes, so the
// same cache folder.
constexpr time_t kBundleMtime = 946684800;  // 2000-01-01T00:00:00Z

std::string Normalize(std::string name) {
  while (name.starts_with("./")) name.erase(0, 2);
  return name;
}

// A relative path without "..", ".", or empty segments.
bool SafeRelative(const std::string& name) {
  if (name.empty() || name.starts_with('/')) return false;
  for (const auto& part : fs::path(name)) {
    if (part == ".." || part == "." || part.empty()) return false;
  }
  return true;
}

struct ReadArchive {
  archive* a = archive_read_new();
  ~ReadArchive() { archive_read_free(a); }
  std::string Error() const {
    const char* s = archive_error_string(a);
    return s ? s : "unreadable archive";
  }
};

bool IsHex64(const std::string& s) {
  return s.size() == 64 &&
         s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

std::string ManifestToJson(const ArtifactManifestJson& manifest) {
  nlohmann::json list = nlohmann::json::array();
  for (const ManifestEntry& e : manifest.entries) {
    list.push_back({{"path", e.path},
                    {"name", e.name},
                    {"release", e.release},
                    {"version", e.version},
                    {"arch", e.arch},
                    {"sha256", e.sha256},
                    {"url", e.url}});
  }
  nlohmann::json doc = {{"format", "hardway-artifacts/1"}, {"artifacts", list}};
  return doc.dump(2) + "\n";
}

Result<ArtifactManifestJson> ParseManifestJson(const std::string& text,
                                               const std::string& where) {
  nlohmann::json doc =
      nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("artifacts") ||
      !doc["artifacts"].is_array()) {
    return Fail(ErrorKind::kValidation,
                "not an artifact manifest (JSON with \"artifacts\": [...])",
                where, "it is written by `hardway fetch`; run it again");
  }
  ArtifactManifestJson out;
  std::set<std::string> paths;
  for (const auto& j : doc["artifacts"]) {
    auto str = [&](const char* key) {
      return j.is_object() && j.contains(key) && j[key].is_string()
                 ? j[key].get<std::string>()
                 : std::string();
    };
    ManifestEntry e{str("path"), str("name"),   str("release"), str("version"),
                    str("arch"), str("sha256"), str("url")};
    if (!SafeRelative(e.path) || !IsHex64(e.sha256)) {
      return Fail(ErrorKind::kValidation,
                  "manifest entry " + (e.path.empty() ? j.dump() : e.path) +
                      " needs a relative path and a sha256",
                  where);
    }
    if (!paths.insert(e.path).second) {
      return Fail(ErrorKind::kValidation, "manifest lists " + e.path + " twice",
                  where);
    }
    out.entries.push_back(std::move(e));
  }
  std::ranges::sort(out.entries, {}, &ManifestEntry::path);
  return out;
}

std::string ManifestToSha256Sums(const ArtifactManifestJson& manifest) {
  std::vector<const ManifestEntry*> sorted;
  for (const ManifestEntry& e : manifest.entries) sorted.push_back(&e);
  std::ranges::sort(sorted, {}, [](const ManifestEntry* e) { return e->path; });
  std::string out;
  for (const ManifestEntry* e : sorted)
    out += e->sha256 + "  " + e->path + "\n";
  return out;
}

Result<ArtifactManifestJson> ReadManifest(const fs::path& dir) {
  auto text = ReadFile(dir / kManifestJson);
  if (!text) {
    return Fail(ErrorKind::kValidation, "no " + std::string(kManifestJson),
                (dir / kManifestJson).string(),
                "run `hardway fetch` to write it");
  }
  return ParseManifestJson(*text, (dir / kManifestJson).string());
}

Result<std::vector<ExtractedMember>> ExtractMembers(
    const fs::path& archive_path,
    const std::vector<std::pair<std::string, fs::path>>& members,
    fs::perms mode) {
  std::map<std::string, std::vector<size_t>> wanted;  // member -> indexes
  for (size_t i = 0; i < members.size(); ++i)
    wanted[Normalize(members[i].first)].push_back(i);
  std::vector<ExtractedMember> out(members.size());
  std::vector<bool> found(members.size(), false);
  ReadArchive r;
  archive_read_support_filter_all(r.a);
  archive_read_support_format_all(r.a);
  if (archive_read_open_filename(r.a, archive_path.c_str(), 1 << 16) !=
      ARCHIVE_OK) {
    return Fail(ErrorKind::kIo, "cannot open the archive: " + r.Error(),
                archive_path.string());
  }
  std::vector<std::string> names;  // for the "missing member" hint
  archive_entry* entry = nullptr;
  int rc;
  std::vector<char> buf(1 << 20);
  while ((rc = archive_read_next_header(r.a, &entry)) == ARCHIVE_OK) {
    std::string name = Normalize(
        archive_entry_pathname(entry) ? archive_entry_pathname(entry) : "");
    names.push_back(name);
    auto it = wanted.find(name);
    if (it == wanted.end()) continue;
    if (archive_entry_filetype(entry) != AE_IFREG) {
      return Fail(ErrorKind::kValidation,
                  "archive member " + name + " is not a regular file",
                  archive_path.string());
    }
    std::vector<std::unique_ptr<AtomicFile>> files;
    for (size_t i : it->second) {
      auto f = AtomicFile::Create(members[i].second);
      if (!f) return std::unexpected(f.error());
      files.push_back(std::move(*f));
    }
    while (true) {
      la_ssize_t n = archive_read_data(r.a, buf.data(), buf.size());
      if (n < 0) {
        return Fail(ErrorKind::kValidation,
                    "cannot read member " + name + ": " + r.Error(),
                    archive_path.string());
      }
      if (n == 0) break;
      for (auto& f : files) {
        if (auto s = f->Write(buf.data(), static_cast<size_t>(n)); !s)
          return std::unexpected(s.error());
      }
    }
    for (size_t k = 0; k < files.size(); ++k) {
      auto changed = files[k]->Commit(mode);
      if (!changed) return std::unexpected(changed.error());
      size_t i = it->second[k];
      out[i] = ExtractedMember{files[k]->sha256(), *changed};
      found[i] = true;
    }
    wanted.erase(it);
    if (wanted.empty()) break;
  }
  if (rc != ARCHIVE_OK && rc != ARCHIVE_EOF) {
    return Fail(ErrorKind::kValidation, "cannot read the archive: " + r.Error(),
                archive_path.string());
  }
  for (size_t i = 0; i < members.size(); ++i) {
    if (found[i]) continue;
    std::string some;
    for (size_t k = 0; k < names.size() && k < 8; ++k)
      some += (k ? ", " : "") + names[k];
    return Fail(
        ErrorKind::kValidation, "the archive has no member " + members[i].first,
        archive_path.string(),
        names.empty()
            ? "the archive is empty"
            : "its members include: " + some +
                  "; fix the files: of this release in data/releases.yaml");
  }
  return out;
}

Status WriteBundle(const fs::path& artifacts_dir,
                   const ArtifactManifestJson& manifest, const fs::path& out) {
  std::error_code ec;
  if (!out.parent_path().empty()) fs::create_directories(out.parent_path(), ec);
  const fs::path tmp = out.string() + ".tmp-" + std::to_string(::getpid());
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  auto fail = [&](ErrorKind kind, std::string message,
                  std::string where) -> Status {
    archive_write_free(a);
    fs::remove(tmp, ec);
    return Fail(kind, std::move(message), std::move(where));
  };
  if (archive_write_open_filename(a, tmp.c_str()) != ARCHIVE_OK) {
    return fail(
        ErrorKind::kIo,
        std::string("cannot write the bundle: ") + archive_error_string(a),
        out.string());
  }
  // One member: `content`, or the file `src` streamed in and checked against
  // `expected_sha` on the way (a bundle never holds an unverified file).
  auto add = [&](const std::string& name, const fs::path* src,
                 const std::string& content, const std::string& expected_sha,
                 mode_t perm) -> Status {
    std::ifstream in;
    uint64_t size = content.size();
    if (src) {
      std::error_code size_ec;
      size = fs::file_size(*src, size_ec);
      in.open(*src, std::ios::binary);
      if (size_ec || !in) {
        return Fail(ErrorKind::kIo,
                    "cannot read " + src->string() + " for the bundle",
                    artifacts_dir.string(),
                    "run `hardway fetch` without --bundle first");
      }
    }
    auto write_error = [&] {
      return Fail(
          ErrorKind::kIo,
          std::string("cannot write the bundle: ") + archive_error_string(a),
          out.string());
    };
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(size));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, perm);
    archive_entry_set_mtime(e, kBundleMtime, 0);
    archive_entry_set_uid(e, 0);
    archive_entry_set_gid(e, 0);
    archive_entry_set_uname(e, "root");
    archive_entry_set_gname(e, "root");
    bool ok = archive_write_header(a, e) == ARCHIVE_OK;
    archive_entry_free(e);
    if (!ok) return write_error();
    auto put = [&](const char* data, size_t n) {
      while (n > 0) {
        la_ssize_t w = archive_write_data(a, data, n);
        if (w <= 0) return false;
        data += w;
        n -= static_cast<size_t>(w);
      }
      return true;
    };
    if (!src)
      return put(content.data(), content.size()) ? Status{} : write_error();
    Sha256Stream hash;
    std::vector<char> buf(1 << 20);
    uint64_t total = 0;
    while (in) {
      in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
      size_t n = static_cast<size_t>(in.gcount());
      if (n == 0) break;
      total += n;
      if (total > size) break;  // grew while being read: the sum tells
      hash.Update(buf.data(), n);
      if (!put(buf.data(), n)) return write_error();
    }
    std::string sha = hash.HexDigest();
    if (total != size || sha != expected_sha) {
      return Fail(ErrorKind::kValidation,
                  name + " has sha256 " + sha + " but the manifest says " +
                      expected_sha,
                  src->string(),
                  "the artifacts folder changed; run `hardway fetch` again");
    }
    return {};
  };
  std::vector<std::pair<std::string, std::string>> head = {
      {kManifestJson, ManifestToJson(manifest)},
      {"SHA256SUMS", ManifestToSha256Sums(manifest)}};
  for (const auto& [name, text] : head) {
    if (auto s = add(name, nullptr, text, "", 0644); !s)
      return fail(s.error().kind, s.error().message, s.error().where);
  }
  for (const ManifestEntry& entry : manifest.entries) {
    const fs::path src = artifacts_dir / entry.path;
    if (auto s = add(entry.path, &src, "", entry.sha256, 0755); !s) {
      archive_write_free(a);
      fs::remove(tmp, ec);
      return s;
    }
  }
  if (archive_write_close(a) != ARCHIVE_OK) {
    return fail(
        ErrorKind::kIo,
        std::string("cannot write the bundle: ") + archive_error_string(a),
        out.string());
  }
  archive_write_free(a);
  fs::rename(tmp, out, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return Fail(ErrorKind::kIo,
                "cannot rename the bundle into place: " + ec.message(),
                out.string());
  }
  return {};
}

Result<fs::path> UnpackBundle(const fs::path& bundle,
                              const fs::path& cache_dir) {
  auto sha = Sha256File(bundle);
  if (!sha) {
    return Fail(ErrorKind::kIo, "cannot read the artifact bundle",
                bundle.string(),
                "check artifacts.bundle in the inventory (write one with "
                "`hardway fetch "
                "--bundle FILE.tar`)");
  }
  const fs::path root = cache_dir / "bundles";
  const fs::path final_dir = root / *sha;
  std::error_code ec;
  if (fs::is_regular_file(final_dir / kManifestJson, ec)) return final_dir;
  const fs::path tmp = root / (".unpack-" + sha->substr(0, 16) + "-" +
                               std::to_string(::getpid()));
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  if (ec) {
    return Fail(ErrorKind::kIo,
                "cannot create " + tmp.string() + ": " + ec.message(),
                cache_dir.string(), "set artifacts.cache to a writable folder");
  }
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code e;
      if (!dir.empty()) fs::remove_all(dir, e);
    }
  } cleanup{tmp};
  const std::string where = bundle.string();
  auto refuse = [&](const std::string& message) {
    return Fail(ErrorKind::kValidation, "artifact bundle refused: " + message,
                where,
                "the bundle is corrupt or was changed; write it again with "
                "`hardway fetch "
                "--bundle`");
  };

  ReadArchive r;
  archive_read_support_filter_all(r.a);
  archive_read_support_format_tar(r.a);
  if (archive_read_open_filename(r.a, bundle.c_str(), 1 << 16) != ARCHIVE_OK) {
    return refuse("not a tar archive (" + r.Error() + ")");
  }
  std::map<std::string, std::string> sums;  // member -> sha256 as read
  std::string manifest_text;
  archive_entry* entry = nullptr;
  int rc;
  std::vector<char> buf(1 << 20);
  while ((rc = archive_read_next_header(r.a, &entry)) == ARCHIVE_OK) {
    const char* raw = archive_entry_pathname(entry);
    std::string name = Normalize(raw ? raw : "");
    if (archive_entry_filetype(entry) == AE_IFDIR) continue;
    if (archive_entry_filetype(entry) != AE_IFREG) {
      return refuse("member " + name + " is not a regular file");
    }
    if (!SafeRelative(name))
      return refuse("member " + name + " has an unsafe path");
    if (sums.contains(name)) return refuse("member " + name + " appears twice");
    const bool is_manifest = name == kManifestJson;
    std::unique_ptr<AtomicFile> file;
    if (!is_manifest && name != "SHA256SUMS") {
      auto f = AtomicFile::Create(tmp / name);
      if (!f) return std::unexpected(f.error());
      file = std::move(*f);
    }
    Sha256Stream hash;
    while (true) {
      la_ssize_t n = archive_read_data(r.a, buf.data(), buf.size());
      if (n < 0)
        return refuse("member " + name + " is unreadable (" + r.Error() + ")");
      if (n == 0) break;
      hash.Update(buf.data(), static_cast<size_t>(n));
      if (is_manifest) {
        if (manifest_text.size() > (16u << 20))
          return refuse("manifest.json is too large");
        manifest_text.append(buf.data(), static_cast<size_t>(n));
      }
      if (file) {
        if (auto s = file->Write(buf.data(), static_cast<size_t>(n)); !s)
          return std::unexpected(s.error());
      }
    }
    sums[name] = hash.HexDigest();
    if (file) {
      if (auto c = file->Commit(fs::perms(0755)); !c)
        return std::unexpected(c.error());
    }
  }
  if (rc != ARCHIVE_EOF)
    return refuse("truncated or unreadable (" + r.Error() + ")");
  if (!sums.contains(kManifestJson)) return refuse("it has no manifest.json");
  auto manifest = ParseManifestJson(manifest_text, where + ": manifest.json");
  if (!manifest) return std::unexpected(manifest.error());
  std::set<std::string> listed = {kManifestJson, "SHA256SUMS"};
  std::vector<std::string> problems;
  for (const ManifestEntry& e : manifest->entries) {
    listed.insert(e.path);
    auto it = sums.find(e.path);
    if (it == sums.end()) {
      problems.push_back("member " + e.path + " is missing");
    } else if (it->second != e.sha256) {
      problems.push_back("member " + e.path + " has sha256 " + it->second +
                         " but the manifest says " + e.sha256);
    }
  }
  for (const auto& [name, sum] : sums) {
    if (!listed.contains(name))
      problems.push_back("member " + name + " is not in the manifest");
  }
  if (!problems.empty()) {
    std::string message = problems.front();
    for (size_t i = 1; i < problems.size(); ++i) message += "; " + problems[i];
    return refuse(message);
  }
  // SHA256SUMS for `up` is made from the verified manifest, not taken on trust.
  if (auto w =
          WriteFileAtomic(tmp / kManifestJson, manifest_text, fs::perms(0644));
      !w)
    return std::unexpected(w.error());
  if (auto w = WriteFileAtomic(
          tmp / "SHA256SUMS", ManifestToSha256Sums(*manifest), fs::perms(0644));
      !w)
    return std::unexpected(w.error());
  fs::rename(tmp, final_dir, ec);
  if (ec) {
    // Another process unpacked the same bundle meanwhile: use its folder.
    std::error_code ec2;
    if (fs::is_regular_file(final_dir / kManifestJson, ec2)) return final_dir;
    return Fail(ErrorKind::kIo,
                "cannot move the unpacked bundle into place: " + ec.message(),
                final_dir.string());
  }
  cleanup.dir.clear();
  return final_dir;
}

}  // namespace hardway
