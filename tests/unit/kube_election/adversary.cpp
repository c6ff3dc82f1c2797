#include "adversary.h"

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <queue>
#include <random>

namespace pgdc::kube::testing {
namespace {

std::string fmt_ms(Nanos t) { return std::to_string(t.count() / 1000000) + "ms"; }

// The spec of a Lease object, made an object if it was absent or null.
json& spec_of(json& lease) {
  json& spec = lease["spec"];
  if (!spec.is_object()) spec = json::object();
  return spec;
}

// Checks the contract incrementally, as reports and steps happen: O(replicas)
// per event, so millions of adversary steps stay cheap.
class SafetyMonitor final : public LeadershipObserver {
 public:
  explicit SafetyMonitor(std::function<std::string()> context) : context_(std::move(context)) {}

  void on_report(int who, Nanos at, const ElectorState& s, Nanos valid_until) override {
    Seg& me = segs_[who];
    if (!s.leading) {
      if (me.open) me.end = std::min(me.end, at);
      me.open = false;
      return;
    }
    const bool new_term = !me.open || me.uid != s.uid || me.epoch != s.epoch;
    // Safety: whoever else is still valid at this instant overlaps us.
    for (const auto& [other, seg] : segs_) {
      if (other == who || seg.end <= at) continue;
      {
        fail("two leaders at " + fmt_ms(at) + ": replica " + std::to_string(who) +
             " reports leading (uid " + s.uid + ", epoch " + std::to_string(s.epoch) +
             ", valid until " + fmt_ms(valid_until) + ") while replica " + std::to_string(other) +
             " is valid until " + fmt_ms(seg.end) + " (uid " + seg.uid + ", epoch " +
             std::to_string(seg.epoch) + ")");
      }
    }
    if (new_term) {
      ++terms_;
      auto last = highest_.find(s.uid);
      if (last != highest_.end() && s.epoch <= last->second) {
        fail("epoch did not increase at " + fmt_ms(at) + ": replica " + std::to_string(who) +
             " leads with uid " + s.uid + " epoch " + std::to_string(s.epoch) +
             " after an earlier term with epoch " + std::to_string(last->second));
      }
      highest_[s.uid] = std::max(s.epoch, last == highest_.end() ? 0 : last->second);
      max_epoch_ = std::max(max_epoch_, s.epoch);
    }
    me.open = true;
    me.uid = s.uid;
    me.epoch = s.epoch;
    me.end = valid_until;
  }

  void on_step(int who, Nanos at, bool leading, const ElectorState& last, Nanos) override {
    if (leading && !last.leading) {
      fail("replica " + std::to_string(who) + " leads without having reported it, at " +
           fmt_ms(at));
    }
  }

  void on_stop(int who, Nanos at) override {
    // A stopped process acts no more: its last segment ended by `at`, which
    // every later report is past. Forgetting it keeps each check O(live).
    (void)at;
    segs_.erase(who);
  }

  // Leaders valid at `at` by their own reports.
  int valid_leaders(Nanos at) const {
    int n = 0;
    for (const auto& [who, seg] : segs_) n += seg.open && seg.end > at;
    return n;
  }

  const std::vector<std::string>& violations() const { return violations_; }
  long terms() const { return terms_; }
  std::uint64_t max_epoch() const { return max_epoch_; }
  void fail(const std::string& what) {
    if (violations_.size() < 20) violations_.push_back(what + "\n" + context_());
  }

 private:
  struct Seg {
    bool open = false;
    std::string uid;
    std::uint64_t epoch = 0;
    Nanos end{0};
  };
  std::function<std::string()> context_;
  std::map<int, Seg> segs_;
  std::map<std::string, std::uint64_t> highest_;
  std::vector<std::string> violations_;
  long terms_ = 0;
  std::uint64_t max_epoch_ = 0;
};

class Adversary {
 public:
  explicit Adversary(const SoakOptions& o)
      : o_(o), rng_(o.seed), sim_(o.timings), monitor_([this] { return trace(); }) {
    sim_.observer = &monitor_;
    sim_.keep_history = false;
    for (int i = 0; i < o_.replicas; ++i) start_replica(next_identity());
  }

  SoakResult run() {
    SoakResult result;
    while (steps_ < o_.steps && monitor_.violations().empty()) {
      const long episode =
          std::min<long>(o_.steps - steps_, uniform(o_.episode_min, o_.episode_max));
      for (long i = 0; i < episode && monitor_.violations().empty(); ++i) {
        act();
        ++steps_;
        run_for(Nanos(uniform(0, 2000) * 1000000));
        if (steps_ % 500 == 0) {
          sim_.server.compact(200);
          sim_.remove_stopped();
        }
      }
      if (!monitor_.violations().empty()) break;
      quiesce_and_check_liveness(result);
      ++result.episodes;
    }
    result.violations = monitor_.violations();
    result.steps = steps_;
    result.terms = monitor_.terms();
    result.max_epoch_seen = static_cast<long>(monitor_.max_epoch());
    result.simulated_s = std::chrono::duration<double>(sim_.timeline.now()).count();
    result.actions = counts_;
    if (!result.violations.empty()) result.trace = trace();
    return result;
  }

 private:
  using Action = std::function<void()>;

  // --- randomness
  long uniform(long lo, long hi) { return std::uniform_int_distribution<long>(lo, hi)(rng_); }
  bool chance(double p) { return std::bernoulli_distribution(p)(rng_); }
  Nanos ms(long lo, long hi) { return Nanos(uniform(lo, hi) * 1000000); }
  Nanos duration() const { return o_.timings.lease_duration; }
  Nanos interval() const { return o_.timings.retry_period; }

  // --- bookkeeping
  void note(const std::string& what) {
    ++counts_[what.substr(0, what.find(' '))];
    trace_.push_back(fmt_ms(sim_.timeline.now()) + " " + what);
    if (trace_.size() > 60) trace_.pop_front();
  }
  std::string trace() const {
    std::string out = "  last adversary actions (seed " + std::to_string(o_.seed) + "):\n";
    for (const auto& t : trace_) out += "    " + t + "\n";
    out += "  Lease now: " +
           (sim_.server.lease() ? sim_.server.lease()->dump() : std::string("(none)")) + "\n";
    return out;
  }

  std::string next_identity() { return "pod-" + std::to_string(++identities_) + "_x"; }

  Replica& start_replica(const std::string& identity) {
    FakeClock::Options c;
    c.rate = 1.0 + static_cast<double>(uniform(-50, 50)) / 1000.0;  // up to 5% apart
    c.wall_origin += std::chrono::milliseconds(uniform(-120000, 120000));
    Replica& r = sim_.add(identity, c);
    if (chance(0.6)) r.set_watching(true);
    return r;
  }

  std::vector<Replica*> live() {
    std::vector<Replica*> out;
    for (auto& r : sim_.replicas) {
      if (!r->stopped) out.push_back(r.get());
    }
    return out;
  }
  Replica* pick() {
    auto l = live();
    if (l.empty()) return nullptr;
    return l[static_cast<std::size_t>(uniform(0, static_cast<long>(l.size()) - 1))];
  }

  // Runs the simulation, firing scheduled adversary events on time.
  void run_for(Nanos d) {
    const Nanos until = sim_.timeline.now() + d;
    while (!scheduled_.empty() && scheduled_.top().at <= until) {
      const Scheduled s = scheduled_.top();
      scheduled_.pop();
      sim_.run_until(s.at);
      s.what();
    }
    sim_.run_until(until);
  }
  void at(Nanos when, Action what) { scheduled_.push(Scheduled{when, seq_++, std::move(what)}); }

  // --- the actions
  void act() {
    static const std::vector<std::pair<int, void (Adversary::*)()>> kActions = {
        {3, &Adversary::delete_lease},
        {2, &Adversary::recreate_lease},
        {3, &Adversary::edit_duration},
        {3, &Adversary::edit_holder},
        {3, &Adversary::raise_transitions},
        {2, &Adversary::edit_labels},
        {3, &Adversary::edit_annotations},
        {1, &Adversary::set_strategy},
        {1, &Adversary::touch},
        {2, &Adversary::jump_wall},
        {2, &Adversary::freeze_wall},
        {2, &Adversary::suspend},
        {1, &Adversary::sigterm},
        {1, &Adversary::sigkill},
        {1, &Adversary::sigterm_during_write},
        {2, &Adversary::toggle_watch},
        {7, &Adversary::request_fault},
        {1, &Adversary::partition},
        {2, &Adversary::replay_event},
        {1, &Adversary::server_outage},
    };
    int total = 0;
    for (const auto& [w, f] : kActions) total += w;
    long pick_w = uniform(0, total - 1);
    for (const auto& [w, f] : kActions) {
      if (pick_w < w) {
        (this->*f)();
        return;
      }
      pick_w -= w;
    }
  }

  bool have_lease() const { return sim_.server.lease().has_value(); }

  void delete_lease() {
    if (!have_lease()) return recreate_lease();
    sim_.server.delete_lease();
    note("delete the Lease");
  }

  void recreate_lease() {
    if (have_lease()) sim_.server.delete_lease();
    json spec = json::object();
    const long kind = uniform(0, 3);
    if (kind == 1) {
      spec["holderIdentity"] = "";
    } else if (kind >= 2) {
      spec["holderIdentity"] = "intruder-" + std::to_string(uniform(1, 9));
      spec["leaseDurationSeconds"] = uniform(1, 2 * duration().count() / 1000000000);
      spec["leaseTransitions"] = uniform(0, 1000);
      spec["renewTime"] = format_micro_time(default_wall_origin());
    }
    sim_.server.put_lease(kind == 0 ? json(nullptr) : spec);
    note("recreate the Lease " + spec.dump());
  }

  void edit_duration() {
    if (!have_lease()) return recreate_lease();
    const long d = uniform(1, 2 * duration().count() / 1000000000);
    sim_.server.modify([&](json& o) { spec_of(o)["leaseDurationSeconds"] = d; });
    note("edit leaseDurationSeconds " + std::to_string(d));
  }

  void edit_holder() {
    if (!have_lease()) return recreate_lease();
    const std::string h = chance(0.5) ? "" : "intruder-" + std::to_string(uniform(1, 9));
    sim_.server.modify([&](json& o) { spec_of(o)["holderIdentity"] = h; });
    note("edit holderIdentity \"" + h + "\"");
  }

  void raise_transitions() {
    if (!have_lease()) return recreate_lease();
    const json spec = sim_.server.spec();
    const auto cur = spec.is_object() ? spec.value("leaseTransitions", std::int64_t{0}) : 0;
    std::int64_t v = cur + uniform(1, 5);
    const long kind = uniform(0, 2);
    if (kind == 1) v = std::max<std::int64_t>(cur, kMaxTransitions - uniform(0, 3));
    if (kind == 2) v = kMaxTransitions;
    v = std::min<std::int64_t>(v, kMaxTransitions);
    sim_.server.modify([&](json& o) { spec_of(o)["leaseTransitions"] = v; });
    note("raise leaseTransitions to " + std::to_string(v));
  }

  void edit_labels() {
    if (!have_lease()) return recreate_lease();
    const std::string k = "team-" + std::to_string(uniform(1, 3));
    const bool remove = chance(0.4);
    sim_.server.modify([&](json& o) {
      if (remove && o["metadata"].contains("labels")) {
        o["metadata"]["labels"].erase(k);
      } else {
        o["metadata"]["labels"][k] = std::to_string(uniform(0, 99));
      }
    });
    note(std::string(remove ? "remove" : "set") + " label " + k);
  }

  void edit_annotations() {
    if (!have_lease()) return recreate_lease();
    const long kind = uniform(0, 4);
    std::string what;
    sim_.server.modify([&](json& o) {
      json& a = o["metadata"]["annotations"];
      if (!a.is_object()) a = json::object();
      switch (kind) {
        case 0:
          a["example.com/note-" + std::to_string(uniform(1, 3))] = "x";
          what = "foreign annotation";
          break;
        case 1:
          a.erase(kLeaderAddressAnnotation);
          what = "delete the leader-address annotation";
          break;
        case 2:
          a[kLeaderAddressAnnotation] = "{not json";
          what = "garble the leader-address annotation";
          break;
        case 3:
          a.erase(kReleasedTermAnnotation);
          what = "delete the release marker";
          break;
        default:
          a[kReleasedTermAnnotation] = "garbage";
          what = "garble the release marker";
      }
    });
    note("annotations: " + what);
  }

  void set_strategy() {
    if (!have_lease()) return recreate_lease();
    const bool clear = chance(0.3);
    auto l = live();
    const std::string preferred =
        l.empty() || chance(0.3)
            ? "intruder-1"
            : l[static_cast<std::size_t>(uniform(0, static_cast<long>(l.size()) - 1))]->id;
    sim_.server.modify([&](json& o) {
      if (clear) {
        spec_of(o).erase("strategy");
        spec_of(o).erase("preferredHolder");
      } else {
        spec_of(o)["strategy"] = "OldestEmulationVersion";
        spec_of(o)["preferredHolder"] = preferred;
      }
    });
    note(clear ? std::string("clear strategy") : "set strategy, preferredHolder " + preferred);
  }

  void touch() {
    if (!have_lease()) return recreate_lease();
    sim_.server.modify([](json&) {});
    note("touch (an update that changes nothing but the version)");
  }

  void jump_wall() {
    Replica* r = pick();
    if (r == nullptr) return;
    const Nanos d = ms(-3600000, 3600000);
    r->clock.jump_wall(d);
    note("jump_wall of " + r->id + " by " + fmt_ms(d));
  }

  void freeze_wall() {
    Replica* r = pick();
    if (r == nullptr) return;
    const bool freeze = !r->clock.wall_frozen();
    r->clock.freeze_wall(freeze);
    note(std::string(freeze ? "freeze" : "unfreeze") + "_wall of " + r->id);
  }

  void suspend() {
    Replica* r = pick();
    if (r == nullptr) return;
    const Nanos d = ms(0, 3 * duration().count() / 1000000);
    r->paused_until = std::max(r->paused_until, sim_.timeline.now() + d);
    note("suspend " + r->id + " for " + fmt_ms(d));
  }

  void restart_later(const std::string& old_identity) {
    const std::string identity = chance(0.3) ? old_identity : next_identity();
    at(sim_.timeline.now() + ms(0, 2 * duration().count() / 1000000), [this, identity] {
      start_replica(identity);
      note("restart as " + identity);
    });
  }

  void sigterm() {
    Replica* r = pick();
    if (r == nullptr || live().size() < 2) return;
    note("SIGTERM " + r->id);
    sim_.stop(*r, true);
    restart_later(r->id);
  }

  void sigkill() {
    Replica* r = pick();
    if (r == nullptr || live().size() < 2) return;
    note("SIGKILL " + r->id);
    sim_.stop(*r, false);
    restart_later(r->id);
  }

  void sigterm_during_write() {
    // The next write's answer is lost (the server applied it) and SIGTERM
    // arrives right then: the release must find and free the term.
    Replica* r = pick();
    if (r == nullptr || live().size() < 2) return;
    const std::string method = chance(0.5) ? "PUT" : "POST";
    r->link.faults().next(1, Fault::lose_response().only(method));
    const int before = r->conflicts + r->acquire_ok + r->acquire_failed;
    r->after_step = [this, r, before] {
      if (r->stopped || r->conflicts + r->acquire_ok + r->acquire_failed == before) return;
      r->after_step = nullptr;
      note("SIGTERM " + r->id + " right after an acquiring write");
      sim_.stop(*r, true);
      restart_later(r->id);
    };
    note("arm SIGTERM-after-lost-" + method + " for " + r->id);
  }

  void toggle_watch() {
    Replica* r = pick();
    if (r == nullptr) return;
    r->set_watching(!r->watching);
    note(std::string(r->watching ? "start" : "stop") + "_watch of " + r->id);
  }

  void request_fault() {
    Replica* r = pick();
    if (r == nullptr) return;
    Fault f;
    std::string what;
    switch (uniform(0, 9)) {
      case 0:
        f = Fault::slow(ms(1, 900));
        what = "slow reply";
        break;
      case 1:
        f = Fault::slow(ms(1000, 12000));
        what = "late reply (maybe past the timeout)";
        break;
      case 2:
        f = Fault::lose_response();
        what = "applied, reply lost";
        break;
      case 3:
        f = Fault::hang();
        what = "hang";
        break;
      case 4:
        f = Fault::refused();
        what = "refused";
        break;
      case 5:
        f = Fault::http(500);
        what = "500";
        break;
      case 6:
        f = Fault::http(503, std::chrono::seconds(uniform(0, 3)));
        what = "503";
        break;
      case 7:
        f = Fault::http(429, std::chrono::seconds(uniform(1, 12)));
        what = "429";
        break;
      case 8:
        f = Fault::duplicate();
        what = "duplicated request";
        break;
      default:
        f = Fault::respond(200, "{\"kind\":\"Lease\"}");
        what = "malformed 200";
    }
    const int n = static_cast<int>(uniform(1, 3));
    r->link.faults().next(n, f);
    note("fault " + what + " x" + std::to_string(n) + " for " + r->id);
  }

  void partition() {
    Replica* r = pick();
    if (r == nullptr || r->partitioned) return;
    r->partition(chance(0.5) ? Fault::refused() : Fault::hang());
    const Nanos d = ms(0, 2 * duration().count() / 1000000);
    Replica* target = r;
    const int index = r->index;
    at(sim_.timeline.now() + d, [this, target, index] {
      for (auto& x : sim_.replicas) {
        if (x.get() == target && x->index == index && !x->stopped && x->partitioned) x->heal();
      }
    });
    note("partition " + r->id + " for " + fmt_ms(d));
  }

  void replay_event() {
    Replica* r = pick();
    const auto& events = sim_.server.events();
    if (r == nullptr || events.empty()) return;
    const auto& e =
        events[static_cast<std::size_t>(uniform(0, static_cast<long>(events.size()) - 1))];
    bool act = false;
    if (e.type == "DELETED") {
      act = r->elector.observe_deleted();
    } else {
      std::string why;
      if (auto lease = Lease::from_json(e.object, &why)) act = r->elector.observe(*lease);
    }
    if (act) r->next = r->clock.steady();
    note("replay a stale " + e.type + " event (rv " + std::to_string(e.rv) + ") to " + r->id);
  }

  void server_outage() {
    const Nanos d = ms(0, duration().count() / 1000000);
    const Nanos now = sim_.timeline.now();
    sim_.server.faults().during(now, now + d, chance(0.5) ? Fault::http(503) : Fault::hang());
    note("server outage for " + fmt_ms(d));
  }

  // --- the quiet period
  void quiesce_and_check_liveness(SoakResult& result) {
    // Fire what is scheduled (restarts, heals), then undo every fault.
    while (!scheduled_.empty()) {
      const Scheduled s = scheduled_.top();
      scheduled_.pop();
      sim_.run_until(std::max(s.at, sim_.timeline.now()));
      s.what();
    }
    sim_.server.faults().clear();
    for (Replica* r : live()) {
      r->after_step = nullptr;
      if (r->partitioned) {
        r->heal();
      } else {
        r->link.faults().clear();
      }
      r->clock.freeze_wall(false);
      r->paused_until = Nanos(0);
    }
    while (static_cast<int>(live().size()) < o_.replicas) start_replica(next_identity());
    const Nanos quiet = sim_.timeline.now();
    // The Lease's own duration counts when it is longer than ours.
    Nanos lease_duration = duration();
    if (auto l = sim_.server.lease()) {
      const auto secs = (*l).value("spec", json::object()).value("leaseDurationSeconds", 0);
      lease_duration = std::max(lease_duration, Nanos(std::int64_t{secs} * 1000000000));
    }
    const Nanos bound = lease_duration + 2 * interval();
    note("quiet: every fault healed; a leader is due within " + fmt_ms(bound));
    // Meanwhile another controller keeps updating an annotation of its own
    // every couple of seconds (as label and annotation managers do): that
    // must not keep a dead holder alive.
    Nanos t = quiet;
    Nanos next_touch = quiet;
    for (;;) {
      if (monitor_.valid_leaders(sim_.timeline.now()) >= 1) break;
      if (t - quiet > bound) {
        std::string who;
        for (Replica* r : live()) {
          who += "\n    " + r->id + ": next step at " + fmt_ms(r->clock.timeline_of(r->next)) +
                 (r->watching ? ", watching" : ", polling") +
                 (r->elector.holding() ? ", holding" : "") + ", holder \"" +
                 r->last_report().holder + "\"";
        }
        monitor_.fail("no leader " + fmt_ms(t - quiet) + " after the adversary stopped (bound " +
                      fmt_ms(bound) + "); replicas:" + who);
        return;
      }
      if (t >= next_touch && have_lease()) {
        sim_.server.modify([&](json& o) {
          o["metadata"]["annotations"]["example.com/last-audit"] = std::to_string(t.count());
        });
        next_touch = t + std::chrono::milliseconds(1700);
      }
      t += std::chrono::milliseconds(100);
      sim_.run_until(t);
    }
    const double took = std::chrono::duration<double>(sim_.timeline.now() - quiet).count();
    result.max_recovery_s = std::max(result.max_recovery_s, took);
    // Keep the leader a little while: a leader that loses at once is a wedge too.
    run_for(interval());
  }

  struct Scheduled {
    Nanos at;
    long seq;
    Action what;
    bool operator>(const Scheduled& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };

  SoakOptions o_;
  std::mt19937_64 rng_;
  Sim sim_;
  SafetyMonitor monitor_;
  std::priority_queue<Scheduled, std::vector<Scheduled>, std::greater<>> scheduled_;
  long seq_ = 0;
  long steps_ = 0;
  int identities_ = 0;
  std::deque<std::string> trace_;
  std::map<std::string, long> counts_;
};

}  // namespace

SoakResult run_adversarial_soak(const SoakOptions& options) {
  Adversary adversary(options);
  return adversary.run();
}

}  // namespace pgdc::kube::testing
