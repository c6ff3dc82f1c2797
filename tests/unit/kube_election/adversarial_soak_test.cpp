// The adversarial soak (adversary.h) in make test: >= 100,000 adversary
// steps over two timing settings, every one checked. A failure prints the
// seed and the last actions; reproduce it with
//   PGDC_SOAK_SEED=<seed> PGDC_SOAK_STEPS=<n> build/bin/pgdc_unit_kube_election
//   --gtest_filter='AdversarialSoak.*'
// Millions of steps on demand: make soak-elector STEPS=5000000 [SEED=n].
#include <gtest/gtest.h>

#include <cstdlib>
#include <iostream>

#include "adversary.h"

namespace pgdc::kube::testing {
namespace {

using namespace std::chrono_literals;

// Sanitizer builds run the same soak shorter: it is single-threaded, so TSan
// finds nothing in it, and ASan/UBSan find what they find early.
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr long kDefaultSteps = 10000;
#else
constexpr long kDefaultSteps = 100000;
#endif

long env_long(const char* name, long fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::atol(v) : fallback;
}

void run(const char* name, ElectorTimings timings, long steps, std::uint64_t seed) {
  SoakOptions o;
  o.seed = seed;
  o.steps = steps;
  o.timings = timings;
  const SoakResult r = run_adversarial_soak(o);
  std::cout << "adversarial soak (" << name << ", seed " << seed << "): " << r.steps
            << " adversary steps in " << r.episodes << " episodes, " << r.simulated_s
            << " s simulated, " << r.terms << " terms, longest recovery after the adversary "
            << "stopped " << r.max_recovery_s << " s, highest epoch " << r.max_epoch_seen << "\n";
  std::cout << "  actions:";
  for (const auto& [action, n] : r.actions) std::cout << " " << action << "=" << n;
  std::cout << "\n";
  EXPECT_EQ(r.steps, steps);
  ASSERT_TRUE(r.violations.empty()) << r.violations.front() << "\n" << r.trace;
  EXPECT_GT(r.terms, r.episodes) << "leadership must actually move around";
}

// 70% of the steps with the defaults (15/10/5 s), 30% with the short
// timings the process tests use (4/3/1 s): different ratios of duration,
// deadline and interval stress different orders of events.
TEST(AdversarialSoak, DefaultTimings) {
  const long steps = env_long("PGDC_SOAK_STEPS", kDefaultSteps) * 7 / 10;
  run("15/10/5 s", ElectorTimings{}, steps,
      static_cast<std::uint64_t>(env_long("PGDC_SOAK_SEED", 1)));
}

TEST(AdversarialSoak, ShortTimings) {
  const long steps = env_long("PGDC_SOAK_STEPS", kDefaultSteps) * 3 / 10;
  run("4/3/1 s", ElectorTimings{4000ms, 3000ms, 1000ms}, steps,
      static_cast<std::uint64_t>(env_long("PGDC_SOAK_SEED", 1)) + 1000);
}

}  // namespace
}  // namespace pgdc::kube::testing
