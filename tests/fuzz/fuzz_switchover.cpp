// parse_switchover: any bytes in, {} / {"to": <non-empty identity>} or a
// 400/413 out.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const auto parsed = api::parse_switchover(fuzz::input(data, size), fuzz::limits());
  if (const auto* s = fuzz::check(parsed)) {
    fuzz::require(!s->to || (!s->to->empty() && s->to->size() <= 253));
  }
  return 0;
}
