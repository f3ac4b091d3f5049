#include "probes/kernel_btf.hpp"

#include <fcntl.h>
#include <linux/btf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace sockscope::probes {

namespace {

// Bytes that follow a type record of `kind` with `vlen` entries (linux/btf.h);
// nullopt for a kind this code does not know.
std::optional<std::size_t> trailing_bytes(uint32_t kind, uint32_t vlen) {
  switch (kind) {
    case BTF_KIND_INT: return sizeof(uint32_t);
    case BTF_KIND_PTR:
    case BTF_KIND_FWD:
    case BTF_KIND_TYPEDEF:
    case BTF_KIND_VOLATILE:
    case BTF_KIND_CONST:
    case BTF_KIND_RESTRICT:
    case BTF_KIND_FUNC:
    case BTF_KIND_FLOAT:
    case BTF_KIND_TYPE_TAG: return 0;
    case BTF_KIND_ARRAY: return sizeof(btf_array);
    case BTF_KIND_STRUCT:
    case BTF_KIND_UNION: return vlen * sizeof(btf_member);
    case BTF_KIND_ENUM: return vlen * sizeof(btf_enum);
    case BTF_KIND_FUNC_PROTO: return vlen * sizeof(btf_param);
    case BTF_KIND_VAR: return sizeof(btf_var);
    case BTF_KIND_DATASEC: return vlen * sizeof(btf_var_secinfo);
    case BTF_KIND_DECL_TAG: return sizeof(btf_decl_tag);
    case BTF_KIND_ENUM64: return vlen * sizeof(btf_enum64);
    default: return std::nullopt;
  }
}

// A file's bytes: mapped where the file allows it (sysfs maps the kernel's
// BTF since Linux 6.16), read otherwise.
class FileBytes {
 public:
  explicit FileBytes(const char* path) {
    const int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st {};
    if (fstat(fd, &st) == 0 && st.st_size > 0) {
      size_ = static_cast<std::size_t>(st.st_size);
      void* p = mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p != MAP_FAILED) {
        map_ = p;
      } else {
        buf_.resize(size_);
        std::size_t got = 0;
        while (got < size_) {
          const ssize_t n = read(fd, buf_.data() + got, size_ - got);
          if (n <= 0) break;
          got += static_cast<std::size_t>(n);
        }
        buf_.resize(got);
        size_ = got;
      }
    }
    close(fd);
  }
  ~FileBytes() {
    if (map_) munmap(map_, size_);
  }
  FileBytes(const FileBytes&) = delete;
  FileBytes& operator=(const FileBytes&) = delete;

  std::span<const std::byte> bytes() const {
    return map_ ? std::span(static_cast<const std::byte*>(map_), size_) : std::span<const std::byte>(buf_);
  }

 private:
  void* map_ = nullptr;
  std::size_t size_ = 0;
  std::vector<std::byte> buf_;
};

}  // namespace

std::optional<std::vector<uint32_t>> btf_func_ids(std::span<const std::byte> raw,
                                                  std::span<const std::string_view> names) {
  btf_header hdr{};
  if (raw.size() < sizeof(hdr)) return std::nullopt;
  std::memcpy(&hdr, raw.data(), sizeof(hdr));
  if (hdr.magic != BTF_MAGIC || hdr.hdr_len < sizeof(hdr) || hdr.hdr_len > raw.size()) return std::nullopt;
  const std::span<const std::byte> body = raw.subspan(hdr.hdr_len);
  if (uint64_t{hdr.type_off} + hdr.type_len > body.size() || uint64_t{hdr.str_off} + hdr.str_len > body.size())
    return std::nullopt;
  const std::span<const std::byte> types = body.subspan(hdr.type_off, hdr.type_len);
  const std::string_view strings(reinterpret_cast<const char*>(body.data()) + hdr.str_off, hdr.str_len);

  std::vector<uint32_t> ids(names.size(), 0);
  std::size_t left = names.size();
  uint32_t id = 1;  // type 0 is void, not in the section
  for (std::size_t off = 0; off < types.size() && left > 0; ++id) {
    btf_type t{};
    if (types.size() - off < sizeof(t)) return std::nullopt;
    std::memcpy(&t, types.data() + off, sizeof(t));
    const auto extra = trailing_bytes(BTF_INFO_KIND(t.info), BTF_INFO_VLEN(t.info));
    if (!extra) return std::nullopt;
    off += sizeof(t) + *extra;
    if (BTF_INFO_KIND(t.info) != BTF_KIND_FUNC) continue;
    if (t.name_off >= strings.size()) return std::nullopt;
    const std::string_view rest = strings.substr(t.name_off);
    const std::string_view name = rest.substr(0, rest.find('\0'));
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (ids[i] == 0 && name == names[i]) {
        ids[i] = id;
        --left;
      }
    }
  }
  return ids;
}

std::optional<std::vector<uint32_t>> kernel_func_ids(std::span<const std::string_view> names) {
  const FileBytes file("/sys/kernel/btf/vmlinux");
  return btf_func_ids(file.bytes(), names);
}

}  // namespace sockscope::probes
