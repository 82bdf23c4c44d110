#include "plan/plan_builder.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <map>
#include <memory>
#include <thread>
#include <unordered_map>

#include "fetch/layout.h"
#include "plan/plan_printer.h"
#include "plan/render.h"
#include "util/files.h"
#include "util/sha256.h"

namespace hardway {
namespace {

struct FileInfo {
  bool exists = false;
  uint64_t size = 0;
  std::string sha256;
};

struct RenderedFile {
  std::string content;
  std::string sha256;
};

// What kind of secret a state-dir file is; empty for public files
// (certificates, sa.pub).
std::string SecretKind(const std::string& state_path) {
  if (state_path.ends_with(".key")) return "private key";
  if (state_path.starts_with("kubeconfigs/") ||
      state_path.ends_with(".kubeconfig")) {
    return "kubeconfig";
  }
  if (std::filesystem::path(state_path).filename() ==
      "encryption-config.yaml") {
    return "encryption key";
  }
  return {};
}

// One local file's size and sha256. Small files (every certificate, key and
// kubeconfig: thousands for a large cluster) are read in one go; big ones (the
// binaries) are streamed through one buffer per thread, reused: a fresh 1 MiB
// buffer per file costs more in zeroing and page faults than the hashing.
FileInfo ReadInfo(const std::string& path) {
  FileInfo info;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return info;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return info;
  }
  constexpr off_t kSmall = 256 * 1024;
  if (st.st_size <= kSmall) {
    std::string bytes(static_cast<size_t>(st.st_size), '\0');
    size_t got = 0;
    while (got < bytes.size()) {
      ssize_t n = ::read(fd, bytes.data() + got, bytes.size() - got);
      if (n <= 0) break;
      got += static_cast<size_t>(n);
    }
    ::close(fd);
    if (got == bytes.size())
      info = FileInfo{true, bytes.size(), Sha256Hex(bytes)};
    return info;
  }
  thread_local std::unique_ptr<char[]> buffer(new char[kSmall]);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                              &EVP_MD_CTX_free);
  bool ok = ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1;
  uint64_t total = 0;
  while (ok) {
    ssize_t n = ::read(fd, buffer.get(), kSmall);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ok = n == 0;
      break;
    }
    total += static_cast<uint64_t>(n);
    ok = EVP_DigestUpdate(ctx.get(), buffer.get(), static_cast<size_t>(n)) == 1;
  }
  ::close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  if (!ok || EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) return info;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex += kHex[md[i] >> 4];
    hex += kHex[md[i] & 0xf];
  }
  return FileInfo{true, total, std::move(hex)};
}

class Builder {
 public:
  Builder(const Playbook& book, const Cluster& cluster,
          const PlanOptions& options)
      : book_(book),
        cluster_(cluster),
        resource_dir_(options.resource_dir.empty() ? ResourceDir()
                                                   : options.resource_dir),
        state_dir_(options.state_dir),
        artifacts_dir_(cluster.artifacts_dir()),
        keep_content_(options.keep_rendered_content),
        per_arch_(PerArchLayout(cluster)),
        data_(cluster) {}

  Result<Plan> Build() {
    Plan plan;
    plan.cluster = cluster_.name();
    for (const PhaseSpec& spec : book_.phases) {
      Phase phase;
      phase.name = spec.name;
      phase.description = spec.description;
      phase.needs = spec.needs;
      for (Role r : spec.roles) phase.roles.emplace_back(RoleName(r));
      phase.local = spec.local;
      phase.gate = spec.gate;
      std::vector<const Host*> hosts;
      if (!spec.local) {
        for (const Host& h : cluster_.hosts()) {
          if (HasAnyRole(h, spec.roles)) hosts.push_back(&h);
        }
      }
      for (const Host* h : hosts) phase.hosts.push_back(h->name);
      // Steps are large; growing the vector would move 30,000 of them several
      // times.
      phase.steps.reserve(hosts.size() * spec.steps.size());
      for (const Host* h : hosts) {
        for (const StepSpec& s : spec.steps) {
          if (!HasAnyRole(*h, s.roles)) continue;
          if (s.once && h != hosts.front()) continue;
          auto step = MakeStep(spec, s, *h);
          if (!step) return std::unexpected(step.error());
          if (step->kind == StepKind::kUpload)
            uploads_.emplace_back(plan.phases.size(), phase.steps.size());
          phase.steps.push_back(std::move(*step));
        }
      }
      plan.phases.push_back(std::move(phase));
    }
    if (auto s = CheckWatches(plan); !s) return std::unexpected(s.error());
    FillFileInfo(plan);
    return plan;
  }

 private:
  static bool HasAnyRole(const Host& h, const std::vector<Role>& roles) {
    if (roles.empty()) return true;
    for (Role r : roles) {
      if (h.Has(r)) return true;
    }
    return false;
  }

  std::string Where(const StepSpec& s) const {
    return book_.path.string() + ":" + std::to_string(s.line);
  }

  const RenderData::HostData& HostDataFor(const Host& h) {
    auto& slot = host_data_[&h];
    if (!slot) slot = data_.ForHost(h);
    return *slot;
  }

  // Mustache in a path or command, for one host. Plain strings skip the
  // renderer.
  Result<std::string> Expand(const std::string& text, const StepSpec& s,
                             const Host& h) {
    if (text.find("{{") == std::string::npos) return text;
    auto it = strings_.find(text);
    if (it == strings_.end()) {
      auto t = Template::Parse(text, Where(s));
      if (!t) {
        Error e = t.error();
        e.where = Where(s);
        return std::unexpected(e);
      }
      it = strings_.emplace(text, std::move(*t)).first;
    }
    auto out = it->second.Render(data_, &h, &HostDataFor(h));
    if (!out) {
      Error e = out.error();
      e.where = Where(s) + " (host " + h.name + ")";
      return std::unexpected(e);
    }
    return out;
  }

  Result<const Template*> LoadTemplate(const std::string& rel,
                                       const StepSpec& s) {
    auto it = templates_.find(rel);
    if (it != templates_.end()) return &it->second;
    const std::filesystem::path path = resource_dir_ / rel;
    auto text = ReadFile(path);
    if (!text) {
      return Fail(ErrorKind::kValidation,
                  "template " + rel + " not found in " + resource_dir_.string(),
                  Where(s),
                  "templates live under units/ and playbooks/templates/");
    }
    auto t = Template::Parse(*text, rel);
    if (!t) return std::unexpected(t.error());
    return &templates_.emplace(rel, std::move(*t)).first->second;
  }

  Result<Step> MakeStep(const PhaseSpec& phase, const StepSpec& s,
                        const Host& h) {
    Step step;
    step.phase = phase.name;
    step.host = h.name;
    step.kind = s.kind;
    const std::string prefix = phase.name + "/" + h.name + "/";
    switch (s.kind) {
      case StepKind::kRun: {
        auto cmd = Expand(s.command, s, h);
        if (!cmd) return std::unexpected(cmd.error());
        step.command = *cmd;
        if (!s.check.empty()) {
          auto check = Expand(s.check, s, h);
          if (!check) return std::unexpected(check.error());
          step.check = *check;
        }
        step.description = s.description.empty() ? "run" : s.description;
        step.id = prefix + "run@" + std::to_string(s.line);
        return step;
      }
      case StepKind::kSystemd:
        step.unit = s.unit;
        step.watch = s.watch;
        step.description =
            s.description.empty() ? "start " + s.unit : s.description;
        step.id = prefix + "systemd-" + s.unit;
        watches_.push_back({&s, h.name});
        return step;
      case StepKind::kUpload:
      case StepKind::kRender:
        break;
    }

    auto dest = Expand(s.dest, s, h);
    if (!dest) return std::unexpected(dest.error());
    step.dest = *dest;
    step.owner = s.owner;
    auto [prev, inserted] = dests_[h.name].emplace(step.dest, s.line);
    if (!inserted) {
      return Fail(ErrorKind::kValidation,
                  "two steps write " + step.dest + " on " + h.name, Where(s),
                  "the other one is on line " + std::to_string(prev->second) +
                      "; keep one");
    }
    auto source = Expand(s.source, s, h);
    if (!source) return std::unexpected(source.error());

    if (s.kind == StepKind::kRender) {
      auto tmpl = LoadTemplate(*source, s);
      if (!tmpl) return std::unexpected(tmpl.error());
      const RenderedFile* rendered = nullptr;
      RenderedFile per_host;
      if (!(*tmpl)->UsesHost()) {
        // Same bytes on every host: render and hash once.
        auto it = shared_renders_.find(*source);
        if (it == shared_renders_.end()) {
          auto out = (*tmpl)->Render(data_, nullptr, nullptr);
          if (!out) return std::unexpected(out.error());
          std::string sha = Sha256Hex(*out);
          it = shared_renders_
                   .emplace(*source,
                            RenderedFile{std::move(*out), std::move(sha)})
                   .first;
        }
        rendered = &it->second;
      } else {
        auto out = (*tmpl)->Render(data_, &h, &HostDataFor(h));
        if (!out) {
          Error e = out.error();
          e.where += " (step at " + Where(s) + ", host " + h.name + ")";
          return std::unexpected(e);
        }
        per_host.sha256 = Sha256Hex(*out);
        per_host.content = std::move(*out);
        rendered = &per_host;
      }
      step.size = rendered->content.size();
      if (keep_content_) {
        step.content = rendered == &per_host ? std::move(per_host.content)
                                             : rendered->content;
      }
      step.sha256 = rendered->sha256;
      step.source = (resource_dir_ / *source).string();
      step.source_label = "template " + *source;
      step.mode = s.mode.value_or(0644);
      step.description =
          s.description.empty()
              ? "render " + std::filesystem::path(step.dest).filename().string()
              : s.description;
      step.id = prefix + "render:" + step.dest;
      return step;
    }

    const bool artifact = s.source_kind == UploadSource::kArtifact;
    // With hosts of several architectures, artifacts/<arch>/ (fetch/layout.h).
    const std::filesystem::path local =
        artifact ? artifacts_dir_ / ArtifactRelPath(per_arch_, h.arch, *source)
                 : state_dir_ / *source;
    // Size and sha256: FillFileInfo, once every step is known.
    step.source = local.string();
    step.source_label = (artifact ? "artifact " : "state ") + *source;
    step.secret_kind = artifact ? std::string() : SecretKind(*source);
    step.secret = !step.secret_kind.empty();
    step.mode = s.mode.value_or(step.secret ? 0600 : 0644);
    if (step.secret && (step.mode & 0077) != 0) {
      return Fail(
          ErrorKind::kValidation,
          *source + " is a " + step.secret_kind +
              " but would be uploaded with mode " + FormatMode(step.mode),
          Where(s), "secrets go to hosts as 0600 (or 0400): drop the mode");
    }
    step.description =
        s.description.empty() ? "upload " + *source : s.description;
    step.id = prefix + "upload:" + step.dest;
    return step;
  }

  // Size, sha256 and presence of every upload's source. Each file is read and
  // hashed once, however many hosts get it, and the files are spread over
  // every core: a 1,000-host inventory uploads ~3,000 state-dir files (each
  // worker's certificate, key and kubeconfig) besides the binaries.
  void FillFileInfo(Plan& plan) {
    std::vector<std::string> paths;
    std::unordered_map<std::string, size_t> index;
    for (const auto& [p, i] : uploads_) {
      const std::string& path = plan.phases[p].steps[i].source;
      if (index.emplace(path, paths.size()).second) paths.push_back(path);
    }
    std::vector<FileInfo> infos(paths.size());
    std::atomic<size_t> next{0};
    auto worker = [&] {
      for (size_t i = next++; i < paths.size(); i = next++)
        infos[i] = ReadInfo(paths[i]);
    };
    size_t threads = std::min<size_t>(
        std::max(1u, std::thread::hardware_concurrency()), paths.size());
    std::vector<std::thread> pool;
    for (size_t t = 1; t < threads; ++t) pool.emplace_back(worker);
    worker();
    for (auto& t : pool) t.join();
    for (const auto& [p, i] : uploads_) {
      Step& step = plan.phases[p].steps[i];
      const FileInfo& info = infos[index.at(step.source)];
      step.missing = !info.exists;
      step.size = info.size;
      step.sha256 = info.sha256;
    }
  }

  // A systemd step restarts its unit when a watched file changed, so every
  // watched path must be written by some step on that host; a typo would
  // silently never restart.
  Status CheckWatches(const Plan&) {
    for (const auto& [spec, host] : watches_) {
      const auto& dests = dests_[host];
      for (const std::string& w : spec->watch) {
        if (!dests.contains(w)) {
          return Fail(ErrorKind::kValidation,
                      "systemd " + spec->unit + " on " + host + " watches " +
                          w + ", which no step writes on that host",
                      Where(*spec),
                      "fix the path or add the upload/render step");
        }
      }
    }
    return {};
  }

  const Playbook& book_;
  const Cluster& cluster_;
  std::filesystem::path resource_dir_;
  std::filesystem::path state_dir_;
  std::filesystem::path artifacts_dir_;
  bool keep_content_;
  bool per_arch_;  // hosts of more than one architecture
  RenderData data_;
  std::unordered_map<const Host*, std::unique_ptr<RenderData::HostData>>
      host_data_;
  std::unordered_map<std::string, Template> strings_;
  std::map<std::string, Template> templates_;
  std::map<std::string, RenderedFile> shared_renders_;
  // Upload steps as (phase, step) indexes into the plan, for FillFileInfo.
  std::vector<std::pair<size_t, size_t>> uploads_;
  // host -> dest -> playbook line of the step writing it
  std::unordered_map<std::string, std::unordered_map<std::string, int>> dests_;
  std::vector<std::pair<const StepSpec*, std::string>> watches_;
};

}  // namespace

Result<Plan> BuildPlan(const Playbook& playbook, const Cluster& cluster,
                       const PlanOptions& options) {
  if (options.state_dir.empty()) {
    return Fail(ErrorKind::kInternal, "BuildPlan needs a state dir");
  }
  Builder builder(playbook, cluster, options);
  return builder.Build();
}

Result<Plan> BuildPlan(const Cluster& cluster, const PlanOptions& options) {
  std::filesystem::path resources =
      options.resource_dir.empty() ? ResourceDir() : options.resource_dir;
  std::filesystem::path path = options.playbook.empty()
                                   ? resources / "playbooks" / "bootstrap.yaml"
                                   : options.playbook;
  auto book = LoadPlaybook(path);
  if (!book) return std::unexpected(book.error());
  return BuildPlan(*book, cluster, options);
}

}  // namespace hardway
