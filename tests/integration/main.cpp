// The integration tests load real BPF programs: they need root. Without it
// each test exits 77, which ctest reports as skipped, with this message.
#define CATCH_CONFIG_RUNNER
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  bool listing = false;
  for (int i = 1; i < argc; i++)
    if (std::strncmp(argv[i], "--list", 6) == 0) listing = true;
  if (!listing && geteuid() != 0) {
    std::fprintf(stderr, "SKIPPED: the integration tests load BPF programs and need root\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}
