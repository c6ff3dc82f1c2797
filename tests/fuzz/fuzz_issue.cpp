// parse_issue: any bytes in, a valid command request or a 400/413 out.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const auto parsed = api::parse_issue(fuzz::input(data, size), fuzz::limits());
  if (const auto* i = fuzz::check(parsed)) {
    fuzz::require(!i->name.empty() && i->args.is_object());
    fuzz::require(i->target == "*" || api::node_id_problem(i->target).empty());
  }
  return 0;
}
