#include "remote/fault_transport.h"

namespace hardway {
namespace {

Error DefaultError(const std::string& host, const std::string& op) {
  return Error{ErrorKind::kConnection,
               "injected fault: connection lost during " + op,
               host,
               {}};
}

}  // namespace

void FaultPlan::Add(FaultRule rule) {
  std::lock_guard lock(mu_);
  entries_.push_back(Entry{std::move(rule)});
}

void FaultPlan::Clear() {
  std::lock_guard lock(mu_);
  entries_.clear();
}

int FaultPlan::fired() const {
  std::lock_guard lock(mu_);
  return fired_;
}

bool FaultPlan::Concerns(const std::string& op, const std::string& text) const {
  std::lock_guard lock(mu_);
  for (const Entry& e : entries_) {
    if ((e.rule.op == "*" || e.rule.op == op) &&
        (e.rule.match.empty() || text.find(e.rule.match) != std::string::npos))
      return true;
  }
  return false;
}

std::optional<FaultRule> FaultPlan::Match(const std::string& op,
                                          const std::string& text) {
  std::lock_guard lock(mu_);
  for (Entry& e : entries_) {
    if (e.rule.op != "*" && e.rule.op != op) continue;
    if (!e.rule.match.empty() && text.find(e.rule.match) == std::string::npos)
      continue;
    if (e.seen++ < e.rule.skip) continue;
    if (e.rule.times >= 0 && e.failed >= e.rule.times) continue;
    ++e.failed;
    ++fired_;
    return e.rule;
  }
  return std::nullopt;
}

FaultTransport::FaultTransport(std::unique_ptr<Transport> inner,
                               std::shared_ptr<FaultPlan> plan)
    : inner_(std::move(inner)),
      plan_(plan ? std::move(plan) : std::make_shared<FaultPlan>()) {}

Result<ExecResult> FaultTransport::Exec(const std::string& command) {
  if (auto rule = plan_->Match("exec", command)) {
    if (rule->exec_result) return *rule->exec_result;
    return std::unexpected(rule->error.value_or(DefaultError(host(), "exec")));
  }
  return inner_->Exec(command);
}

Result<std::vector<ExecResult>> FaultTransport::ExecBatch(
    const std::vector<std::string>& commands, bool stop_after_failure) {
  std::vector<ExecResult> out;
  auto failed = [&] {
    return stop_after_failure && !out.empty() && out.back().exit_code != 0;
  };
  for (size_t i = 0; i < commands.size();) {
    std::vector<std::string> run;
    while (i < commands.size() && !plan_->Concerns("exec", commands[i]))
      run.push_back(commands[i++]);
    if (!run.empty()) {
      auto r = stop_after_failure ? inner_->ExecUntilFailure(run)
                                  : inner_->ExecMany(run);
      if (!r) return std::unexpected(r.error());
      bool stopped = r->size() < run.size();
      out.insert(out.end(), std::make_move_iterator(r->begin()),
                 std::make_move_iterator(r->end()));
      if (stopped || failed()) return out;
    }
    if (i < commands.size()) {
      auto r = Exec(commands[i++]);
      if (!r) return std::unexpected(r.error());
      out.push_back(std::move(*r));
      if (failed()) return out;
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> FaultTransport::Sha256Of(
    const std::vector<std::string>& paths) {
  std::string joined;
  for (const std::string& p : paths) joined += p + "\n";
  if (auto rule = plan_->Match("sha256", joined)) {
    return std::unexpected(
        rule->error.value_or(DefaultError(host(), "sha256")));
  }
  return inner_->Sha256Of(paths);
}

Result<UploadResult> FaultTransport::Upload(
    const UploadRequest& request, const std::string& known_remote_sha256,
    const ProgressFn& progress) {
  if (auto rule = plan_->Match("upload", request.dest)) {
    return std::unexpected(
        rule->error.value_or(DefaultError(host(), "upload")));
  }
  return inner_->Upload(request, known_remote_sha256, progress);
}

// Each file meets the "upload" rules as in Upload; the others still go to the
// inner transport as one batch.
std::vector<Result<UploadResult>> FaultTransport::UploadMany(
    const std::vector<UploadRequest>& requests,
    const std::vector<std::string>& known_remote_sha256,
    const BatchProgressFn& progress) {
  std::vector<Result<UploadResult>> out(requests.size(), UploadResult{});
  std::vector<UploadRequest> pass;
  std::vector<std::string> pass_known;
  std::vector<size_t> where;
  for (size_t i = 0; i < requests.size(); ++i) {
    if (auto rule = plan_->Match("upload", requests[i].dest)) {
      out[i] =
          std::unexpected(rule->error.value_or(DefaultError(host(), "upload")));
      continue;
    }
    pass.push_back(requests[i]);
    pass_known.push_back(i < known_remote_sha256.size() ? known_remote_sha256[i]
                                                        : std::string());
    where.push_back(i);
  }
  if (pass.empty()) return out;
  BatchProgressFn inner_progress;
  if (progress) {
    inner_progress = [&](size_t k, uint64_t sent, uint64_t total) {
      progress(where[k], sent, total);
    };
  }
  auto inner = inner_->UploadMany(pass, pass_known, inner_progress);
  for (size_t k = 0; k < where.size() && k < inner.size(); ++k)
    out[where[k]] = std::move(inner[k]);
  return out;
}

Result<std::string> FaultTransport::ReadFile(const std::string& path) {
  if (auto rule = plan_->Match("read", path)) {
    return std::unexpected(rule->error.value_or(DefaultError(host(), "read")));
  }
  return inner_->ReadFile(path);
}

Result<std::unique_ptr<Tunnel>> FaultTransport::OpenTunnel(
    const std::string& host, int port) {
  if (auto rule = plan_->Match("tunnel", host + ":" + std::to_string(port))) {
    return std::unexpected(
        rule->error.value_or(DefaultError(this->host(), "tunnel")));
  }
  return inner_->OpenTunnel(host, port);
}

}  // namespace hardway
