#include "run/rbac.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "run/gates.h"
#include "run/tls_probe.h"

namespace hardway {
namespace {

using nlohmann::json;

json ToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: {
      json out = json::object();
      for (const auto& kv : node)
        out[kv.first.as<std::string>()] = ToJson(kv.second);
      return out;
    }
    case YAML::NodeType::Sequence: {
      json out = json::array();
      for (const auto& item : node) out.push_back(ToJson(item));
      return out;
    }
    case YAML::NodeType::Scalar: {
      const std::string& s = node.Scalar();
      // Quoted scalars ("true", "") keep their quotes' meaning: strings.
      if (node.Tag() == "!") return s;
      if (s == "true") return true;
      if (s == "false") return false;
      if (s == "null" || s == "~") return nullptr;
      if (!s.empty() &&
          s.find_first_not_of("0123456789-") == std::string::npos &&
          s.size() < 18 && s != "-") {
        return std::stoll(s);
      }
      return s;
    }
    default:
      return nullptr;
  }
}

std::string Plural(std::string kind) {
  std::ranges::transform(kind, kind.begin(),
                         [](unsigned char c) { return std::tolower(c); });
  if (kind.ends_with("y")) return kind.substr(0, kind.size() - 1) + "ies";
  if (kind.ends_with("s")) return kind + "es";
  return kind + "s";
}

}  // namespace

Result<std::vector<ApiObject>> ParseManifest(const std::string& yaml,
                                             const std::string& where) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(yaml);
  } catch (const YAML::Exception& e) {
    return Fail(ErrorKind::kValidation,
                std::string("bad manifest YAML: ") + e.what(), where);
  }
  std::vector<ApiObject> out;
  for (const YAML::Node& doc : docs) {
    if (!doc || doc.IsNull()) continue;
    json j = ToJson(doc);
    if (!j.is_object() || !j.contains("kind") || !j.contains("apiVersion") ||
        !j["metadata"].is_object() || !j["metadata"]["name"].is_string()) {
      return Fail(ErrorKind::kValidation,
                  "manifest document lacks apiVersion, kind or metadata.name",
                  where);
    }
    ApiObject obj;
    obj.kind = j["kind"].get<std::string>();
    obj.name = j["metadata"]["name"].get<std::string>();
    std::string api_version = j["apiVersion"].get<std::string>();
    std::string base = api_version.find('/') == std::string::npos
                           ? "/api/" + api_version
                           : "/apis/" + api_version;
    if (j["metadata"].contains("namespace")) {
      base += "/namespaces/" + j["metadata"]["namespace"].get<std::string>();
    }
    obj.collection = base + "/" + Plural(obj.kind);
    obj.json = j.dump();
    out.push_back(std::move(obj));
  }
  if (out.empty())
    return Fail(ErrorKind::kValidation, "manifest has no objects", where);
  return out;
}

std::string RbacManifestOf(const Plan& plan) {
  std::string manifest;
  std::string first_host;
  for (const Phase& p : plan.phases) {
    for (const Step& s : p.steps) {
      if (s.kind != StepKind::kRender ||
          s.dest.find("/rbac/") == std::string::npos)
        continue;
      if (first_host.empty()) first_host = s.host;
      if (s.host == first_host)
        manifest += (manifest.empty() ? "" : "\n---\n") + s.content;
    }
  }
  return manifest;
}

Result<ApplyReport> ApplyObjects(Transport& transport,
                                 const std::string& address, int port,
                                 const std::filesystem::path& state_dir,
                                 const std::vector<ApiObject>& objects) {
  ApplyReport report;
  for (const ApiObject& obj : objects) {
    HttpRequest req;
    req.method = "POST";
    req.path = obj.collection;
    req.body = obj.json;
    auto resp =
        HttpsVia(transport, address, port, AdminTls(state_dir, address), req);
    std::string label = obj.kind + " " + obj.name;
    if (!resp) {
      return Fail(ErrorKind::kStep,
                  "cannot create " + label + ": " + resp.error().message,
                  transport.host());
    }
    if (resp->status == 201 || resp->status == 200) {
      report.created.push_back(label);
    } else if (resp->status == 409) {
      report.existing.push_back(label);
    } else {
      return Fail(ErrorKind::kStep,
                  "creating " + label + " returned HTTP " +
                      std::to_string(resp->status) + ": " +
                      resp->body.substr(0, 300),
                  transport.host(),
                  resp->status == 403
                      ? "the admin certificate must carry O=system:masters"
                      : "");
    }
  }
  return report;
}

}  // namespace hardway
