// parse_register: any bytes in, a valid request or a 400/413 out.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const auto parsed = api::parse_register(fuzz::input(data, size), fuzz::limits());
  if (const auto* r = fuzz::check(parsed)) {
    fuzz::require(api::node_id_problem(r->node_id).empty());
    fuzz::require(r->version.size() <= 128 && r->host.size() <= 253);
  }
  return 0;
}
