// parse_metrics: any bytes in, a valid sample or a 400/413 out.
#include <cmath>

#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const auto parsed = api::parse_metrics(fuzz::input(data, size), fuzz::limits());
  if (const auto* m = fuzz::check(parsed)) {
    fuzz::require(api::node_id_problem(m->node_id).empty());
    fuzz::require(std::isfinite(m->sample.qps) && m->sample.qps >= 0);
    fuzz::require(std::isfinite(m->sample.cpu) && m->sample.cpu >= 0);
  }
  return 0;
}
