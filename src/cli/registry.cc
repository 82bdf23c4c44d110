#include "cli/registry.h"

namespace hardway::cli {

std::vector<CommandEntry>& CommandRegistry() {
  static std::vector<CommandEntry> registry;
  return registry;
}

bool RegisterCommand(int order, AddCommandFn add) {
  CommandRegistry().push_back({order, std::move(add)});
  return true;
}

}  // namespace hardway::cli
