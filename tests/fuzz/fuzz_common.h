// Shared by the fuzz targets: the input as a string_view, small limits so the
// size checks are reached, and a check that a parse either succeeds or fails
// with a 400/413 and a message.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <variant>

#include "api/request_parsers.h"

namespace pgdc::fuzz {

inline std::string_view input(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

inline api::Limits limits() {
  api::Limits l;
  l.max_entries = 16;
  l.max_upload_bytes = 8192;
  l.max_string_bytes = 128;
  return l;
}

// Aborts (a finding) when an error is not a well-formed 400/413. `p` must
// outlive the returned pointer (keep the Parsed in a variable).
template <typename T>
const T* check(const api::Parsed<T>& p) {
  if (const auto* e = std::get_if<api::ParseError>(&p)) {
    if ((e->status != 400 && e->status != 413) || e->message.empty() || e->code.empty()) {
      std::abort();
    }
    return nullptr;
  }
  return &std::get<T>(p);
}

inline void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace pgdc::fuzz
