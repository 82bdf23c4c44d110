#include "components.h"

#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <mutex>
#include <random>
#include <thread>

#include "x509util.h"
#include "yaml_json.h"

namespace standin {
namespace {
std::string g_component = "standin";
std::mutex g_log_mu;
}  // namespace

void SetLogComponent(std::string component) {
  g_component = std::move(component);
}

void Log(char severity, const std::string& message) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  localtime_r(&tv.tv_sec, &t);
  char stamp[64];
  std::snprintf(stamp, sizeof stamp, "%c%02d%02d %02d:%02d:%02d.%06ld",
                severity, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min,
                t.tm_sec, static_cast<long>(tv.tv_usec));
  std::lock_guard lock(g_log_mu);
  std::cerr << stamp << " " << getpid() << " " << g_component << "] " << message
            << std::endl;
}

double NowSeconds() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

std::string Rfc3339Now(bool micro) {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm t{};
  gmtime_r(&tv.tv_sec, &t);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &t);
  std::string out = buf;
  if (micro) {
    char frac[16];
    std::snprintf(frac, sizeof frac, ".%06ld", static_cast<long>(tv.tv_usec));
    out += frac;
  }
  return out + "Z";
}

std::string Hostname() {
  char buf[256] = {};
  gethostname(buf, sizeof buf - 1);
  std::string h = buf;
  for (auto& c : h)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return h;
}

void SleepSeconds(double s) {
  std::this_thread::sleep_for(std::chrono::duration<double>(s));
}

FailureClock::FailureClock(double limit_s) : limit_s_(limit_s) {}
void FailureClock::Ok() {
  first_failure_ = -1;
  reason_.clear();
}
bool FailureClock::Failed(const std::string& reason) {
  reason_ = reason;
  double now = NowSeconds();
  if (first_failure_ < 0) first_failure_ = now;
  return now - first_failure_ > limit_s_;
}

std::string DescribeResponse(const HttpResponse& resp) {
  std::string msg;
  Json doc = Json::parse(resp.body, nullptr, false);
  if (doc.is_object() && doc.value("kind", "") == "Status")
    msg = doc.value("message", "");
  if (msg.empty()) msg = resp.body.substr(0, 300);
  return "HTTP " + std::to_string(resp.status) + " " +
         ReasonPhrase(resp.status) + ": " + msg;
}

std::expected<HttpResponse, ClientError> ApiClient::Do(
    const std::string& method, const std::string& path, const std::string& body,
    const std::string& content_type) {
  return HttpDo(method, kc_.server + path, &kc_.tls, body, content_type, 5000);
}

Status AcquireOrRenewLease(ApiClient& api, const std::string& ns,
                           const std::string& name, const std::string& identity,
                           int duration_s, bool* holding) {
  *holding = false;
  std::string base =
      "/apis/coordination.k8s.io/v1/namespaces/" + ns + "/leases";
  auto got = api.Do("GET", base + "/" + name);
  if (!got) return Fail(got.error().message);
  std::string now = Rfc3339Now(true);
  if (got->status == 404) {
    Json lease = {{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", {{"name", name}, {"namespace", ns}}},
                  {"spec",
                   {{"holderIdentity", identity},
                    {"leaseDurationSeconds", duration_s},
                    {"acquireTime", now},
                    {"renewTime", now},
                    {"leaseTransitions", 0}}}};
    auto created = api.Do("POST", base, lease.dump());
    if (!created) return Fail(created.error().message);
    if (created->status == 409)
      return {};  // someone else was faster; next round decides
    if (created->status != 201)
      return Fail("creating lease " + ns + "/" + name + ": " +
                  DescribeResponse(*created));
    *holding = true;
    return {};
  }
  if (got->status != 200)
    return Fail("reading lease " + ns + "/" + name + ": " +
                DescribeResponse(*got));
  Json lease = Json::parse(got->body, nullptr, false);
  if (!lease.is_object())
    return Fail("reading lease " + ns + "/" + name + ": not JSON");
  Json& spec = lease["spec"];
  if (!spec.is_object()) spec = Json::object();
  std::string holder = spec.value("holderIdentity", "");
  if (holder != identity && !holder.empty()) {
    // Held by another instance: take it over only once it has expired.
    std::string renew = spec.value("renewTime", "");
    int dur = spec.value("leaseDurationSeconds", duration_s);
    tm t{};
    bool expired = true;
    if (strptime(renew.c_str(), "%Y-%m-%dT%H:%M:%S", &t)) {
      time_t renewed = timegm(&t);
      expired = std::time(nullptr) > renewed + dur;
    }
    if (!expired) return {};
    spec["leaseTransitions"] = spec.value("leaseTransitions", 0) + 1;
    spec["acquireTime"] = now;
  }
  if (holder.empty()) spec["acquireTime"] = now;
  spec["holderIdentity"] = identity;
  spec["leaseDurationSeconds"] = duration_s;
  spec["renewTime"] = now;
  auto put = api.Do("PUT", base + "/" + name, lease.dump());
  if (!put) return Fail(put.error().message);
  if (put->status == 409) return {};  // lost a race; retry next round
  if (put->status != 200)
    return Fail("renewing lease " + ns + "/" + name + ": " +
                DescribeResponse(*put));
  *holding = true;
  return {};
}

Status CheckCaFlag(const ParsedFlags& flags, const std::string& flag) {
  if (!flags.Has(flag) || flags.Get(flag).empty()) return {};
  std::string what = "--" + flag + " " + flags.Get(flag);
  auto cas = LoadCerts(flags.Get(flag), what);
  if (!cas) return Fail(cas.error());
  return CheckIsCa(*cas, what);
}

Status CheckFlagPair(const ParsedFlags& flags, const PairCheck& c,
                     int purpose) {
  bool has_cert = flags.Has(c.cert_flag), has_key = flags.Has(c.key_flag);
  if (!has_cert && !has_key) return {};
  if (has_cert != has_key)
    return Fail("--" + (has_cert ? c.cert_flag : c.key_flag) +
                " is set but --" + (has_cert ? c.key_flag : c.cert_flag) +
                " is not; they go together");
  std::string cert_what = "--" + c.cert_flag + " " + flags.Get(c.cert_flag);
  std::string key_what = "--" + c.key_flag + " " + flags.Get(c.key_flag);
  auto chain = LoadCerts(flags.Get(c.cert_flag), cert_what);
  if (!chain) return Fail(chain.error());
  auto key = LoadKey(flags.Get(c.key_flag), key_what);
  if (!key) return Fail(key.error());
  if (auto s =
          CheckKeyMatches((*chain)[0].get(), key->get(), cert_what, key_what);
      !s)
    return s;
  if (X509_cmp_current_time(X509_get0_notAfter((*chain)[0].get())) < 0)
    return Fail(cert_what + " (" + SubjectOf((*chain)[0].get()) +
                ") has expired");
  if (X509_cmp_current_time(X509_get0_notBefore((*chain)[0].get())) > 0)
    return Fail(cert_what + " (" + SubjectOf((*chain)[0].get()) +
                ") is not valid yet (clock skew?)");
  if (!c.ca_flag.empty() && flags.Has(c.ca_flag)) {
    std::string ca_what = "--" + c.ca_flag + " " + flags.Get(c.ca_flag);
    auto cas = LoadCerts(flags.Get(c.ca_flag), ca_what);
    if (!cas) return Fail(cas.error());
    if (auto s = VerifyChain(*chain, *cas, static_cast<Purpose>(purpose),
                             cert_what, ca_what);
        !s)
      return s;
  }
  return {};
}

int RunComponent(std::string_view component,
                 std::span<const std::string> args) {
  SetLogComponent(std::string(component));
  const FlagTable* table = FlagsOf(component);
  if (!table) {
    std::cerr << "standin: unknown component \"" << component
              << "\" (expected kube-apiserver, kube-controller-manager, "
                 "kube-scheduler, kubelet "
                 "or kube-proxy)\n";
    return 2;
  }
  auto flags = ParseArgs(*table, args);
  if (!flags) {
    std::cerr << flags.error().message << "\n";
    return flags.error().exit_code;
  }
  if (flags->help) {
    std::cout << "Usage of " << component << " (test stand-in, " << kVersion
              << "):\n";
    for (const auto& f : table->flags)
      std::cout << "      --" << f.name << " "
                << (f.type == "bool" ? "" : f.type)
                << (f.deprecated ? "   (DEPRECATED)" : "") << "\n";
    return 0;
  }
  if (flags->version) {
    std::cout << "Kubernetes " << kVersion << "\n";
    return 0;
  }
  for (const auto& w : flags->warnings) Log('W', w);
  if (auto s = CheckInputFiles(*table, *flags); !s) {
    Log('E', s.error());
    return 1;
  }
  if (component == "kube-apiserver") return RunKubeApiserver(*flags);
  if (component == "kube-controller-manager")
    return RunKubeControllerManager(*flags);
  if (component == "kube-scheduler") return RunKubeScheduler(*flags);
  if (component == "kubelet") return RunKubelet(*flags);
  return RunKubeProxy(*flags);
}

}  // namespace standin
