#include "flags.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
#include <sstream>

#include "flag_tables.h"  // generated: kFlagTables[] = {component, tsv text}

namespace standin {
namespace {

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.ends_with(suffix);
}

std::vector<std::string_view> SplitView(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t pos = s.find(sep, start);
    out.push_back(
        s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) break;
    start = pos + 1;
  }
  return out;
}

bool IsInteger(std::string_view v) {
  if (v.empty()) return false;
  long long x = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  return ec == std::errc() && p == v.data() + v.size();
}

bool IsFloat(std::string_view v) {
  if (v.empty()) return false;
  try {
    size_t used = 0;
    std::stod(std::string(v), &used);
    return used == v.size();
  } catch (...) {
    return false;
  }
}

// Checks the value of a typed flag the way pflag would when it parses it, so a
// template that renders "--secure-port=64 43" or "--event-ttl=1 hour" fails
// here as it would for real.
std::string CheckValue(const FlagSpec& spec, std::string_view value) {
  const std::string& t = spec.type;
  bool ok = true;
  if (t == "bool") {
    bool b;
    ok = ParseBool(value, &b);
  } else if (t == "int" || t == "int32" || t == "uint" || t == "Level") {
    ok = IsInteger(value) && !(t == "uint" && value.starts_with('-'));
  } else if (t == "float") {
    ok = IsFloat(value);
  } else if (t == "duration") {
    ok = ParseGoDuration(value).has_value();
  } else if (t == "int32Slice") {
    for (auto part : SplitView(value, ',')) ok = ok && IsInteger(part);
  } else if (t == "ipport") {
    auto colon = value.rfind(':');
    ok = colon != std::string_view::npos && IsInteger(value.substr(colon + 1));
  }
  if (ok) return {};
  return "invalid argument \"" + std::string(value) + "\" for \"--" +
         spec.name + "\" flag: not a valid " + t;
}

}  // namespace

const FlagSpec* FlagTable::Find(std::string_view name) const {
  for (const auto& f : flags)
    if (f.name == name) return &f;
  return nullptr;
}

Result<FlagTable> ParseFlagTsv(std::string component, std::string_view text) {
  FlagTable table;
  table.component = std::move(component);
  int line_no = 0;
  for (auto line : SplitView(text, '\n')) {
    ++line_no;
    if (line.empty() || line.starts_with('#')) continue;
    auto cols = SplitView(line, '\t');
    if (cols.size() < 3)
      return Fail(table.component + ".tsv:" + std::to_string(line_no) +
                  ": expected flag<TAB>type<TAB>deprecated<TAB>default");
    FlagSpec spec{std::string(cols[0]), std::string(cols[1]), cols[2] == "yes",
                  cols.size() > 3 ? std::string(cols[3]) : std::string()};
    table.flags.push_back(std::move(spec));
  }
  if (table.flags.empty()) return Fail(table.component + ".tsv: no flags");
  return table;
}

const FlagTable* FlagsOf(std::string_view component) {
  // Parsed once; the embedded text is known-good (the generator and a unit test
  // check it).
  static const auto* tables = [] {
    auto* v = new std::vector<FlagTable>();
    for (const auto& [name, tsv] : kFlagTables) {
      auto t = ParseFlagTsv(name, tsv);
      if (t) v->push_back(std::move(*t));
    }
    return v;
  }();
  for (const auto& t : *tables)
    if (t.component == component) return &t;
  return nullptr;
}

std::string ParsedFlags::Get(const std::string& name,
                             const std::string& fallback) const {
  auto it = values.find(name);
  return it == values.end() ? fallback : it->second;
}

bool ParsedFlags::GetBool(const std::string& name, bool fallback) const {
  auto it = values.find(name);
  if (it == values.end()) return fallback;
  bool b = fallback;
  ParseBool(it->second, &b);
  return b;
}

bool ParseBool(std::string_view v, bool* out) {
  static constexpr std::string_view kTrue[] = {"1",    "t",    "T",
                                               "TRUE", "true", "True"};
  static constexpr std::string_view kFalse[] = {"0",     "f",     "F",
                                                "FALSE", "false", "False"};
  if (std::ranges::find(kTrue, v) != std::end(kTrue)) return *out = true, true;
  if (std::ranges::find(kFalse, v) != std::end(kFalse))
    return *out = false, true;
  return false;
}

std::optional<double> ParseGoDuration(std::string_view s) {
  if (s.starts_with('-') || s.starts_with('+')) s.remove_prefix(1);
  if (s == "0") return 0.0;
  if (s.empty()) return std::nullopt;
  double total = 0;
  while (!s.empty()) {
    size_t i = 0;
    while (i < s.size() &&
           (isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.'))
      ++i;
    if (i == 0) return std::nullopt;
    std::string number(s.substr(0, i));
    if (!IsFloat(number)) return std::nullopt;
    double n = std::stod(number);
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() &&
           !(isdigit(static_cast<unsigned char>(s[j])) || s[j] == '.'))
      ++j;
    std::string_view unit = s.substr(0, j);
    s.remove_prefix(j);
    double scale;
    if (unit == "ns")
      scale = 1e-9;
    else if (unit == "us" || unit == "µs")
      scale = 1e-6;
    else if (unit == "ms")
      scale = 1e-3;
    else if (unit == "s")
      scale = 1;
    else if (unit == "m")
      scale = 60;
    else if (unit == "h")
      scale = 3600;
    else
      return std::nullopt;  // Go requires a unit on every number except a bare
                            // "0"
    total += n * scale;
  }
  return total;
}

std::expected<ParsedFlags, FlagError> ParseArgs(
    const FlagTable& table, std::span<const std::string> args) {
  const std::string& comp = table.component;
  auto error = [&](std::string msg) {
    return std::unexpected(FlagError{2, comp + ": " + msg});
  };
  ParsedFlags out;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    if (arg == "--") {
      if (i + 1 < args.size())
        return error("unexpected argument \"" + args[i + 1] + "\" (" + comp +
                     " takes no arguments, only flags)");
      break;
    }
    std::string name;
    std::optional<std::string> value;
    if (arg.starts_with("--")) {
      name = arg.substr(2);
    } else if (arg.starts_with("-") && arg.size() > 1) {
      // pflag shorthands: only -h (help) and -v (verbosity) exist on these
      // components.
      std::string rest = arg.substr(1);
      std::string letter = rest.substr(0, 1);
      if (letter == "h" && rest.size() == 1)
        name = "help";
      else if (letter == "v" && table.Find("v"))
        name = "v=" + rest.substr(rest[1] == '=' ? 2 : 1);
      else
        return error("unknown shorthand flag '" + letter + "' in " + arg);
      if (name == "v=") name = "v";
    } else {
      return error("unexpected argument \"" + arg + "\" (" + comp +
                   " takes no arguments, only flags)");
    }
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name.empty()) return error("bad flag syntax: " + arg);
    const FlagSpec* spec = table.Find(name);
    if (!spec)
      return error("unknown flag --" + name + " (not a flag of " + comp +
                   " v1.32)");
    bool is_bool = spec->type == "bool";
    bool optional_value =
        spec->type.find("[=") != std::string::npos;  // version[=true]
    if (!value) {
      if (is_bool || optional_value) {
        value = optional_value
                    ? spec->type.substr(
                          spec->type.find("[=") + 2,
                          spec->type.find(']') - spec->type.find("[=") - 2)
                    : "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return error("flag needs an argument: --" + name);
      }
    }
    if (auto bad = CheckValue(*spec, *value); !bad.empty()) return error(bad);
    if (spec->deprecated)
      out.warnings.push_back("Flag --" + name +
                             " has been deprecated; set it in the component's "
                             "config file (--config) instead");
    if (name == "help") out.help = *value != "false";
    if (name == "version") out.version = *value != "false";
    out.values[name] = *value;
  }
  return out;
}

bool IsFileListFlag(const FlagSpec& spec) {
  return IsInputFileFlag(spec) && spec.type == "strings";
}

bool IsInputFileFlag(const FlagSpec& spec) {
  const std::string& n = spec.name;
  if (spec.type == "bool") return false;
  // Things written, created or scanned by the component, not read: they need
  // not exist.
  static constexpr std::string_view kNotInputs[] = {
      "lock-file",
      "write-config-to",
      "audit-log-path",
      "cert-dir",
      "root-dir",
      "config-dir",
      "debug-socket-path",
      "log_file",
      "log_dir",
      "tls-sni-cert-key",
      "volume-plugin-dir",
      "flex-volume-plugin-dir",
      "pod-manifest-path",
      "image-credential-provider-bin-dir",
      "experimental-mounter-path",
      "resolv-conf",
      "allow-metric-labels-manifest-dir"};
  if (std::ranges::find(kNotInputs, n) != std::end(kNotInputs)) return false;
  return n == "config" || n == "kubeconfig" || EndsWith(n, "-kubeconfig") ||
         EndsWith(n, "-file") || EndsWith(n, "cafile") ||
         EndsWith(n, "certfile") || EndsWith(n, "keyfile") ||
         EndsWith(n, "-certificate") || EndsWith(n, "-key") ||
         EndsWith(n, "-certificate-authority") || EndsWith(n, "-config") ||
         EndsWith(n, "-manifest") || n.find("filepath") != std::string::npos;
}

Status CheckInputFiles(const FlagTable& table, const ParsedFlags& flags) {
  for (const auto& [name, value] : flags.values) {
    const FlagSpec* spec = table.Find(name);
    if (!spec || !IsInputFileFlag(*spec)) continue;
    // The kubelet reads its bootstrap kubeconfig only when --kubeconfig does
    // not exist yet.
    if (name == "bootstrap-kubeconfig" && flags.Has("kubeconfig") &&
        access(flags.Get("kubeconfig").c_str(), F_OK) == 0)
      continue;
    std::vector<std::string> paths;
    if (IsFileListFlag(*spec)) {
      for (auto p : SplitView(value, ',')) paths.emplace_back(p);
    } else {
      paths.push_back(value);
    }
    for (const auto& path : paths) {
      if (path.empty()) return Fail("--" + name + ": empty file name");
      struct stat st {};
      if (stat(path.c_str(), &st) != 0)
        return Fail("--" + name + ": " + path + " does not exist");
      if (!S_ISREG(st.st_mode))
        return Fail("--" + name + ": " + path + " is not a regular file");
      if (access(path.c_str(), R_OK) != 0)
        return Fail("--" + name + ": " + path + " is not readable");
    }
  }
  return {};
}

}  // namespace standin
