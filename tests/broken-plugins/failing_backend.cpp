// Well-formed plugins (built with the SDK macro) that fail at one step,
// chosen at compile time with FAIL_AT: 1 create (config error), 2 start
// (unavailable), 3 stop (not clean), 4 create throws a non-SDK exception.
#include <pgdog_control/plugin.hpp>

#include <stdexcept>

#ifndef FAIL_AT
#error "FAIL_AT must be defined"
#endif
#ifndef PLUGIN_NAME
#error "PLUGIN_NAME must be defined"
#endif

namespace {

class FailingBackend final : public pgdc::sdk::Backend {
 public:
  FailingBackend(pgdc::sdk::Host host, std::string_view /*config_json*/) : host_(host) {
    if (FAIL_AT == 1) throw pgdc::sdk::ConfigError("broken: options.widget is required");
    if (FAIL_AT == 4) throw std::logic_error("broken: an unexpected exception");
  }
  void start() override {
    if (FAIL_AT == 2) throw pgdc::sdk::UnavailableError("broken: the store is unreachable");
    host_.log(pgdc::sdk::LogLevel::kInfo, "started");
  }
  bool stop(bool /*release*/, std::int64_t /*deadline_ns*/) override { return FAIL_AT != 3; }

 private:
  pgdc::sdk::Host host_;
};

}  // namespace

PGDC_PLUGIN(FailingBackend, PLUGIN_NAME, "1.0.0", "fails on purpose, for the loader tests")
