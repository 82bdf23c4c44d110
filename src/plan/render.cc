#include "plan/render.h"

#include <algorithm>
#include <array>
#include <kainjow/mustache.hpp>
#include <map>
#include <optional>
#include <utility>

namespace hardway {

namespace mustache = kainjow::mustache;

namespace {

// Components as the inventory names them -> the key under extra_args (mustache
// names may not hold dashes safely, so kube-apiserver becomes kube_apiserver).
constexpr std::pair<std::string_view, std::string_view> kComponents[] = {
    {"etcd", "etcd"},
    {"kube-apiserver", "kube_apiserver"},
    {"kube-controller-manager", "kube_controller_manager"},
    {"kube-scheduler", "kube_scheduler"},
    {"kubelet", "kubelet"},
    {"kube-proxy", "kube_proxy"},
};

// List variables and the keys of their items.
const std::map<std::string, std::set<std::string>>& KnownLists() {
  static const auto* lists = [] {
    auto* m = new std::map<std::string, std::set<std::string>>;
    for (const auto& [component, key] : kComponents) {
      (*m)["extra_args." + std::string(key)] = {"arg"};
    }
    (*m)["pod_routes"] = {"name", "cidr", "via"};
    return m;
  }();
  return *lists;
}

// One flag for a systemd ExecStart line. systemd expands % specifiers and $
// variables even inside quotes, and splits on whitespace unless the word is
// quoted.
std::string SystemdArg(const std::string& flag, const std::string& value) {
  std::string word = flag + "=" + value;
  std::string escaped;
  bool quote = false;
  for (char c : word) {
    switch (c) {
      case '%':
        escaped += "%%";
        break;
      case '$':
        escaped += "$$";
        break;
      case '"':
        escaped += "\\\"";
        quote = true;
        break;
      case '\\':
        escaped += "\\\\";
        quote = true;
        break;
      case '\n':
        escaped += "\\n";
        quote = true;
        break;
      case '\t':
        escaped += "\\t";
        quote = true;
        break;
      case ' ':
      case '\'':
      case ';':
        escaped += c;
        quote = true;
        break;
      default:
        escaped += c;
    }
  }
  return quote ? "\"" + escaped + "\"" : escaped;
}

std::string LineWhere(const std::string& name, int line) {
  return name + ":" + std::to_string(line);
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return {};
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

}  // namespace

const std::set<std::string>& KnownVariables() {
  static const std::set<std::string> names = {
      "cluster.name",
      "cluster.domain",
      "cluster.kubernetes_version",
      "cluster.service_cidr",
      "cluster.pod_cidr",
      "cluster.kubernetes_service_ip",
      "cluster.dns_ip",
      "cluster.api_server_url",
      "cluster.api_host",
      "cluster.api_port",
      "cluster.etcd_initial_cluster",
      "cluster.etcd_servers",
      "host.name",
      "host.address",
      "host.fqdn",
      "host.pod_cidr",
  };
  return names;
}

// ---- RenderData ----

// Skeleton markers: kSentinel, the index of a host variable, kSentinel.
constexpr char kSentinel = '\x1f';
constexpr std::array<std::string_view, 4> kHostVars = {"name", "address",
                                                       "fqdn", "pod_cidr"};

struct RenderData::Impl {
  mustache::data data;  // cluster.*, extra_args.*, pod_routes
  // A cluster value holding the marker byte would corrupt skeletons: then
  // render per host.
  bool sentinel_in_values = false;
  mustache::data sentinel_host;  // host.* = markers
};

struct RenderData::HostData::Impl {
  mustache::data data;                // host.*
  std::array<std::string, 4> values;  // in kHostVars order
};

RenderData::RenderData(const Cluster& cluster)
    : impl_(std::make_unique<Impl>()) {
  const ClusterSettings& settings = cluster.inventory().cluster;
  mustache::object c;
  c["name"] = cluster.name();
  c["domain"] = settings.domain;
  c["kubernetes_version"] = settings.kubernetes_version;
  c["service_cidr"] = settings.service_cidr.ToString();
  c["pod_cidr"] = settings.pod_cidr.ToString();
  c["kubernetes_service_ip"] = cluster.kubernetes_service_ip().ToString();
  c["dns_ip"] = cluster.cluster_dns_ip().ToString();
  c["api_server_url"] = cluster.api_server_url();
  c["api_host"] = cluster.api_host();
  c["api_port"] = std::to_string(cluster.api_port());
  c["etcd_initial_cluster"] = cluster.etcd_initial_cluster();
  c["etcd_servers"] = cluster.etcd_client_urls();

  mustache::object extra;
  for (const auto& [component, key] : kComponents) {
    mustache::list args;
    auto it = settings.extra_args.find(std::string(component));
    if (it != settings.extra_args.end()) {
      for (const auto& [flag, value] : it->second) {
        mustache::object item;
        item["arg"] = SystemdArg(flag, value);
        args.push_back(item);
      }
    }
    extra[std::string(key)] = args;
  }

  mustache::list routes;
  for (const Host& h : cluster.hosts()) {
    if (!h.pod_cidr) continue;
    mustache::object r;
    r["name"] = h.name;
    r["cidr"] = h.pod_cidr->ToString();
    r["via"] = h.address;
    routes.push_back(r);
  }

  impl_->data.set("cluster", c);
  impl_->data.set("extra_args", extra);
  impl_->data.set("pod_routes", routes);

  for (const auto& [k, v] : c) {
    if (v.is_string() &&
        v.string_value().find(kSentinel) != std::string::npos) {
      impl_->sentinel_in_values = true;
    }
  }
  for (const auto& [component, args] : settings.extra_args) {
    for (const auto& [flag, value] : args) {
      if ((flag + value).find(kSentinel) != std::string::npos)
        impl_->sentinel_in_values = true;
    }
  }
  mustache::object markers;
  for (size_t i = 0; i < kHostVars.size(); ++i) {
    markers[std::string(kHostVars[i])] = std::string(1, kSentinel) +
                                         std::to_string(i) +
                                         std::string(1, kSentinel);
  }
  impl_->sentinel_host.set("host", markers);
}

RenderData::~RenderData() = default;

RenderData::HostData::HostData(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
RenderData::HostData::~HostData() = default;

std::unique_ptr<RenderData::HostData> RenderData::ForHost(
    const Host& host) const {
  auto impl = std::make_unique<HostData::Impl>();
  impl->values = {host.name, host.address, host.fqdn,
                  host.pod_cidr ? host.pod_cidr->ToString() : std::string()};
  mustache::object h;
  for (size_t i = 0; i < kHostVars.size(); ++i)
    h[std::string(kHostVars[i])] = impl->values[i];
  impl->data.set("host", h);
  return std::unique_ptr<HostData>(new HostData(std::move(impl)));
}

// ---- Template ----

struct Template::Impl {
  std::string name;
  std::set<std::string> variables;
  bool uses_host = false;
  bool uses_pod_cidr = false;
  bool host_sections = false;  // a host.* value decides structure: no skeleton
  bool sentinel_in_text = false;
  // kainjow's render() is not const; rendering does not change what the
  // template means.
  mutable mustache::mustache tmpl;
  mutable std::optional<std::string>
      skeleton;  // rendered once, with host markers
  explicit Impl(const std::string& text) : tmpl(text) {}
};

Template::Template(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;
Template::~Template() = default;

const std::string& Template::name() const { return impl_->name; }
const std::set<std::string>& Template::variables() const {
  return impl_->variables;
}
bool Template::UsesHost() const { return impl_->uses_host; }

Result<Template> Template::Parse(std::string_view text, std::string name) {
  std::set<std::string> used;
  bool host_sections = false;
  // Open sections: name and the line they opened on.
  std::vector<std::pair<std::string, int>> sections;
  int line = 1;
  size_t pos = 0;
  auto fail = [&](const std::string& msg, const std::string& hint = {}) {
    return Fail(ErrorKind::kValidation, msg, LineWhere(name, line), hint);
  };
  while (true) {
    size_t open = text.find("{{", pos);
    line += static_cast<int>(std::count(
        text.begin() + pos,
        text.begin() + (open == std::string_view::npos ? text.size() : open),
        '\n'));
    if (open == std::string_view::npos) break;
    bool triple = open + 2 < text.size() && text[open + 2] == '{';
    std::string_view close_tag = triple ? "}}}" : "}}";
    size_t inner = open + (triple ? 3 : 2);
    size_t close = text.find(close_tag, inner);
    if (close == std::string_view::npos) return fail("unclosed mustache tag");
    std::string tag = Trim(text.substr(inner, close - inner));
    line += static_cast<int>(
        std::count(text.begin() + open, text.begin() + close, '\n'));
    pos = close + close_tag.size();

    char sigil = (!triple && !tag.empty()) ? tag[0] : '\0';
    if (sigil == '!') continue;
    if (sigil == '>')
      return fail("partials are not supported: {{" + tag + "}}");
    if (sigil == '=')
      return fail("delimiter changes are not supported: {{" + tag + "}}");
    std::string var =
        (sigil == '#' || sigil == '^' || sigil == '/' || sigil == '&')
            ? Trim(std::string_view(tag).substr(1))
            : tag;
    if (var.empty()) return fail("empty mustache tag");
    if (sigil == '/') {
      if (sections.empty() || sections.back().first != var) {
        return fail("{{/" + var + "}} closes no open section",
                    sections.empty()
                        ? "remove it"
                        : "the open section is {{#" + sections.back().first +
                              "}} from line " +
                              std::to_string(sections.back().second));
      }
      sections.pop_back();
      continue;
    }
    // A name resolves as a top-level variable, or as an item key of an
    // enclosing list section.
    bool known = KnownVariables().contains(var) || KnownLists().contains(var);
    bool item_key = false;
    if (!known) {
      for (const auto& [section, _] : sections) {
        auto list = KnownLists().find(section);
        if (list != KnownLists().end() &&
            (var == "." || list->second.contains(var))) {
          item_key = true;
        }
      }
    }
    if (!known && !item_key) {
      std::string hint = "known variables: ";
      bool first = true;
      for (const std::string& v : KnownVariables()) {
        hint += (first ? "" : ", ") + v;
        first = false;
      }
      for (const auto& [list, keys] : KnownLists())
        hint += ", " + list + " (list)";
      return fail("unknown variable '" + var + "'", hint);
    }
    if (known) used.insert(var);
    if (sigil == '#' || sigil == '^') {
      sections.emplace_back(var, line);
      host_sections |= var.starts_with("host.");
    }
  }
  if (!sections.empty()) {
    line = sections.back().second;
    return fail("section {{#" + sections.back().first + "}} is never closed",
                "add {{/" + sections.back().first + "}}");
  }

  auto impl = std::make_unique<Impl>(std::string(text));
  if (!impl->tmpl.is_valid()) {
    return Fail(ErrorKind::kValidation,
                "bad mustache template: " + impl->tmpl.error_message(), name);
  }
  impl->tmpl.set_custom_escape([](const std::string& s) { return s; });
  impl->name = std::move(name);
  impl->uses_host =
      std::any_of(used.begin(), used.end(),
                  [](const std::string& v) { return v.starts_with("host."); });
  impl->uses_pod_cidr = used.contains("host.pod_cidr");
  impl->host_sections = host_sections;
  impl->sentinel_in_text = text.find(kSentinel) != std::string_view::npos;
  impl->variables = std::move(used);
  return Template(std::move(impl));
}

Result<std::string> Template::Render(const RenderData& data, const Host* host,
                                     const RenderData::HostData* host_data,
                                     Mode mode) const {
  if (impl_->uses_host && (host == nullptr || host_data == nullptr)) {
    return Fail(ErrorKind::kInternal,
                "template uses host variables but no host was given",
                impl_->name);
  }
  if (impl_->uses_pod_cidr && !host->pod_cidr) {
    return Fail(ErrorKind::kValidation,
                "uses host.pod_cidr, but " + host->name +
                    " has no pod CIDR (it is not a worker)",
                impl_->name, "limit the step to workers: roles: [worker]");
  }
  const bool fast = mode == Mode::kFast && impl_->uses_host &&
                    !impl_->host_sections && !impl_->sentinel_in_text &&
                    !data.impl().sentinel_in_values;
  if (fast) {
    if (!impl_->skeleton) {
      mustache::context<std::string> ctx(&data.impl().data);
      ctx.push(&data.impl().sentinel_host);
      std::string out = impl_->tmpl.render(ctx);
      if (!impl_->tmpl.is_valid()) {
        return Fail(ErrorKind::kValidation,
                    "cannot render: " + impl_->tmpl.error_message(),
                    impl_->name);
      }
      impl_->skeleton = std::move(out);
    }
    const std::string& sk = *impl_->skeleton;
    const auto& values = host_data->impl().values;
    std::string out;
    out.reserve(sk.size() + 64);
    size_t pos = 0;
    while (true) {
      size_t open = sk.find(kSentinel, pos);
      if (open == std::string::npos) break;
      size_t close = sk.find(kSentinel, open + 1);
      out.append(sk, pos, open - pos);
      out += values[static_cast<size_t>(sk[open + 1] -
                                        '0')];  // one digit: four variables
      pos = close + 1;
    }
    out.append(sk, pos, std::string::npos);
    return out;
  }
  mustache::context<std::string> ctx(&data.impl().data);
  if (host_data != nullptr) ctx.push(&host_data->impl().data);
  std::string out = impl_->tmpl.render(ctx);
  if (!impl_->tmpl.is_valid()) {
    return Fail(ErrorKind::kValidation,
                "cannot render: " + impl_->tmpl.error_message(), impl_->name);
  }
  return out;
}

}  // namespace hardway
