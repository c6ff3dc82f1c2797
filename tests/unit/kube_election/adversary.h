// The adversarial soak of the Kubernetes elector (docs/high-availability.md,
// "What can break a lease-based leader").
//
// Several replicas share one fake API server and one time line (fakes.h).
// An adversary does, at random but reproducibly from a seed, what operators
// and infrastructure do:
//   the Lease     deletes it, recreates it (blank, or held by a stranger),
//                 edits leaseDurationSeconds, holderIdentity (blank or a
//                 stranger, never another replica's identity: that is
//                 forgery), raises leaseTransitions up to the int32 limit,
//                 edits labels and annotations (ours included: the leader
//                 address, the release marker), sets strategy and
//                 preferredHolder, writes updates that change nothing;
//   clocks        steps and freezes wall clocks; steady clocks run at rates
//                 up to 5% apart (within the tolerated lease duration : renew
//                 deadline ratio);
//   processes     suspends replicas, SIGTERMs them (a release, sometimes
//                 while an acquiring write is unanswered), SIGKILLs them,
//                 restarts them under a new or the same identity;
//   the network   delays replies below and beyond the request timeout,
//                 delivers them twice or never, refuses, hangs, answers 5xx
//                 and 429, partitions a replica, takes the server down,
//                 breaks watches, replays old watch events.
// It never lowers leaseTransitions or the epoch era, and never writes another
// replica's identity or a release marker of its own: those forge the
// election record, and no lease protocol survives forgery.
//
// Checked after every report and step (SafetyMonitor), and at the end of
// every episode of adversary actions:
//   safety    no two replicas valid leaders at one instant, each judged by its
//             own validity (its last report's deadline, or its step-down);
//   epochs    within a Lease uid, each new term's epoch exceeds every earlier
//             term's;
//   liveness  once the adversary stops (every fault healed, every replica
//             running), some replica leads within max(lease duration, the
//             Lease's leaseDurationSeconds) + 2 retry periods.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fakes.h"

namespace pgdc::kube::testing {

struct SoakOptions {
  std::uint64_t seed = 1;
  long steps = 100000;  // adversary actions, over all episodes
  int replicas = 3;
  ElectorTimings timings{};
  int episode_min = 10;  // actions per episode, before a quiet period
  int episode_max = 120;
};

struct SoakResult {
  std::vector<std::string> violations;  // empty: the contract held
  long steps = 0;
  long episodes = 0;
  long terms = 0;  // leadership terms started
  long max_epoch_seen = 0;
  double max_recovery_s = 0;  // longest quiet period until a leader
  double simulated_s = 0;
  std::map<std::string, long> actions;  // how often each action ran
  std::string trace;                    // the last actions before the first violation
};

SoakResult run_adversarial_soak(const SoakOptions& options);

}  // namespace pgdc::kube::testing
