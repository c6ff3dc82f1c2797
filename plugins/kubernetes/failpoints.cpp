#include "failpoints.h"

#include <charconv>

namespace pgdc::kube {
namespace {

bool parse_int(std::string_view s, int* out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && end == s.data() + s.size() && *out > 0;
}

}  // namespace

std::string Failpoints::describe() const {
  std::string out;
  if (delay_renewal_report) {
    out += "delay_renewal_report: renewal " + std::to_string(delay_renewal_report->nth) +
           " reported " + std::to_string(delay_renewal_report->delay.count()) + "ms late";
  }
  return out;
}

std::optional<Failpoints> Failpoints::parse(std::string_view text, std::string* error) {
  Failpoints f;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    if (item.empty()) continue;
    const auto eq = item.find('=');
    const std::string_view name = item.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    if (name == "delay_renewal_report") {
      const auto colon = value.find(':');
      Delay d;
      int ms = 0;
      if (colon == std::string_view::npos || !parse_int(value.substr(0, colon), &d.nth) ||
          !parse_int(value.substr(colon + 1), &ms)) {
        *error =
            "PGDC_KUBE_FAILPOINTS: delay_renewal_report expects N:MS (positive integers), got \"" +
            std::string(value) + "\"";
        return std::nullopt;
      }
      d.delay = std::chrono::milliseconds(ms);
      f.delay_renewal_report = d;
    } else {
      *error = "PGDC_KUBE_FAILPOINTS: unknown failpoint \"" + std::string(name) +
               "\" (known: delay_renewal_report)";
      return std::nullopt;
    }
  }
  return f;
}

}  // namespace pgdc::kube
