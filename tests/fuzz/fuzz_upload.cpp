// parse_upload for each kind (the first byte picks it): bounded, flat entries.
#include <nlohmann/json.hpp>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  if (size == 0) return 0;
  const auto kind = static_cast<fleet::UploadKind>(data[0] % 3);
  const auto limits = fuzz::limits();
  const auto parsed = api::parse_upload(fuzz::input(data + 1, size - 1), kind, limits);
  if (const auto* u = fuzz::check(parsed)) {
    fuzz::require(u->count <= limits.max_entries);
    const auto parsed = nlohmann::json::parse(u->entries_json, nullptr, false);
    fuzz::require(parsed.is_array() && parsed.size() == u->count);
  }
  return 0;
}
