// The configuration JSON the host passes to create() (pgdc_vtable.create),
// for tests: HostConfig holds every key with test-friendly defaults (short
// timings, so a suite runs in seconds) and host_config_json() writes it the
// way the daemon does.
//
//   pgdc::sdk::testing::HostConfig c;
//   c.identity = "replica-b";
//   c.options_json = R"({"endpoint":"http://127.0.0.1:2379"})";
//   std::string config = pgdc::sdk::testing::host_config_json(c);
//
// Header-only; needs nothing but the standard library.
#ifndef PGDOG_CONTROL_TESTING_HOST_CONFIG_HPP
#define PGDOG_CONTROL_TESTING_HOST_CONFIG_HPP

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace pgdc::sdk::testing {

// Quotes a string as a JSON string literal.
inline std::string json_quote(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

// The settings the host passes to create() (see pgdc_vtable.create), with
// test-friendly defaults: short timings so a suite runs in seconds.
struct HostConfig {
  std::string identity = "conformance-a";
  std::string lease_name = "pgdog-control-conformance";
  std::string lease_namespace = "default";
  std::int64_t lease_duration_ms = 3000;
  std::int64_t renew_deadline_ms = 2000;
  std::int64_t lease_interval_ms = 100;
  std::int64_t release_timeout_ms = 2000;
  std::string advertise_address = "127.0.0.1:8080";
  std::string options_json = "{}";  // leader.options, a JSON object
};

inline std::string host_config_json(const HostConfig& c) {
  return "{\"identity\":" + json_quote(c.identity) + ",\"lease_name\":" + json_quote(c.lease_name) +
         ",\"namespace\":" + json_quote(c.lease_namespace) +
         ",\"lease_duration_ms\":" + std::to_string(c.lease_duration_ms) +
         ",\"renew_deadline_ms\":" + std::to_string(c.renew_deadline_ms) +
         ",\"lease_interval_ms\":" + std::to_string(c.lease_interval_ms) +
         ",\"release_timeout_ms\":" + std::to_string(c.release_timeout_ms) +
         ",\"advertise_address\":" + json_quote(c.advertise_address) +
         ",\"options\":" + (c.options_json.empty() ? std::string("{}") : c.options_json) + "}";
}

}  // namespace pgdc::sdk::testing

#endif  // PGDOG_CONTROL_TESTING_HOST_CONFIG_HPP
