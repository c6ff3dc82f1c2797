// The SDK's backend conformance suite against the Kubernetes plugin and the
// real kube-apiserver of tests/kube/kube-env.sh: every case, including the
// ABI 1.4 members and handover cases, on a Lease of its own per test.
// Replica A runs as the elector-1 user, B as elector-2 (the RBAC the chart
// grants). Exits 77 (ctest: skipped) without PGDC_KUBE_ENV.
#include <atomic>
#include <cstdlib>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <string>

#include <pgdog_control/testing/conformance.hpp>
#include <pgdog_control/testing/load.hpp>

namespace {

std::map<std::string, std::string> kube_env() {
  std::map<std::string, std::string> out;
  const char* dir = std::getenv("PGDC_KUBE_ENV");
  if (dir == nullptr || *dir == '\0') return out;
  std::ifstream in(std::string(dir) + "/env");
  const std::regex line(R"(^(?:export )?([A-Z0-9_]+)=['"]?([^'"]*)['"]?$)");
  std::string text;
  std::smatch m;
  while (std::getline(in, text)) {
    if (std::regex_match(text, m, line)) out[m[1]] = m[2];
  }
  return out;
}

std::string unique_lease() {
  static std::atomic<int> counter{0};
  std::random_device rd;
  return "conformance-" + std::to_string(rd() % 100000) + "-" + std::to_string(++counter);
}

}  // namespace

// The suite's factory (its name shows in the test names).
struct KubernetesLease {
  static pgdc::sdk::testing::BackendUnderTest make() {
    namespace t = pgdc::sdk::testing;
    const auto env = kube_env();
    t::BackendUnderTest b;
    std::string error;
    const char* plugin = std::getenv("PGDC_KUBE_PLUGIN");
    b.descriptor = t::load_descriptor(plugin ? plugin : "", &error);
    EXPECT_NE(b.descriptor, nullptr) << error;
    t::HostConfig c;
    c.lease_name = unique_lease();
    c.lease_namespace = env.at("KUBE_NAMESPACE");
    c.lease_duration_ms = 4000;
    c.renew_deadline_ms = 3000;
    c.lease_interval_ms = 1000;
    c.release_timeout_ms = 3000;
    const auto options = [&](const std::string& user) {
      return "{\"kubeconfig\":" + t::json_quote(env.at("KUBECONFIG_" + user)) +
             ",\"events\":false}";
    };
    c.identity = "conformance-a";
    c.advertise_address = "127.0.0.1:18081";
    c.options_json = options("ELECTOR_1");
    b.config_json = t::host_config_json(c);
    b.identity = c.identity;
    b.advertise_address = c.advertise_address;
    c.identity = "conformance-b";
    c.advertise_address = "127.0.0.1:18082";
    c.options_json = options("ELECTOR_2");
    b.second_config_json = t::host_config_json(c);
    b.second_identity = c.identity;
    b.capabilities.follower_knows_holder_address = true;
    // A new Lease acts a full duration after its create; an expiry takes one.
    b.acquire_timeout = std::chrono::milliseconds(12000);
    b.observe_for = std::chrono::milliseconds(1500);
    b.invalid_configs = {R"({"identity":"a","lease_name":"x","namespace":"default",)"
                         R"("lease_duration_ms":4000,"renew_deadline_ms":3000,)"
                         R"("lease_interval_ms":1000,"release_timeout_ms":3000,)"
                         R"("options":{"no_such_option":1}})"};
    return b;
  }
};

namespace pgdc::sdk::testing {
INSTANTIATE_TYPED_TEST_SUITE_P(Conformance, BackendConformance, ::KubernetesLease);
}  // namespace pgdc::sdk::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleMock(&argc, argv);
  if (kube_env().empty()) {
    std::fprintf(stderr, "no kube environment (PGDC_KUBE_ENV): skipped\n");
    return 77;
  }
  return RUN_ALL_TESTS();
}
