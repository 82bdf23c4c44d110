// Multi-call test stand-in for the Kubernetes server binaries: installed as
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet and
// kube-proxy, it behaves as the name it was started under (or as `standin
// <component> flags...`). Test fixture only; never shipped.
#include <string>
#include <vector>

#include "components.h"

int main(int argc, char** argv) {
  std::string self = argc > 0 ? argv[0] : "standin";
  if (auto slash = self.rfind('/'); slash != std::string::npos)
    self = self.substr(slash + 1);
  std::vector<std::string> args(argv + (argc > 0 ? 1 : 0), argv + argc);
  if (self.starts_with("standin")) {
    if (args.empty()) {
      fprintf(stderr,
              "usage: standin "
              "<kube-apiserver|kube-controller-manager|kube-scheduler|"
              "kubelet|kube-proxy> [flags]\n");
      return 2;
    }
    self = args.front();
    args.erase(args.begin());
  }
  return standin::RunComponent(self, args);
}
