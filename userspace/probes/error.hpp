// The probes layer's one error type: a fatal, user-facing problem.
#pragma once

#include <stdexcept>

namespace sockscope::probes {

// what() is one line, printed as "sockscope: error: <what>".
class TraceError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace sockscope::probes
