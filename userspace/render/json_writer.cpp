#include "json_writer.hpp"

#include <algorithm>
#include <cassert>
#include <charconv>
#include <cmath>
#include <system_error>

namespace sockscope::render {
namespace {

constexpr char kHex[] = "0123456789abcdef";
constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// Bytes that can be copied verbatim: printable ASCII except '"' and '\\'.
constexpr bool is_plain_ascii(unsigned char c) noexcept { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

constexpr bool is_cont(unsigned char c) noexcept { return (c & 0xC0) == 0x80; }

// Length of the valid UTF-8 sequence (RFC 3629, Table 3-7 of the Unicode
// standard) starting at p[0] with n >= 1 bytes available, or 0 if the bytes
// at p do not start a valid multi-byte sequence. Only called for p[0] >= 0x80.
std::size_t valid_utf8_len(const unsigned char* p, std::size_t n) noexcept {
  const unsigned char c = p[0];
  if (c >= 0xC2 && c <= 0xDF) {
    return (n >= 2 && is_cont(p[1])) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3) return 0;
    // E0: A0..BF (no overlongs); ED: 80..9F (no surrogates).
    const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
    const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
    if (p[1] < lo || p[1] > hi) return 0;
    return is_cont(p[2]) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4) return 0;
    // F0: 90..BF (no overlongs); F4: 80..8F (max U+10FFFF).
    const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
    const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
    if (p[1] < lo || p[1] > hi) return 0;
    return (is_cont(p[2]) && is_cont(p[3])) ? 4 : 0;
  }
  // 80..C1 (continuation / overlong 2-byte leads), F5..FF.
  return 0;
}

}  // namespace

void append_json_string_contents(std::string& out, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  const std::size_t n = bytes.size();
  // The common case, every byte plain (names, addresses, most comms): one
  // scan and one append.
  if (std::all_of(p, p + n, [](unsigned char c) { return is_plain_ascii(c); })) {
    out.append(bytes);
    return;
  }
  std::size_t i = 0;
  while (i < n) {
    // Fast path: copy a run of plain ASCII in one append.
    std::size_t run = i;
    while (run < n && is_plain_ascii(p[run])) ++run;
    if (run != i) {
      out.append(bytes.data() + i, run - i);
      i = run;
      if (i == n) break;
    }

    const unsigned char c = p[i];
    if (c < 0x80) {
      switch (c) {
        case '"': out.append("\\\"", 2); break;
        case '\\': out.append("\\\\", 2); break;
        case '\b': out.append("\\b", 2); break;
        case '\f': out.append("\\f", 2); break;
        case '\n': out.append("\\n", 2); break;
        case '\r': out.append("\\r", 2); break;
        case '\t': out.append("\\t", 2); break;
        default: {  // other control characters and DEL
          const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
          out.append(esc, sizeof esc);
          break;
        }
      }
      ++i;
      continue;
    }

    const std::size_t len = valid_utf8_len(p + i, n - i);
    if (len != 0) {
      out.append(bytes.data() + i, len);
      i += len;
    } else {
      // One U+FFFD per invalid byte; resynchronise at the next byte.
      out.append(kReplacement);
      ++i;
    }
  }
}

void JsonWriter::open(char bracket, bool array) {
  assert(depth_ < kMaxDepth && "JsonWriter: nesting too deep");
  separate();
  out_.push_back(bracket);
  first_[depth_] = true;
  array_[depth_] = array;
  ++depth_;
}

void JsonWriter::close(char bracket, [[maybe_unused]] bool array) {
  assert(depth_ > 0 && array_[depth_ - 1] == array && "JsonWriter: end_object/end_array does not match");
  --depth_;
  out_.push_back(bracket);
}

void JsonWriter::begin_object() { open('{', false); }
void JsonWriter::end_object() { close('}', false); }
void JsonWriter::begin_array() { open('[', true); }
void JsonWriter::end_array() { close(']', true); }
void JsonWriter::begin_object_value() { begin_object(); }
void JsonWriter::begin_array_value() { begin_array(); }

void JsonWriter::key(std::string_view k) {
  assert(depth_ > 0 && !array_[depth_ - 1] && "JsonWriter: key outside of an object");
  bool& first = first_[depth_ - 1];
  if (!first) out_.push_back(',');
  first = false;
  out_.push_back('"');
  append_json_string_contents(out_, k);
  out_.append("\":", 2);
}

void JsonWriter::value(std::string_view s) {
  separate();
  out_.push_back('"');
  append_json_string_contents(out_, s);
  out_.push_back('"');
}

void JsonWriter::value(const char* s) {
  if (s == nullptr) {
    null();
    return;
  }
  value(std::string_view(s));
}

void JsonWriter::write_int(std::int64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

void JsonWriter::write_uint(std::uint64_t v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof buf, v);
  out_.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

void JsonWriter::value(std::int64_t v) {
  separate();
  write_int(v);
}
void JsonWriter::value(std::uint64_t v) {
  separate();
  write_uint(v);
}
void JsonWriter::value(int v) {
  separate();
  write_int(v);
}
void JsonWriter::value(unsigned v) {
  separate();
  write_uint(v);
}

void JsonWriter::value(bool b) {
  separate();
  if (b) {
    out_.append("true", 4);
  } else {
    out_.append("false", 5);
  }
}

void JsonWriter::value(double d, int decimals) {
  if (!std::isfinite(d)) {
    null();
    return;
  }
  separate();
  decimals = std::clamp(decimals, 0, 20);
  // Largest finite double in fixed notation: '-' + 309 digits + '.' + 20.
  char buf[352];
  const auto res = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, decimals);
  if (res.ec != std::errc()) {  // cannot happen given the buffer size
    null();
    return;
  }
  out_.append(buf, static_cast<std::size_t>(res.ptr - buf));
}

void JsonWriter::null() {
  separate();
  out_.append("null", 4);
}

}  // namespace sockscope::render
