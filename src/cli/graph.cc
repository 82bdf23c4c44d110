// `hardway graph -i FILE [--view trust|startup] [--format svg|dot|mermaid]
// [-o FILE]`: draws who authenticates whom (CAs, certificates, components and
// their mutual-TLS connections) or the phases of `hardway up` with their gates.
// SVG goes through Graphviz's `dot`; DOT and Mermaid are text. Reads the
// inventory and the playbook only; touches no host and no state dir.
#include "trust/graph.h"

#include <iostream>

#include "cli/common.h"
#include "cli/registry.h"
#include "plan/plan_builder.h"
#include "util/files.h"

namespace hardway::cli {
namespace {

struct GraphCmdOptions {
  CommonOptions common;
  std::string view = "trust";
  std::string format;  // empty: svg when dot is installed, else dot
  std::string output;  // empty: stdout
};

int RunGraph(const GraphCmdOptions& opts) {
  const std::string dot_program = FindDot();
  std::string format = opts.format;
  if (format.empty()) {
    format = dot_program.empty() ? "dot" : "svg";
    std::cerr << "hardway: writing " << format
              << (dot_program.empty()
                      ? " (Graphviz `dot` is not installed; for SVG install "
                        "Debian's graphviz)"
                      : " (through " + dot_program + ")")
              << "; choose with --format svg|dot|mermaid\n";
  }
  if (format == "svg" && dot_program.empty()) {
    return ReportError(Error{
        ErrorKind::kUsage,
        "--format svg needs Graphviz's `dot`, which is not on PATH",
        {},
        "install Debian's graphviz (apt-get install graphviz), or use --format "
        "dot or --format mermaid"});
  }
  int exit_code = 0;
  auto cluster = LoadClusterOrReport(opts.common, &exit_code);
  if (!cluster) return exit_code;

  Graph graph;
  if (opts.view == "trust") {
    graph = TrustGraph(*cluster);
  } else {
    // The state dir is only looked at (file sizes), never made.
    PlanOptions plan_options;
    plan_options.state_dir = StateDirFor(opts.common, *cluster);
    auto plan = BuildPlan(*cluster, plan_options);
    if (!plan) return ReportError(plan.error());
    graph = StartupGraph(*plan);
  }
  std::string text = format == "mermaid" ? ToMermaid(graph) : ToDot(graph);
  if (format == "svg") {
    auto svg = DotToSvg(text, dot_program);
    if (!svg) return ReportError(svg.error());
    text = std::move(*svg);
  }
  if (opts.output.empty()) {
    std::cout << text;
    return 0;
  }
  auto written =
      WriteFileAtomic(opts.output, text, std::filesystem::perms(0644));
  if (!written) return ReportError(written.error());
  std::cerr << "hardway: wrote " << opts.output << "\n";
  return 0;
}

const bool kRegistered = RegisterCommand(90, [](CLI::App& app, int* exit_code) {
  auto opts = std::make_shared<GraphCmdOptions>();
  CLI::App* cmd = app.add_subcommand(
      "graph",
      "draw who authenticates whom (--view trust) or the startup phases and "
      "their gates (--view startup)");
  AddInventoryOption(cmd, opts->common);
  cmd->add_option("--view", opts->view, "trust (default) or startup")
      ->check(CLI::IsMember({"trust", "startup"}));
  cmd->add_option("--format", opts->format,
                  "svg (needs Graphviz's dot; the default when installed), "
                  "dot or mermaid")
      ->check(CLI::IsMember({"svg", "dot", "mermaid"}));
  cmd->add_option("-o,--out", opts->output,
                  "write to this file (atomically) instead of stdout");
  cmd->callback([opts, exit_code] { *exit_code = RunGraph(*opts); });
});

}  // namespace
}  // namespace hardway::cli
