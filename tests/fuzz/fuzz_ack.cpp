// parse_ack: any bytes in, a valid ack or a 400/413 out.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const auto parsed = api::parse_ack(fuzz::input(data, size), fuzz::limits());
  if (const auto* a = fuzz::check(parsed)) {
    fuzz::require(api::node_id_problem(a->node_id).empty());
    fuzz::require(a->message.size() <= fuzz::limits().max_string_bytes);
  }
  return 0;
}
