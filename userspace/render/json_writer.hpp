// JsonWriter: a minimal, allocation-free JSON writer (objects and arrays)
// for JSON Lines.
//
// Why hand-written instead of a JSON library:
//   * Hot path: one record is rendered per kernel event.
//   * No allocation per event: output is appended into a caller-owned
//     std::string that the caller clear()s and reuses, so once its capacity
//     has grown to the largest record nothing allocates in steady state.
//   * Explicit UTF-8 policy: input strings (task comm, paths, ...) are
//     arbitrary bytes. The output never contains invalid UTF-8: every input
//     byte that is not part of a valid UTF-8 sequence (RFC 3629) is replaced
//     by U+FFFD, one replacement per invalid byte. See
//     append_json_string_contents().
//
// The unit tests (tests/unit/json_writer_test.cpp) check exact output and
// round-trip the output through nlohmann-json.
#pragma once

#include <cassert>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace sockscope::render {

// Escape `bytes` as the contents of a JSON string (without the surrounding
// quotes), appending to `out`. `bytes` is treated as raw bytes; embedded NULs
// are allowed.
//
//   * `"` -> `\"`, `\` -> `\\`; \b \f \n \r \t use the short escapes; other
//     bytes < 0x20 and 0x7f (DEL) -> `\u00xx`.
//   * Valid UTF-8 sequences (RFC 3629: no overlong forms, no surrogates
//     U+D800..U+DFFF, nothing above U+10FFFF) are copied through unchanged.
//   * The output never contains invalid UTF-8: each input byte that is not
//     part of a valid UTF-8 sequence becomes U+FFFD (bytes EF BF BD), one
//     U+FFFD per invalid byte. E.g. a truncated `E2 82` yields two U+FFFD.
void append_json_string_contents(std::string& out, std::string_view bytes);

class JsonWriter {
 public:
  static constexpr int kMaxDepth = 8;

  // Appends to `out`. The caller owns the buffer and should clear() and
  // reuse it between records so that no allocation happens in steady state.
  explicit JsonWriter(std::string& out) noexcept : out_(out) {}

  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  // '{'. A value like any other: the top-level object, the value of the
  // preceding key() (begin_object_value() says so), or an array element.
  // Nesting of objects and arrays together is limited to kMaxDepth levels
  // (checked with assert).
  void begin_object();
  void end_object();  // '}'

  // '[': an array, at the top, as the value of the preceding key()
  // (begin_array_value() says so), or as an element of another. Its
  // elements are plain value() calls, or begin_object()/begin_array(); the
  // writer puts the commas between them.
  void begin_array();
  void end_array();  // ']'

  // Writes `"k":`, preceded by ',' unless it is the first member of the
  // current object. Only inside an object (checked with assert).
  void key(std::string_view k);
  // A key written in the source (the hot path's ~30 per record): one copy
  // of a length known when compiling; the compiler folds the check for
  // bytes that need escaping, which then take the general path.
  template <std::size_t N>
  void key(const char (&k)[N]) {
    if (N > 60 || !plain_ascii(std::string_view(k, N - 1))) return key(std::string_view(k, N - 1));
    assert(depth_ > 0 && !array_[depth_ - 1] && "JsonWriter: key outside of an object");
    char buf[N + 3];
    std::size_t n = 0;
    bool& first = first_[depth_ - 1];
    if (!first) buf[n++] = ',';
    first = false;
    buf[n++] = '"';
    __builtin_memcpy(buf + n, k, N - 1);
    n += N - 1;
    buf[n++] = '"';
    buf[n++] = ':';
    out_.append(buf, n);
  }

  void value(std::string_view s);  // JSON string, escaped
  // Same as string_view (a separate overload so that string literals do not
  // pick value(bool)). nullptr is written as null.
  void value(const char* s);
  void value(std::int64_t v);
  void value(std::uint64_t v);
  void value(int v);
  void value(unsigned v);
  void value(bool b);
  // Fixed notation with `decimals` digits after the point (clamped to
  // [0, 20]), e.g. value(0.0812, 2) -> 0.08. NaN and +/-inf are written as
  // null.
  void value(double d, int decimals);

  // Other integer types (e.g. `unsigned long long`, which is what the
  // kernel's __u64 is, and which would otherwise be ambiguous).
  template <std::integral T>
  requires(!std::same_as<T, bool>) void value(T v) {
    separate();
    if constexpr (std::is_signed_v<T>) {
      write_int(static_cast<std::int64_t>(v));
    } else {
      write_uint(static_cast<std::uint64_t>(v));
    }
  }

  void null();

  // A nested object, or an array, as the value of the preceding key().
  void begin_object_value();
  void begin_array_value();

  // Convenience: field(k, v) == key(k); value(v);
  template <class T>
  void field(std::string_view k, const T& v) {
    key(k);
    value(v);
  }
  template <std::size_t N, class T>
  void field(const char (&k)[N], const T& v) {
    key(k);
    value(v);
  }

  // Current nesting depth (0 when no object or array is open).
  int depth() const noexcept { return depth_; }

 private:
  static constexpr bool plain_ascii(std::string_view s) {
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') return false;
    }
    return true;
  }
  // Before any value: inside an array, the ',' between elements (inside an
  // object, key() wrote it).
  void separate() {
    if (depth_ > 0 && array_[depth_ - 1]) {
      if (!first_[depth_ - 1]) out_.push_back(',');
      first_[depth_ - 1] = false;
    }
  }
  void open(char bracket, bool array);
  void close(char bracket, bool array);
  void write_int(std::int64_t v);
  void write_uint(std::uint64_t v);

  std::string& out_;
  int depth_ = 0;
  bool first_[kMaxDepth] = {};  // first_[d]: no member or element written yet at depth d+1
  bool array_[kMaxDepth] = {};  // array_[d]: depth d+1 is an array, not an object
};

}  // namespace sockscope::render
