// The query-string parsers (command poll, series since_ms, list limit) and
// path-segment decoding.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace pgdc;
  const std::string_view q = fuzz::input(data, size);
  const auto limits = fuzz::limits();
  const auto poll = api::parse_poll_query(q, limits);
  if (const auto* p = fuzz::check(poll)) {
    fuzz::require(api::node_id_problem(p->node_id).empty());
    fuzz::require(p->wait_ms >= 0 && p->wait_ms <= limits.max_wait_ms);
  }
  const auto since = api::parse_since_query(q);
  if (const auto* s = fuzz::check(since)) fuzz::require(*s >= 0);
  const auto limit = api::parse_limit_query(q, 100);
  if (const auto* l = fuzz::check(limit)) {
    fuzz::require(*l >= 1 && *l <= 1000);
  }
  if (auto d = api::percent_decode(q)) fuzz::require(d->size() <= q.size());
  return 0;
}
