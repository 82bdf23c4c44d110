#include "authz.h"

#include <algorithm>

namespace standin {
namespace {

bool Contains(const Json& list, const std::string& v) {
  if (!list.is_array()) return false;
  for (const auto& x : list)
    if (x.is_string() &&
        (x.get<std::string>() == v || x.get<std::string>() == "*"))
      return true;
  return false;
}

bool HasGroup(const std::vector<std::string>& groups, const std::string& g) {
  return std::ranges::find(groups, g) != groups.end();
}

Json Rule(std::initializer_list<const char*> verbs,
          std::initializer_list<const char*> groups,
          std::initializer_list<const char*> resources,
          std::initializer_list<const char*> names = {}) {
  Json r = {{"verbs", Json::array()},
            {"apiGroups", Json::array()},
            {"resources", Json::array()}};
  for (auto v : verbs) r["verbs"].push_back(v);
  for (auto g : groups) r["apiGroups"].push_back(g);
  for (auto res : resources) r["resources"].push_back(res);
  if (names.size()) {
    r["resourceNames"] = Json::array();
    for (auto n : names) r["resourceNames"].push_back(n);
  }
  return r;
}

Json NonResource(std::initializer_list<const char*> verbs,
                 std::initializer_list<const char*> urls) {
  Json r = {{"verbs", Json::array()}, {"nonResourceURLs", Json::array()}};
  for (auto v : verbs) r["verbs"].push_back(v);
  for (auto u : urls) r["nonResourceURLs"].push_back(u);
  return r;
}

Json Role(const char* name, Json rules) {
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRole"},
          {"metadata",
           {{"name", name},
            {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"rules", std::move(rules)}};
}

Json Binding(
    const char* name, const char* role,
    std::initializer_list<std::pair<const char*, const char*>> subjects) {
  Json subs = Json::array();
  for (auto [kind, who] : subjects)
    subs.push_back({{"kind", kind},
                    {"apiGroup", "rbac.authorization.k8s.io"},
                    {"name", who}});
  return {{"apiVersion", "rbac.authorization.k8s.io/v1"},
          {"kind", "ClusterRoleBinding"},
          {"metadata",
           {{"name", name},
            {"labels", {{"kubernetes.io/bootstrapping", "rbac-defaults"}}}}},
          {"roleRef",
           {{"apiGroup", "rbac.authorization.k8s.io"},
            {"kind", "ClusterRole"},
            {"name", role}}},
          {"subjects", subs}};
}

// The node authorizer falls back to these (the system:node role's rules) for
// what it does not handle itself.
const Json& NodeRules() {
  static const Json rules = Json::array(
      {Rule({"create", "delete", "get", "list", "watch", "patch", "update"},
            {""}, {"nodes"}),
       Rule({"patch", "update"}, {""}, {"nodes/status"}),
       Rule({"create", "update", "patch"}, {"", "events.k8s.io"}, {"events"}),
       Rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
       Rule({"create"}, {"authorization.k8s.io"},
            {"subjectaccessreviews", "localsubjectaccessreviews"}),
       Rule({"get", "list", "watch"}, {""},
            {"services", "endpoints", "pods"})});
  return rules;
}

bool SubjectMatches(const Json& s, const Attributes& a) {
  std::string kind = s.value("kind", "");
  std::string name = s.value("name", "");
  if (kind == "User") return name == a.user;
  if (kind == "Group") return HasGroup(a.groups, name);
  if (kind == "ServiceAccount")
    return a.user ==
           "system:serviceaccount:" + s.value("namespace", "") + ":" + name;
  return false;
}

std::string ResourceWithGroup(const Attributes& a) {
  return a.api_group.empty() ? a.resource : a.resource + "." + a.api_group;
}

}  // namespace

std::string NodeNameOf(const std::string& user,
                       const std::vector<std::string>& groups) {
  static const std::string kPrefix = "system:node:";
  if (!HasGroup(groups, "system:nodes") || !user.starts_with(kPrefix))
    return {};
  return user.substr(kPrefix.size());
}

bool RuleAllows(const Json& rule, const Attributes& a) {
  if (!Contains(rule.value("verbs", Json::array()), a.verb)) return false;
  if (!a.resource_request) {
    if (!rule.contains("nonResourceURLs")) return false;
    for (const auto& u : rule["nonResourceURLs"]) {
      std::string url = u.is_string() ? u.get<std::string>() : "";
      if (url == a.path || url == "*") return true;
      if (url.ends_with('*') &&
          a.path.starts_with(url.substr(0, url.size() - 1)))
        return true;
    }
    return false;
  }
  if (!Contains(rule.value("apiGroups", Json::array()), a.api_group))
    return false;
  std::string combined =
      a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  bool resource_ok = false;
  for (const auto& r : rule.value("resources", Json::array())) {
    std::string res = r.is_string() ? r.get<std::string>() : "";
    if (res == "*" || res == combined ||
        (!a.subresource.empty() && res == "*/" + a.subresource))
      resource_ok = true;
  }
  if (!resource_ok) return false;
  const Json names = rule.value("resourceNames", Json::array());
  if (names.empty()) return true;
  return !a.name.empty() && Contains(names, a.name);
}

Decision NodeAuthorize(const Attributes& a) {
  std::string node = NodeNameOf(a.user, a.groups);
  if (node.empty()) return {};
  if (a.resource_request && a.api_group == "coordination.k8s.io" &&
      a.resource == "leases") {
    static constexpr const char* kVerbs[] = {"get", "create", "update", "patch",
                                             "delete"};
    if (std::ranges::find(kVerbs, a.verb) == std::end(kVerbs))
      return {Verdict::kNoOpinion,
              "can only get, create, update, patch, or delete a node lease"};
    if (a.ns != "kube-node-lease")
      return {
          Verdict::kNoOpinion,
          "can only access leases in the \"kube-node-lease\" system namespace"};
    // On create the name is not known yet; NodeRestriction checks it.
    if (a.verb != "create" && a.name != node)
      return {Verdict::kNoOpinion,
              "can only access node lease with the same name as the requesting "
              "node"};
    return {Verdict::kAllow, ""};
  }
  for (const auto& rule : NodeRules())
    if (RuleAllows(rule, a)) return {Verdict::kAllow, ""};
  return {};
}

Decision RbacAuthorize(const Attributes& a, const std::vector<Json>& roles,
                       const std::vector<Json>& bindings) {
  for (const auto& b : bindings) {
    bool bound = false;
    for (const auto& s : b.value("subjects", Json::array()))
      bound = bound || SubjectMatches(s, a);
    if (!bound) continue;
    const Json ref = b.value("roleRef", Json::object());
    if (ref.value("kind", "") != "ClusterRole") continue;
    std::string role_name = ref.value("name", "");
    for (const auto& r : roles) {
      if (r["metadata"].value("name", "") != role_name) continue;
      for (const auto& rule : r.value("rules", Json::array()))
        if (RuleAllows(rule, a))
          return {Verdict::kAllow, "RBAC: allowed by ClusterRoleBinding \"" +
                                       b["metadata"].value("name", "") +
                                       "\" of ClusterRole \"" + role_name +
                                       "\""};
    }
  }
  return {};
}

const std::vector<Json>& BootstrapClusterRoles() {
  static const std::vector<Json> roles = {
      Role("cluster-admin",
           Json::array({Rule({"*"}, {"*"}, {"*"}), NonResource({"*"}, {"*"})})),
      Role("system:public-info-viewer",
           Json::array({NonResource({"get"}, {"/healthz", "/livez", "/readyz",
                                              "/version", "/version/"})})),
      Role("system:discovery",
           Json::array({NonResource(
               {"get"}, {"/api", "/api/*", "/apis", "/apis/*", "/healthz",
                         "/livez", "/openapi", "/openapi/*", "/readyz",
                         "/version", "/version/"})})),
      Role("system:basic-user",
           Json::array({Rule(
               {"create"}, {"authorization.k8s.io"},
               {"selfsubjectaccessreviews", "selfsubjectrulesreviews"})})),
      Role("system:kube-controller-manager",
           Json::array(
               {Rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
                Rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"},
                     {"kube-controller-manager"}),
                Rule({"get", "list", "watch"}, {"*"}, {"*"}),
                Rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                Rule({"create"}, {"authorization.k8s.io"},
                     {"subjectaccessreviews"})})),
      Role("system:kube-scheduler",
           Json::array(
               {Rule({"create"}, {"coordination.k8s.io"}, {"leases"}),
                Rule({"get", "update"}, {"coordination.k8s.io"}, {"leases"},
                     {"kube-scheduler"}),
                Rule({"get", "list", "watch"}, {""},
                     {"nodes", "pods", "namespaces"}),
                Rule({"create"}, {"authentication.k8s.io"}, {"tokenreviews"}),
                Rule({"create"}, {"authorization.k8s.io"},
                     {"subjectaccessreviews"})})),
      Role(
          "system:node-proxier",
          Json::array({Rule({"get", "list", "watch"}, {""}, {"nodes"}),
                       Rule({"list", "watch"}, {""}, {"services", "endpoints"}),
                       Rule({"list", "watch"}, {"discovery.k8s.io"},
                            {"endpointslices"})})),
      Role("system:node", NodeRules()),
  };
  return roles;
}

const std::vector<Json>& BootstrapClusterRoleBindings() {
  static const std::vector<Json> bindings = {
      Binding("cluster-admin", "cluster-admin", {{"Group", "system:masters"}}),
      Binding("system:public-info-viewer", "system:public-info-viewer",
              {{"Group", "system:authenticated"},
               {"Group", "system:unauthenticated"}}),
      Binding("system:discovery", "system:discovery",
              {{"Group", "system:authenticated"}}),
      Binding("system:basic-user", "system:basic-user",
              {{"Group", "system:authenticated"}}),
      Binding("system:kube-controller-manager",
              "system:kube-controller-manager",
              {{"User", "system:kube-controller-manager"}}),
      Binding("system:kube-scheduler", "system:kube-scheduler",
              {{"User", "system:kube-scheduler"}}),
      Binding("system:node-proxier", "system:node-proxier",
              {{"User", "system:kube-proxy"}}),
  };
  return bindings;
}

std::string NodeRestriction(const Attributes& a,
                            const std::string& object_name) {
  std::string node = NodeNameOf(a.user, a.groups);
  if (node.empty() || !a.resource_request) return {};
  static constexpr const char* kMutating[] = {"create", "update", "patch",
                                              "delete"};
  if (std::ranges::find(kMutating, a.verb) == std::end(kMutating)) return {};
  if (a.api_group.empty() && a.resource == "nodes" && object_name != node)
    return "node \"" + node + "\" is not allowed to modify node \"" +
           object_name + "\"";
  if (a.api_group == "coordination.k8s.io" && a.resource == "leases" &&
      a.ns == "kube-node-lease" && object_name != node)
    return "can only access node lease with the same name as the requesting "
           "node";
  return {};
}

std::string ForbiddenMessage(const Attributes& a) {
  if (!a.resource_request)
    return "forbidden: User \"" + a.user + "\" cannot " + a.verb + " path \"" +
           a.path + "\"";
  std::string what = ResourceWithGroup(a);
  std::string head = a.name.empty() ? what + " is forbidden"
                                    : what + " \"" + a.name + "\" is forbidden";
  std::string res =
      a.subresource.empty() ? a.resource : a.resource + "/" + a.subresource;
  std::string scope = a.ns.empty() ? "at the cluster scope"
                                   : "in the namespace \"" + a.ns + "\"";
  return head + ": User \"" + a.user + "\" cannot " + a.verb + " resource \"" +
         res + "\" in API group \"" + a.api_group + "\" " + scope;
}

}  // namespace standin
