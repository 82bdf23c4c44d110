// YAML (config files, kubeconfigs, application/yaml bodies) read into
// nlohmann::json, so the rest of the stand-ins deal with one document model.
// yaml-cpp exceptions stop here.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "common.h"

namespace standin {

using Json = nlohmann::json;

// Plain scalars become null/bool/int/float when they look like one (YAML 1.2
// core schema); quoted scalars stay strings.
Result<Json> YamlToJson(const std::string& text, const std::string& what);
Result<Json> LoadYamlFile(const std::string& path, const std::string& what);

// Small typed accessors for config objects: a dotted path
// ("authentication.x509.clientCAFile") to a string/bool/int; nullopt-like
// fallback when absent, error when of the wrong type.
Result<std::string> GetString(const Json& doc, const std::string& path,
                              const std::string& what,
                              const std::string& fallback = {});
Result<bool> GetBool(const Json& doc, const std::string& path,
                     const std::string& what, bool fallback);
Result<long long> GetInt(const Json& doc, const std::string& path,
                         const std::string& what, long long fallback);
// apiVersion and kind must be as given (kind exact, apiVersion one of the
// accepted ones).
Status CheckKind(const Json& doc, const std::string& kind,
                 std::initializer_list<const char*> api_versions,
                 const std::string& what);

}  // namespace standin
