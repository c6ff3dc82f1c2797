// The testing component's headers together, as C++17 (see CMakeLists.txt).
#include <pgdog_control/testing/conformance.hpp>
#include <pgdog_control/testing/host_config.hpp>
#include <pgdog_control/testing/load.hpp>
#include <pgdog_control/testing/mock_host.hpp>

namespace {

[[maybe_unused]] const std::string kConfig =
    pgdc::sdk::testing::host_config_json(pgdc::sdk::testing::HostConfig{});

}  // namespace
