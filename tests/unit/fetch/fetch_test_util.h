// Test helpers for the fetch tests (and the CLI's): a fake release mirror laid
// out like the official download sites, and the local HTTP server serving it
// (mirror_server.py on 127.0.0.1, started and killed by the test).
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "fetch/releases.h"
#include "inventory/cluster.h"
#include "util/files.h"
#include "util/sha256.h"

extern char** environ;

namespace hardway::fetch_test {
namespace fs = std::filesystem;

// A temporary folder removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (fs::temp_directory_path() / "hardway-fetch-XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// The first bytes of an ELF executable for `arch` ("amd64" or "arm64"),
// followed by `text` so each fake binary is distinct.
inline std::string FakeElf(const std::string& arch, const std::string& text) {
  std::string h(64, '\0');
  h[0] = 0x7f;
  h[1] = 'E';
  h[2] = 'L';
  h[3] = 'F';
  h[4] = 2;   // ELFCLASS64
  h[5] = 1;   // little endian
  h[6] = 1;   // EV_CURRENT
  h[16] = 2;  // ET_EXEC
  unsigned machine = arch == "arm64" ? 183 : 62;
  h[18] = static_cast<char>(machine & 0xff);
  h[19] = static_cast<char>(machine >> 8);
  // Some bulk, so "half the body" is a real part of it.
  std::string body = h + text + "\n";
  while (body.size() < 20000) body += text + " padding\n";
  return body;
}

inline void WriteTarGz(
    const fs::path& path,
    const std::vector<std::pair<std::string, std::string>>& members) {
  fs::create_directories(path.parent_path());
  archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  ASSERT_EQ(archive_write_open_filename(a, path.c_str()), ARCHIVE_OK);
  for (const auto& [name, content] : members) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_size(e, static_cast<la_int64_t>(content.size()));
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0755);
    ASSERT_EQ(archive_write_header(a, e), ARCHIVE_OK);
    ASSERT_EQ(archive_write_data(a, content.data(), content.size()),
              static_cast<la_ssize_t>(content.size()));
    archive_entry_free(e);
  }
  archive_write_close(a);
  archive_write_free(a);
}

inline void Put(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

inline void Append(const fs::path& path, const std::string& content) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary | std::ios::app) << content;
}

// The URL path of `url` ("http://mirror/a/b" -> "/a/b").
inline std::string UrlPath(const std::string& url) {
  size_t scheme = url.find("://");
  return url.substr(url.find('/', scheme + 3));
}

struct FakeMirror {
  // Path in the artifacts folder -> the bytes fetch must put there.
  std::map<std::string, std::string> artifacts;
  // "name/arch" -> URL path of the release file, of its checksum file, and
  // the release file's sha256.
  std::map<std::string, std::string> file_path, checksum_path, file_sha256;
};

// Writes, under `root`, every release file the cluster needs (small fake
// binaries and .tar.gz archives) with published checksums, at the official
// paths (so artifacts.mirror pointing at the server finds them).
inline FakeMirror BuildFakeMirror(const fs::path& root,
                                  const Cluster& cluster) {
  FakeMirror m;
  auto releases = LoadReleases(DefaultReleasesFile());
  EXPECT_TRUE(releases) << releases.error().ToString();
  if (!releases) return m;
  Inventory inv = cluster.inventory();
  inv.artifacts.mirror = "http://mirror";
  inv.artifacts.urls.clear();
  Cluster plain = Cluster::Resolve(inv);
  auto items = ResolveFetch(*releases, plain);
  EXPECT_TRUE(items) << items.error().ToString();
  if (!items) return m;
  for (const FetchItem& item : *items) {
    const std::string key = item.name + "/" + item.arch;
    const fs::path file = root / UrlPath(item.url).substr(1);
    std::vector<std::pair<std::string, std::string>> members;
    for (const auto& [rel, member] : item.files) {
      std::string content = FakeElf(
          item.arch, "fake " + rel + " " + item.version + " " + item.arch);
      m.artifacts[rel] = content;
      members.emplace_back(member, content);
    }
    if (item.archive) {
      members.emplace_back("README.md", "not extracted\n");
      // The CNI plugins' archive names its members "./bridge".
      if (item.name == "cni_plugins") {
        for (auto& [name, content] : members) name = "./" + name;
      }
      WriteTarGz(file, members);
    } else {
      Put(file, members.front().second);
    }
    std::string sha = *Sha256File(file);
    m.file_path[key] = UrlPath(item.url);
    m.checksum_path[key] = UrlPath(item.checksum_url);
    m.file_sha256[key] = sha;
    const fs::path sum = root / UrlPath(item.checksum_url).substr(1);
    if (item.checksum == ChecksumSource::kList) {
      Append(sum, sha + "  " + item.filename + "\n" + std::string(64, '0') +
                      "  other-file\n");
    } else {
      Put(sum, sha + "  " + item.filename + "\n");
    }
  }
  return m;
}

// mirror_server.py, on 127.0.0.1 at a port the kernel picked.
class MirrorServer {
 public:
  MirrorServer(const fs::path& root, const fs::path& log,
               std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {
        "python3",
        std::string(HARDWAY_SOURCE_DIR) + "/tests/unit/fetch/mirror_server.py",
        "--root",
        root.string(),
        "--log",
        log.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    int fds[2];
    if (::pipe(fds) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
    posix_spawn_file_actions_addclose(&actions, fds[0]);
    if (posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(),
                     environ) != 0)
      pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    ::close(fds[1]);
    std::string line;
    char c;
    while (::read(fds[0], &c, 1) == 1 && c != '\n') line += c;
    ::close(fds[0]);
    port_ = line.empty() ? 0 : std::stoi(line);
  }
  ~MirrorServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status;
      ::waitpid(pid_, &status, 0);
    }
  }
  int port() const { return port_; }
  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(port_);
  }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// The server's request log: "GET /path range=..." lines.
inline std::vector<std::string> ReadLog(const fs::path& log) {
  std::vector<std::string> lines;
  std::ifstream in(log);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

inline Cluster ClusterFrom(const std::string& yaml, const fs::path& path) {
  auto inv = ParseInventory(yaml, path);
  EXPECT_TRUE(inv) << (inv ? "" : inv.error().front().ToString());
  return Cluster::Resolve(inv ? *inv : Inventory{});
}

}  // namespace hardway::fetch_test
