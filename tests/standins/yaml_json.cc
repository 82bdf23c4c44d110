#include "yaml_json.h"

#include <yaml-cpp/yaml.h>

#include <charconv>
#include <regex>

#include "x509util.h"

namespace standin {
namespace {

Json ScalarToJson(const YAML::Node& node) {
  const std::string& s = node.Scalar();
  if (node.Tag() == "!") return s;  // quoted: always a string
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL")
    return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  static const std::regex kInt("[-+]?[0-9]+");
  static const std::regex kFloat(
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?");
  if (std::regex_match(s, kInt)) {
    long long v = 0;
    const char* b = s.data() + (s[0] == '+' ? 1 : 0);
    auto [p, ec] = std::from_chars(b, s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) return v;
    return s;
  }
  if (std::regex_match(s, kFloat)) return std::stod(s);
  return s;
}

Json NodeToJson(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
      return nullptr;
    case YAML::NodeType::Scalar:
      return ScalarToJson(node);
    case YAML::NodeType::Sequence: {
      Json arr = Json::array();
      for (const auto& item : node) arr.push_back(NodeToJson(item));
      return arr;
    }
    case YAML::NodeType::Map: {
      Json obj = Json::object();
      for (const auto& kv : node)
        obj[kv.first.as<std::string>()] = NodeToJson(kv.second);
      return obj;
    }
  }
  return nullptr;
}

const Json* Walk(const Json& doc, const std::string& path) {
  const Json* cur = &doc;
  size_t start = 0;
  while (start <= path.size()) {
    size_t dot = path.find('.', start);
    std::string key =
        path.substr(start, dot == std::string::npos ? dot : dot - start);
    if (!cur->is_object() || !cur->contains(key)) return nullptr;
    cur = &(*cur)[key];
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return cur->is_null() ? nullptr : cur;
}

}  // namespace

Result<Json> YamlToJson(const std::string& text, const std::string& what) {
  try {
    return NodeToJson(YAML::Load(text));
  } catch (const YAML::Exception& e) {
    return Fail(what + ": not valid YAML: line " +
                std::to_string(e.mark.line + 1) + ", column " +
                std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
}

Result<Json> LoadYamlFile(const std::string& path, const std::string& what) {
  auto text = ReadWholeFile(path, what);
  if (!text) return Fail(text.error());
  auto doc = YamlToJson(*text, what + " " + path);
  if (!doc) return doc;
  if (!doc->is_object())
    return Fail(what + " " + path + ": expected a YAML mapping");
  return doc;
}

Result<std::string> GetString(const Json& doc, const std::string& path,
                              const std::string& what,
                              const std::string& fallback) {
  const Json* v = Walk(doc, path);
  if (!v) return fallback;
  if (v->is_string()) return v->get<std::string>();
  if (v->is_number() || v->is_boolean()) return v->dump();
  return Fail(what + ": " + path + " must be a string");
}

Result<bool> GetBool(const Json& doc, const std::string& path,
                     const std::string& what, bool fallback) {
  const Json* v = Walk(doc, path);
  if (!v) return fallback;
  if (!v->is_boolean())
    return Fail(what + ": " + path + " must be true or false, not " +
                v->dump());
  return v->get<bool>();
}

Result<long long> GetInt(const Json& doc, const std::string& path,
                         const std::string& what, long long fallback) {
  const Json* v = Walk(doc, path);
  if (!v) return fallback;
  if (!v->is_number_integer())
    return Fail(what + ": " + path + " must be an integer, not " + v->dump());
  return v->get<long long>();
}

Status CheckKind(const Json& doc, const std::string& kind,
                 std::initializer_list<const char*> api_versions,
                 const std::string& what) {
  std::string got_kind = doc.value("kind", "");
  std::string got_version = doc.value("apiVersion", "");
  if (got_kind != kind)
    return Fail(what + ": kind is \"" + got_kind + "\", expected \"" + kind +
                "\"");
  std::string accepted;
  for (const char* v : api_versions) {
    if (got_version == v) return {};
    accepted += (accepted.empty() ? "" : " or ") + std::string(v);
  }
  return Fail(what + ": apiVersion is \"" + got_version + "\", expected " +
              accepted);
}

}  // namespace standin
