#include "cli/app.hpp"

int main(int argc, char** argv) { return sockscope::cli::run(argc, argv); }
