// The five stand-ins and what they share: logging to stderr (the journal) and
// the command-line prelude (strict flags, input files present).
#pragma once

#include <span>
#include <string>
#include <string_view>

#include "flags.h"
#include "http.h"
#include "kubeconfig.h"

namespace standin {

// "I0412 10:00:00.123 kube-apiserver] message" on stderr, klog-like so journals
// look familiar.
void Log(char severity, const std::string& message);
void SetLogComponent(std::string component);

// Entry point for one component; `args` excludes argv[0]. Returns the exit
// code.
int RunComponent(std::string_view component, std::span<const std::string> args);

int RunKubeApiserver(const ParsedFlags& flags);
int RunKubeControllerManager(const ParsedFlags& flags);
int RunKubeScheduler(const ParsedFlags& flags);
int RunKubelet(const ParsedFlags& flags);
int RunKubeProxy(const ParsedFlags& flags);

// Loads a certificate/key pair named by two flags, checks the key matches, and,
// when `ca_flag` is given (non-empty value), that the certificate verifies
// against it for `purpose`. Errors name both flags and files.
struct PairCheck {
  std::string cert_flag, key_flag, ca_flag;
};
Status CheckFlagPair(const ParsedFlags& flags, const PairCheck& check,
                     int purpose);
// A CA bundle flag: every certificate parses and is a CA.
Status CheckCaFlag(const ParsedFlags& flags, const std::string& flag);

// Talks to the apiserver named in a kubeconfig, keeping track of how long it
// has been refusing or unreachable; a component gives up after
// `give_up_after_s` without success.
class ApiClient {
 public:
  explicit ApiClient(Kubeconfig kc) : kc_(std::move(kc)) {}
  std::expected<HttpResponse, ClientError> Do(
      const std::string& method, const std::string& path,
      const std::string& body = {}, const std::string& content_type = {});
  const Kubeconfig& kubeconfig() const { return kc_; }

 private:
  Kubeconfig kc_;
};

// Tracks consecutive failures: Ok() resets; Failed(reason) returns true once
// failures have lasted longer than the limit (then the caller logs `reason` and
// exits non-zero).
class FailureClock {
 public:
  explicit FailureClock(double limit_s);
  void Ok();
  bool Failed(const std::string& reason);
  const std::string& last_reason() const { return reason_; }

 private:
  double limit_s_;
  double first_failure_ = -1;
  std::string reason_;
};

double NowSeconds();  // monotonic
std::string Rfc3339Now(bool micro = false);
std::string Hostname();
void SleepSeconds(double s);

// Acquires or renews a Lease; `holding` tells whether `identity` holds it after
// the call. Errors are the apiserver's refusals or transport failures, worded
// for the journal.
Status AcquireOrRenewLease(ApiClient& api, const std::string& ns,
                           const std::string& name, const std::string& identity,
                           int duration_s, bool* holding);

// Describes an apiserver error response: "HTTP 403: <Status.message>".
std::string DescribeResponse(const HttpResponse& resp);

}  // namespace standin
