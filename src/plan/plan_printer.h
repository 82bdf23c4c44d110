// Prints a Plan for people (text) or programs (JSON): `hardway plan` and
// `hardway up --dry-run` both call these, so what is shown is what runs. Never
// prints file contents: secrets show as
// "<private key, 0600>", rendered files as size and sha256.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "plan/plan.h"
#include "util/error.h"

namespace hardway {

// `only_phase` limits the output to one phase (step numbers stay those of the
// whole plan); an unknown name is a usage error listing the phases.
Result<std::string> FormatPlanText(const Plan& plan,
                                   std::string_view only_phase = {});
Result<nlohmann::json> PlanToJson(const Plan& plan,
                                  std::string_view only_phase = {});

// "0644"
std::string FormatMode(uint32_t mode);
// "812 B", "23.1 MiB"
std::string FormatSize(uint64_t bytes);

}  // namespace hardway
