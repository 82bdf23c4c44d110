#include "kubeconfig.h"

#include <openssl/evp.h>

#include <filesystem>

#include "x509util.h"
#include "yaml_json.h"

namespace standin {
namespace {

Result<std::string> Base64Decode(const std::string& in,
                                 const std::string& what) {
  std::string clean;
  for (char c : in)
    if (!isspace(static_cast<unsigned char>(c))) clean += c;
  std::string out(clean.size() / 4 * 3 + 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(clean.data()),
                          static_cast<int>(clean.size()));
  if (n < 0 || clean.size() % 4 != 0)
    return Fail(what + " is not valid base64");
  size_t pad = 0;
  if (!clean.empty() && clean.back() == '=') ++pad;
  if (clean.size() > 1 && clean[clean.size() - 2] == '=') ++pad;
  out.resize(n - pad);
  return out;
}

const Json* FindNamed(const Json& doc, const std::string& list,
                      const std::string& name) {
  if (!doc.contains(list) || !doc[list].is_array()) return nullptr;
  for (const auto& item : doc[list])
    if (item.is_object() && item.value("name", "") == name) return &item;
  return nullptr;
}

// "<field>-data" (base64) or "<field>" (a path, relative to the kubeconfig's
// folder).
Result<std::string> DataOrFile(const Json& obj, const std::string& field,
                               const std::string& where,
                               const std::filesystem::path& dir) {
  if (obj.contains(field + "-data") && obj[field + "-data"].is_string())
    return Base64Decode(obj[field + "-data"].get<std::string>(),
                        where + "." + field + "-data");
  if (obj.contains(field) && obj[field].is_string()) {
    std::filesystem::path p = obj[field].get<std::string>();
    if (p.is_relative()) p = dir / p;
    return ReadWholeFile(p.string(), where + "." + field);
  }
  return Fail(where + ": neither " + field + "-data nor " + field + " is set");
}

}  // namespace

Result<Kubeconfig> LoadKubeconfig(const std::string& path,
                                  const std::string& what) {
  std::string src = what + " " + path;
  auto doc = LoadYamlFile(path, what);
  if (!doc) return Fail(doc.error());
  if (auto s = CheckKind(*doc, "Config", {"v1"}, src); !s)
    return Fail(s.error());
  std::string ctx_name = doc->value("current-context", "");
  if (ctx_name.empty()) return Fail(src + ": current-context is not set");
  const Json* ctx = FindNamed(*doc, "contexts", ctx_name);
  if (!ctx || !ctx->contains("context"))
    return Fail(src + ": current-context \"" + ctx_name +
                "\" is not in contexts");
  std::string cluster_name = (*ctx)["context"].value("cluster", "");
  std::string user_name = (*ctx)["context"].value("user", "");
  const Json* cluster = FindNamed(*doc, "clusters", cluster_name);
  if (!cluster || !cluster->contains("cluster"))
    return Fail(src + ": context \"" + ctx_name + "\" names cluster \"" +
                cluster_name + "\", which is not in clusters");
  const Json* user = FindNamed(*doc, "users", user_name);
  if (!user || !user->contains("user"))
    return Fail(src + ": context \"" + ctx_name + "\" names user \"" +
                user_name + "\", which is not in users");
  const Json& c = (*cluster)["cluster"];
  const Json& u = (*user)["user"];
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  Kubeconfig kc;
  kc.path = path;
  kc.server = c.value("server", "");
  std::string cwhere = src + ": clusters[" + cluster_name + "].cluster";
  std::string uwhere = src + ": users[" + user_name + "].user";
  auto url = ParseUrl(kc.server);
  if (!url) return Fail(cwhere + ".server: " + url.error());
  if (url->scheme != "https")
    return Fail(cwhere + ".server \"" + kc.server + "\" is not https");
  while (kc.server.ends_with('/')) kc.server.pop_back();
  if (c.value("insecure-skip-tls-verify", false))
    return Fail(cwhere +
                ": insecure-skip-tls-verify is set; the server certificate "
                "must be verified");
  auto ca = DataOrFile(c, "certificate-authority", cwhere, dir);
  if (!ca) return Fail(ca.error());
  auto cas = ParseCerts(*ca, cwhere + ".certificate-authority");
  if (!cas) return Fail(cas.error());
  if (u.contains("token") || u.contains("tokenFile") ||
      u.contains("username") || u.contains("exec"))
    return Fail(
        uwhere +
        ": the stand-ins expect client-certificate authentication only");
  auto cert = DataOrFile(u, "client-certificate", uwhere, dir);
  if (!cert) return Fail(cert.error());
  auto key = DataOrFile(u, "client-key", uwhere, dir);
  if (!key) return Fail(key.error());
  auto chain = ParseCerts(*cert, uwhere + ".client-certificate");
  if (!chain) return Fail(chain.error());
  auto pkey = ParseKey(*key, uwhere + ".client-key");
  if (!pkey) return Fail(pkey.error());
  if (auto s = CheckKeyMatches((*chain)[0].get(), pkey->get(),
                               uwhere + ".client-certificate",
                               uwhere + ".client-key");
      !s)
    return Fail(s.error());
  if (auto s = CheckIsCa(*cas, cwhere + ".certificate-authority"); !s)
    return Fail(s.error());
  if (auto s = VerifyChain(*chain, *cas, Purpose::kClient,
                           uwhere + ".client-certificate",
                           cwhere + ".certificate-authority");
      !s)
    return Fail(s.error());
  kc.tls = ClientTls{*ca, *cert, *key};
  kc.user = CommonName((*chain)[0].get());
  kc.groups = Organizations((*chain)[0].get());
  return kc;
}

}  // namespace standin
