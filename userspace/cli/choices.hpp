// An option whose value is one of a few names (--backend, --format, --color):
// one table gives both what CLI11 accepts and what each name means, so a
// choice is never spelled in two places.
#pragma once

#include <array>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

namespace sockscope::cli {

template <typename T>
struct Choice {
  std::string_view name;
  T value;
};

template <typename T, std::size_t N>
using Choices = std::array<Choice<T>, N>;

// The validator for the option: its value must be one of the table's names.
template <typename Table>
CLI::IsMember one_of(const Table& table) {
  std::vector<std::string> names;
  for (const auto& c : table) names.emplace_back(c.name);
  return CLI::IsMember(names);
}

// What `name` means; CLI11 has already refused any other name.
template <typename Table>
const auto& chosen(const Table& table, std::string_view name) {
  for (const auto& c : table)
    if (c.name == name) return c.value;
  throw std::logic_error("no such choice: " + std::string(name));
}

}  // namespace sockscope::cli
