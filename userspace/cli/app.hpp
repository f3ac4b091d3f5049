// The command line: subcommands, their options, and one-line errors.
#pragma once

namespace sockscope::cli {

// Parses argv and runs the subcommand; returns the process exit code.
int run(int argc, char** argv);

}  // namespace sockscope::cli
