#include "fetch/releases.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <set>

#include "fetch/layout.h"
#include "util/files.h"

namespace hardway {
namespace {

const std::vector<std::string_view> kVersionOf = {
    "kubernetes", "etcd", "containerd", "runc", "cni_plugins", "crictl"};
const std::set<std::string> kSpecKeys = {"version",     "url",    "sha256",
                                         "sha256_list", "binary", "files"};

std::string Where(const std::filesystem::path& path, const YAML::Mark& mark) {
  return path.string() + ":" + std::to_string(mark.line + 1) + ":" +
         std::to_string(mark.column + 1);
}

std::string Scalar(const YAML::Node& n) {
  return n && n.IsScalar() ? n.Scalar() : std::string();
}

}  // namespace

std::filesystem::path DefaultReleasesFile() {
  return ResourceDir() / "data" / "releases.yaml";
}

Result<Releases> LoadReleases(const std::filesystem::path& path) {
  auto text = ReadFile(path);
  if (!text) {
    return Fail(ErrorKind::kIo, "cannot read the release list", path.string(),
                "it ships with hardway as data/releases.yaml; set "
                "$HARDWAY_HOME to the folder holding data/");
  }
  return ParseReleases(*text, path);
}

Result<Releases> ParseReleases(const std::string& text,
                               const std::filesystem::path& path) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kValidation, "YAML syntax error: " + e.msg,
                Where(path, e.mark));
  }
  const YAML::Node list = root.IsMap() ? root["releases"] : YAML::Node();
  if (!list || !list.IsMap()) {
    return Fail(ErrorKind::kValidation,
                "expected a mapping 'releases:' of release name to its URLs",
                path.string());
  }
  Releases out;
  out.path = path;
  const auto& known = ReleaseNames();
  for (auto it = list.begin(); it != list.end(); ++it) {
    ReleaseSpec spec;
    spec.name = Scalar(it->first);
    spec.line = it->first.Mark().line + 1;
    const std::string where = Where(path, it->first.Mark());
    if (std::find(known.begin(), known.end(), spec.name) == known.end()) {
      return Fail(ErrorKind::kValidation, "unknown release '" + spec.name + "'",
                  where,
                  "inventories name releases by a fixed list (ReleaseNames "
                  "in src/inventory); add it there first");
    }
    const YAML::Node n = it->second;
    if (!n.IsMap()) {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name + " must be a mapping", where);
    }
    for (auto k = n.begin(); k != n.end(); ++k) {
      if (!kSpecKeys.contains(Scalar(k->first))) {
        return Fail(
            ErrorKind::kValidation,
            "unknown key '" + Scalar(k->first) + "' in release " + spec.name,
            Where(path, k->first.Mark()),
            "keys: version, url, sha256 or sha256_list, binary or "
            "files");
      }
    }
    spec.version_of = Scalar(n["version"]);
    if (std::find(kVersionOf.begin(), kVersionOf.end(), spec.version_of) ==
        kVersionOf.end()) {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name +
                      ": version must be one of "
                      "kubernetes, etcd, containerd, runc, cni_plugins, crictl",
                  where);
    }
    spec.url = Scalar(n["url"]);
    if (spec.url.empty()) {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name + " has no url", where);
    }
    if (n["sha256"] && n["sha256_list"]) {
      return Fail(
          ErrorKind::kValidation,
          "release " + spec.name + " has both sha256 and sha256_list; keep one",
          where);
    }
    spec.checksum =
        n["sha256_list"] ? ChecksumSource::kList : ChecksumSource::kFile;
    spec.checksum_url =
        Scalar(n["sha256_list"] ? n["sha256_list"] : n["sha256"]);
    if (spec.checksum_url.empty()) {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name +
                      " says nowhere where its sha256 is published",
                  where, "add sha256: URL or sha256_list: URL");
    }
    if (n["binary"] && n["files"]) {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name + " has both binary and files", where,
                  "binary: a single executable; files: an archive");
    }
    if (n["binary"]) {
      std::string dest = Scalar(n["binary"]);
      if (dest.empty()) {
        return Fail(ErrorKind::kValidation,
                    "release " + spec.name + ": binary must be a path", where);
      }
      spec.files.emplace_back(dest, "");
    } else if (n["files"] && n["files"].IsMap() && n["files"].size() > 0) {
      spec.archive = true;
      for (auto f = n["files"].begin(); f != n["files"].end(); ++f) {
        std::string dest = Scalar(f->first), member = Scalar(f->second);
        if (dest.empty() || member.empty()) {
          return Fail(ErrorKind::kValidation,
                      "release " + spec.name +
                          ": files maps a path to an archive member",
                      Where(path, f->first.Mark()));
        }
        spec.files.emplace_back(dest, member);
      }
    } else {
      return Fail(ErrorKind::kValidation,
                  "release " + spec.name + " has neither binary nor files",
                  where);
    }
    for (const auto& [dest, member] : spec.files) {
      std::filesystem::path p(dest);
      bool safe = p.is_relative() && !dest.empty();
      for (const auto& part : p) safe = safe && part != "..";
      if (!safe) {
        return Fail(ErrorKind::kValidation,
                    "release " + spec.name + ": " + dest +
                        " must be a path inside the artifacts folder",
                    where);
      }
    }
    out.specs.push_back(std::move(spec));
  }
  return out;
}

Result<std::string> ExpandTemplate(
    std::string_view text, const std::map<std::string, std::string>& vars) {
  std::string out;
  size_t pos = 0;
  while (true) {
    size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      out.append(text.substr(pos));
      return out;
    }
    size_t close = text.find("}}", open + 2);
    if (close == std::string_view::npos) {
      return Fail(ErrorKind::kValidation,
                  "unclosed {{ in \"" + std::string(text) + "\"");
    }
    std::string name(text.substr(open + 2, close - open - 2));
    auto it = vars.find(name);
    if (it == vars.end()) {
      std::string known;
      for (const auto& [k, v] : vars) known += (known.empty() ? "" : ", ") + k;
      return Fail(
          ErrorKind::kValidation,
          "unknown variable {{" + name + "}} in \"" + std::string(text) + "\"",
          {}, "variables here: " + known);
    }
    out.append(text.substr(pos, open - pos));
    out.append(it->second);
    pos = close + 2;
  }
}

std::string ApplyMirror(const std::string& url, const std::string& mirror) {
  if (mirror.empty()) return url;
  size_t scheme = url.find("://");
  if (scheme == std::string::npos) return url;
  size_t path = url.find('/', scheme + 3);
  std::string base = mirror;
  while (base.ends_with('/')) base.pop_back();
  return path == std::string::npos ? base : base + url.substr(path);
}

std::string ReleaseVersion(const Inventory& inventory,
                           const std::string& version_of) {
  const ArtifactVersions& v = inventory.artifacts.versions;
  if (version_of == "kubernetes") return inventory.cluster.kubernetes_version;
  if (version_of == "etcd") return v.etcd;
  if (version_of == "containerd") return v.containerd;
  if (version_of == "runc") return v.runc;
  if (version_of == "cni_plugins") return v.cni_plugins;
  if (version_of == "crictl") return v.crictl;
  return {};
}

Result<std::vector<FetchItem>> ResolveFetch(const Releases& releases,
                                            const Cluster& cluster) {
  const Inventory& inv = cluster.inventory();
  const bool per_arch = PerArchLayout(cluster);
  std::vector<FetchItem> items;
  for (const std::string& arch : ClusterArches(cluster)) {
    for (const ReleaseSpec& spec : releases.specs) {
      FetchItem item;
      item.name = spec.name;
      item.arch = arch;
      item.version = ReleaseVersion(inv, spec.version_of);
      std::string bare = item.version;
      if (bare.starts_with('v')) bare.erase(0, 1);
      std::map<std::string, std::string> vars = {
          {"version", item.version}, {"bare_version", bare}, {"arch", arch}};
      const std::string where =
          releases.path.string() + ":" + std::to_string(spec.line);
      auto lookup = [&](const std::map<std::string, std::string>& m,
                        std::string* key) -> const std::string* {
        for (std::string k : {spec.name + "/" + arch, spec.name}) {
          if (auto it = m.find(k); it != m.end()) {
            if (key) *key = k;
            return &it->second;
          }
        }
        return nullptr;
      };
      std::string url_key;
      if (const std::string* o = lookup(inv.artifacts.urls, &url_key)) {
        auto url = ExpandTemplate(*o, vars);
        if (!url) {
          Error e = url.error();
          e.where = inv.path.string() + ": artifacts.urls." + url_key;
          return std::unexpected(e);
        }
        item.url = *url;
      } else {
        auto url = ExpandTemplate(spec.url, vars);
        if (!url) {
          Error e = url.error();
          e.where = where;
          return std::unexpected(e);
        }
        item.url = ApplyMirror(*url, inv.artifacts.mirror);
      }
      std::string path_part = item.url.substr(0, item.url.find_first_of("?#"));
      size_t slash = path_part.rfind('/');
      item.filename =
          slash == std::string::npos ? path_part : path_part.substr(slash + 1);
      if (item.filename.empty()) {
        return Fail(ErrorKind::kValidation,
                    "URL " + item.url + " names no file", where,
                    "a download URL ends with the file's name");
      }
      vars["url"] = item.url;
      vars["dir"] = path_part.substr(0, slash);
      item.checksum = spec.checksum;
      auto checksum_url = ExpandTemplate(spec.checksum_url, vars);
      if (!checksum_url) {
        Error e = checksum_url.error();
        e.where = where;
        return std::unexpected(e);
      }
      item.checksum_url = *checksum_url;
      if (const std::string* pin = lookup(inv.artifacts.sha256, &item.pin_key))
        item.pinned_sha256 = *pin;
      item.archive = spec.archive;
      vars.erase("url");
      vars.erase("dir");
      for (const auto& [dest, member] : spec.files) {
        std::string m;
        if (!member.empty()) {
          auto expanded = ExpandTemplate(member, vars);
          if (!expanded) {
            Error e = expanded.error();
            e.where = where;
            return std::unexpected(e);
          }
          m = *expanded;
        }
        item.files.emplace_back(ArtifactRelPath(per_arch, arch, dest), m);
      }
      items.push_back(std::move(item));
    }
  }
  return items;
}

}  // namespace hardway
