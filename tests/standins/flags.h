// Strict command-line parsing against the real component's flag list
// (../shared/reference/k8s-flags/<component>.tsv, embedded at build time), with
// the spellings spf13/pflag accepts: --flag=value, --flag value, boolean
// --flag, -h, -v.
#pragma once

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common.h"

namespace standin {

struct FlagSpec {
  std::string name;
  std::string type;  // as the reference page shows it: bool, string, strings,
                     // int, duration...
  bool deprecated = false;
  std::string default_value;
};

struct FlagTable {
  std::string component;
  std::vector<FlagSpec> flags;
  const FlagSpec* Find(std::string_view name) const;
};

// Parses one tsv (flag<TAB>type<TAB>deprecated<TAB>default, '#' comments).
Result<FlagTable> ParseFlagTsv(std::string component, std::string_view text);

// The embedded table of a component; nullptr for a name that is not one of the
// five.
const FlagTable* FlagsOf(std::string_view component);

struct ParsedFlags {
  std::map<std::string, std::string>
      values;                         // last occurrence wins, as in pflag
  std::vector<std::string> warnings;  // deprecated flags used
  bool help = false;
  bool version = false;

  bool Has(const std::string& name) const { return values.contains(name); }
  std::string Get(const std::string& name,
                  const std::string& fallback = {}) const;
  // pflag's ParseBool spellings; `fallback` when the flag is absent.
  bool GetBool(const std::string& name, bool fallback) const;
};

struct FlagError {
  int exit_code = 2;
  std::string message;  // already prefixed with the component name
};

// `args` excludes argv[0]. Unknown flags, missing values, malformed values of
// typed flags (bool, int, duration, float) and positional arguments are errors
// (exit 2).
std::expected<ParsedFlags, FlagError> ParseArgs(
    const FlagTable& table, std::span<const std::string> args);

// Whether a flag names an input file that must exist (e.g. --etcd-cafile,
// --kubeconfig,
// --encryption-provider-config), and whether its value is a comma list of files
// (--service-account-key-file is `strings`). Outputs and folders (--lock-file,
// --cert-dir,
// --audit-log-path, --write-config-to) are not.
bool IsInputFileFlag(const FlagSpec& spec);
bool IsFileListFlag(const FlagSpec& spec);

// Every input file named by a parsed flag must exist and be a regular, readable
// file. Returns the first problem ("--etcd-cafile: /etc/etcd/ca.crt does not
// exist").
Status CheckInputFiles(const FlagTable& table, const ParsedFlags& flags);

bool ParseBool(std::string_view text, bool* out);
// Go's time.ParseDuration grammar ("300ms", "1h30m", "0"); seconds.
std::optional<double> ParseGoDuration(std::string_view text);

}  // namespace standin
