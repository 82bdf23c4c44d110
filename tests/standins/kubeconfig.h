// Kubeconfig loading as client-go does for certificate auth, plus the
// cross-checks a stand-in makes: https server, CA present, client key matches
// its certificate, and the client certificate verifies against the kubeconfig's
// own CA.
#pragma once

#include <string>

#include "common.h"
#include "http.h"

namespace standin {

struct Kubeconfig {
  std::string path;
  std::string server;  // https://host:port, no trailing slash
  ClientTls tls;       // CA, client cert and key (PEM)
  std::string user;    // client certificate CN
  std::vector<std::string> groups;
};

// `what` names the source, e.g. "--kubeconfig" or "clientConnection.kubeconfig
// in --config".
Result<Kubeconfig> LoadKubeconfig(const std::string& path,
                                  const std::string& what);

}  // namespace standin
