// probes/kernel_btf.cpp's one-pass FUNC lookup against libbpf's full parse:
// the same ids for every record kind's trailing data, on a BTF blob built
// with libbpf, and on this kernel's own BTF where it is readable.
#include <catch2/catch.hpp>

#include <bpf/btf.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "probes/kernel_btf.hpp"

using namespace sockscope::probes;

namespace {

using BtfPtr = std::unique_ptr<btf, decltype(&btf__free)>;

std::span<const std::byte> raw_of(const btf* b) {
  uint32_t size = 0;
  const void* data = btf__raw_data(b, &size);
  return {static_cast<const std::byte*>(data), size};
}

std::vector<uint32_t> libbpf_ids(const btf* b, const std::vector<std::string_view>& names) {
  std::vector<uint32_t> out;
  for (std::string_view n : names) {
    const int id = btf__find_by_name_kind(b, std::string(n).c_str(), BTF_KIND_FUNC);
    out.push_back(id < 0 ? 0 : static_cast<uint32_t>(id));
  }
  return out;
}

}  // namespace

TEST_CASE("btf_func_ids steps over every kind of record and finds the first FUNC of each name") {
  BtfPtr b{btf__new_empty(), &btf__free};
  REQUIRE(b);
  btf* t = b.get();
  const int i32 = btf__add_int(t, "int", 4, BTF_INT_SIGNED);
  const int ptr = btf__add_ptr(t, i32);
  REQUIRE(btf__add_array(t, i32, i32, 4) > 0);
  const int st = btf__add_struct(t, "sock", 8);
  REQUIRE(btf__add_field(t, "a", i32, 0, 0) == 0);
  REQUIRE(btf__add_field(t, "b", ptr, 32, 0) == 0);
  REQUIRE(btf__add_union(t, "u", 4) > 0);
  REQUIRE(btf__add_field(t, "x", i32, 0, 0) == 0);
  REQUIRE(btf__add_enum(t, "e", 4) > 0);
  REQUIRE(btf__add_enum_value(t, "E0", 0) == 0);
  REQUIRE(btf__add_enum_value(t, "E1", 1) == 0);
  REQUIRE(btf__add_enum64(t, "e64", 8, false) > 0);
  REQUIRE(btf__add_enum64_value(t, "BIG", 1ull << 40) == 0);
  REQUIRE(btf__add_fwd(t, "fwd", BTF_FWD_STRUCT) > 0);
  REQUIRE(btf__add_typedef(t, "td", i32) > 0);
  REQUIRE(btf__add_volatile(t, i32) > 0);
  REQUIRE(btf__add_const(t, i32) > 0);
  REQUIRE(btf__add_restrict(t, ptr) > 0);
  REQUIRE(btf__add_type_tag(t, "user", i32) > 0);
  REQUIRE(btf__add_float(t, "double", 8) > 0);
  const int proto = btf__add_func_proto(t, i32);
  REQUIRE(btf__add_func_param(t, "sk", ptr) == 0);
  REQUIRE(btf__add_func_param(t, "n", i32) == 0);
  // A variable named like a function, and a function of another name, before the first match.
  const int var = btf__add_var(t, "inet_listen", BTF_VAR_GLOBAL_ALLOCATED, i32);
  const int bind = btf__add_func(t, "inet_bind", BTF_FUNC_GLOBAL, proto);
  REQUIRE(bind > var);
  REQUIRE(btf__add_datasec(t, ".data", 4) > 0);
  REQUIRE(btf__add_datasec_var_info(t, var, 0, 4) == 0);
  REQUIRE(btf__add_decl_tag(t, "tag", st, 1) > 0);
  const int listen = btf__add_func(t, "inet_listen", BTF_FUNC_STATIC, proto);
  REQUIRE(btf__add_func(t, "inet_listen", BTF_FUNC_GLOBAL, proto) > listen);  // a second one: not returned

  const std::vector<std::string_view> names = {"inet_listen", "inet_bind", "tcp_conn_request", "sock"};
  const auto ids = btf_func_ids(raw_of(t), names);
  REQUIRE(ids);
  CHECK(*ids == std::vector<uint32_t>{static_cast<uint32_t>(listen), static_cast<uint32_t>(bind), 0, 0});
  CHECK(*ids == libbpf_ids(t, names));
}

TEST_CASE("btf_func_ids refuses what is not BTF") {
  const std::vector<std::string_view> names = {"inet_listen"};
  const std::vector<std::byte> empty;
  CHECK_FALSE(btf_func_ids(empty, names));
  std::vector<std::byte> junk(64, std::byte{0x5a});
  CHECK_FALSE(btf_func_ids(junk, names));

  // A header whose type section runs past the end of the data.
  BtfPtr b{btf__new_empty(), &btf__free};
  REQUIRE(btf__add_int(b.get(), "int", 4, 0) > 0);
  const auto raw = raw_of(b.get());
  CHECK_FALSE(btf_func_ids(raw.first(raw.size() - 8), names));
}

TEST_CASE("kernel_func_ids agrees with libbpf on this kernel's BTF") {
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    WARN("no readable /sys/kernel/btf/vmlinux: skipped");
    return;
  }
  BtfPtr vmlinux{btf__load_vmlinux_btf(), &btf__free};
  REQUIRE(vmlinux);
  const std::vector<std::string_view> names = {"inet_bind",
                                               "inet6_bind",
                                               "inet_listen",
                                               "tcp_conn_request",
                                               "inet_csk_complete_hashdance",
                                               "inet_csk_accept",
                                               "no_such_function_in_any_kernel"};
  const auto ids = kernel_func_ids(names);
  REQUIRE(ids);
  CHECK(*ids == libbpf_ids(vmlinux.get(), names));
  CHECK(ids->back() == 0);
}
