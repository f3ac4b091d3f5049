#include "cli/app.hpp"

#include <iostream>

#include <fmt/format.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include "cli/doctor_command.hpp"
#include "cli/explain_command.hpp"
#include "cli/trace_command.hpp"
#include "probes/error.hpp"
#include "probes/system.hpp"
#include "probes/tracer.hpp"
#include "spawn/held_command.hpp"

namespace sockscope::cli {

int run(int argc, char** argv) {
  CLI::App app{"sockscope: what the Linux kernel does when a program uses TCP sockets"};
  app.require_subcommand(1);
  // SOCKSCOPE_VERSION: the CMake project's VERSION.
  app.set_version_flag(
      "--version", [] { return fmt::format("sockscope {}\nlibbpf {}", SOCKSCOPE_VERSION, probes::libbpf_version()); },
      "Print sockscope's version and the libbpf it runs with, and exit");
  int verbose = 0;
  app.add_flag("-v,--verbose", verbose, "More detail on stderr (-vv: libbpf's own log)");

  TraceOptions trace_opts;
  auto* trace = add_trace_command(app, trace_opts);
  ExplainOptions explain_opts;
  auto* explain = add_explain_command(app, explain_opts);
  auto* doctor = add_doctor_command(app);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::CallForVersion& e) {
    std::cout << e.what() << "\n";
    return 0;
  } catch (const CLI::ParseError& e) {
    std::string msg = e.what();
    for (auto& c : msg)
      if (c == '\n') c = ' ';
    std::cerr << "sockscope: error: " << msg << "\n";
    return 2;
  }

  auto logger = spdlog::stderr_color_mt("sockscope");
  logger->set_pattern("sockscope: %^%l%$: %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(verbose >= 2 ? spdlog::level::trace : verbose == 1 ? spdlog::level::debug : spdlog::level::warn);
  probes::install_libbpf_logger();

  try {
    if (trace->parsed()) return run_trace(trace_opts);
    if (explain->parsed()) return run_explain(explain_opts);
    if (doctor->parsed()) return run_doctor();
  } catch (const spawn::CannotRun& e) {
    std::cerr << "sockscope: error: " << e.what() << "\n";
    return 127;  // as a shell says it could not run a command
  } catch (const probes::TraceError& e) {
    std::cerr << "sockscope: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "sockscope: error: " << e.what() << "\n";
    return 1;
  }
  return 0;
}

}  // namespace sockscope::cli
