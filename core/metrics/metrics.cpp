// Metrics: prometheus-cpp registry with the core's series and plugin series.
//
// Series of its own (all prefixed pgdog_control_); other core series are
// defined by their owners with Owner::kCore (status/leadership_metrics.h,
// api/fleet_metrics.h):
//   http_requests_total{method,route,code}
//   http_request_duration_seconds{route} histogram
//   http_connections                gauge, open connections
//   http_connections_refused_total  counter, closed at http.max_connections
//   build_info{version}             gauge 1
//
// Plugin series are checked against the same rules `promtool check metrics`
// lints with, so a plugin can never make the scrape fail the check.
#include "metrics/metrics.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

#include "text/text.h"

#ifndef PGDC_VERSION
#define PGDC_VERSION "unknown"
#endif

namespace pgdc {

namespace {

constexpr std::string_view kPrefix = "pgdog_control_";
constexpr std::size_t kMaxNameLength = 200;
constexpr std::size_t kMaxLabels = 16;
constexpr std::size_t kMaxLabelValueLength = 1024;
constexpr std::size_t kMaxBuckets = 64;
constexpr std::size_t kMaxPluginSeries = 10000;

// Sub-millisecond up to long polls.
const std::vector<double> kHttpBuckets = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                          0.01,   0.025,   0.05,   0.1,   0.25,   0.5,
                                          1,      2.5,     5,      10,    30};
// The Prometheus client default buckets, for plugin histograms without any.
const std::vector<double> kDefaultBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                             0.5,   1,    2.5,   5,    10};

const char* kind_name(Metrics::Kind kind) {
  switch (kind) {
    case Metrics::Kind::kCounter:
      return "counter";
    case Metrics::Kind::kGauge:
      return "gauge";
    case Metrics::Kind::kHistogram:
      return "histogram";
  }
  return "unknown";
}

bool is_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

// [a-zA-Z_:][a-zA-Z0-9_:]*
bool valid_metric_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front())) return false;
  return std::all_of(name.begin(), name.end(), is_name_char);
}

// [a-zA-Z_][a-zA-Z0-9_]*, and not reserved (leading "__").
bool valid_label_name(std::string_view name) {
  if (name.empty() || name.front() == ':' || !is_name_start(name.front())) return false;
  if (name.substr(0, 2) == "__") return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return c != ':' && is_name_char(c); });
}

bool has_camel_case(std::string_view s) {
  for (std::size_t i = 1; i < s.size(); ++i) {
    if (std::islower(static_cast<unsigned char>(s[i - 1])) != 0 &&
        std::isupper(static_cast<unsigned char>(s[i])) != 0) {
      return true;
    }
  }
  return false;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

bool has_part(std::string_view lowered, std::string_view part) {
  const std::string mid = "_" + std::string(part) + "_";
  return lowered.find(mid) != std::string_view::npos || ends_with(lowered, "_" + std::string(part));
}

// The lint rules of promtool 2.42 (client_golang promlint) that apply to a
// family's name. Returns the first problem, or "".
std::string lint_name(Metrics::Kind kind, std::string_view full) {
  const std::string low = text::lower(full);
  if (full.find(':') != std::string_view::npos) {
    return "must not contain ':' (reserved for recording rules)";
  }
  if (has_camel_case(full)) return "must be snake_case, not camelCase";
  const bool counter = kind == Metrics::Kind::kCounter;
  if (counter && !ends_with(full, "_total")) return "a counter's name must end in \"_total\"";
  if (!counter && ends_with(full, "_total")) return "only counters may end in \"_total\"";
  if (kind != Metrics::Kind::kHistogram) {
    for (const char* s : {"_count", "_sum", "_bucket"}) {
      if (ends_with(full, s)) return std::string("only histograms may end in \"") + s + "\"";
    }
  } else {
    for (const char* s : {"_count", "_sum", "_bucket"}) {
      if (ends_with(full, s))
        return std::string("a histogram's name must not end in \"") + s + "\"";
    }
  }
  for (const char* t : {"counter", "gauge", "histogram", "summary"}) {
    if (has_part(low, t)) return std::string("must not include the type \"") + t + "\"";
  }
  static const std::map<std::string, std::string, std::less<>> kUnits = {
      {"amperes", "amperes"},      {"bytes", "bytes"},         {"celsius", "celsius"},
      {"grams", "grams"},          {"joules", "joules"},       {"kelvin", "kelvin"},
      {"meters", "meters"},        {"metres", "metres"},       {"seconds", "seconds"},
      {"volts", "volts"},          {"minutes", "seconds"},     {"hours", "seconds"},
      {"days", "seconds"},         {"weeks", "seconds"},       {"milliseconds", "seconds"},
      {"microseconds", "seconds"}, {"nanoseconds", "seconds"}, {"inches", "meters"},
      {"feet", "meters"},          {"miles", "meters"},        {"bits", "bytes"},
      {"calories", "joules"},      {"pounds", "grams"}};
  static const std::array<std::string_view, 14> kUnitPrefixes = {
      "pico",  "nano", "micro", "milli", "centi", "deci", "deca",
      "hecto", "kilo", "kila",  "mega",  "giga",  "tera", "peta"};
  // First unit-like part decides, as promlint does.
  std::size_t start = 0;
  while (start <= full.size()) {
    std::size_t end = full.find('_', start);
    if (end == std::string_view::npos) end = full.size();
    const std::string_view part = full.substr(start, end - start);
    std::string_view unit;
    std::string base;
    if (auto it = kUnits.find(part); it != kUnits.end()) {
      unit = part;
      base = it->second;
    } else {
      for (auto p : kUnitPrefixes) {
        if (part.substr(0, p.size()) == p) {
          if (auto u = kUnits.find(part.substr(p.size())); u != kUnits.end()) {
            unit = part;
            base = u->second;
            break;
          }
        }
      }
    }
    if (!unit.empty()) {
      if (unit != base)
        return "use the base unit \"" + base + "\", not \"" + std::string(unit) + "\"";
      break;
    }
    start = end + 1;
  }
  for (const char* a :
       {"s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d"}) {
    if (has_part(low, a)) return std::string("must not use the abbreviated unit \"") + a + "\"";
  }
  return "";
}

std::string check_label_name(std::string_view name) {
  if (!valid_label_name(name)) {
    return "invalid label name \"" + std::string(name) +
           "\" (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with \"__\")";
  }
  if (has_camel_case(name)) return "label name \"" + std::string(name) + "\" must be snake_case";
  if (name == "le" || name == "quantile") {
    return "label name \"" + std::string(name) + "\" is reserved for histograms and summaries";
  }
  return "";
}

bool parse_labels(std::string_view labels_json, prometheus::Labels* out, std::string* error) {
  out->clear();
  const bool blank = std::all_of(labels_json.begin(), labels_json.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c));
  });
  if (blank) return true;
  const auto doc = nlohmann::json::parse(labels_json, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) {
    *error = "labels must be a flat JSON object of strings, e.g. {\"verb\":\"GET\"}";
    return false;
  }
  if (doc.size() > kMaxLabels) {
    *error = "too many labels (at most " + std::to_string(kMaxLabels) + ")";
    return false;
  }
  for (const auto& [key, value] : doc.items()) {
    if (!value.is_string()) {
      *error = "label \"" + key + "\" must have a string value";
      return false;
    }
    if (auto problem = check_label_name(key); !problem.empty()) {
      *error = problem;
      return false;
    }
    auto v = value.get<std::string>();
    if (v.size() > kMaxLabelValueLength) {
      *error = "label \"" + key + "\" value longer than " + std::to_string(kMaxLabelValueLength);
      return false;
    }
    (*out)[key] = std::move(v);
  }
  return true;
}

std::set<std::string> label_names(const prometheus::Labels& labels) {
  std::set<std::string> names;
  for (const auto& [k, v] : labels) names.insert(k);
  return names;
}

// Structural UTF-8 check (lead byte and continuation bytes).
bool valid_utf8(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    std::size_t extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c >> 5) == 0x6) {
      extra = 1;
    } else if ((c >> 4) == 0xE) {
      extra = 2;
    } else if ((c >> 3) == 0x1E) {
      extra = 3;
    } else {
      return false;
    }
    if (i + extra >= s.size() && extra > 0) return false;
    for (std::size_t k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) >> 6) != 0x2) return false;
    }
    i += extra + 1;
  }
  return true;
}

// prometheus-cpp writes HELP verbatim: escape it as the text format requires.
std::string escape_help(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r' || c == '\0') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string_view normalize_method(std::string_view method) {
  static constexpr std::array<std::string_view, 9> kKnown = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE"};
  for (auto m : kKnown) {
    if (m == method) return m;
  }
  return "other";
}

}  // namespace

struct Metrics::Impl {
  using Series = std::variant<prometheus::Counter*, prometheus::Gauge*, prometheus::Histogram*>;

  struct PluginFamily {
    Owner owner;
    Kind kind;
    void* family;  // prometheus::Family<T>* for the kind
    std::vector<double> buckets;
    std::set<std::string> label_names;
  };

  prometheus::Registry registry;

  prometheus::Family<prometheus::Counter>* http_requests = nullptr;
  prometheus::Family<prometheus::Histogram>* http_duration = nullptr;
  prometheus::Gauge* http_connections = nullptr;
  prometheus::Counter* http_refused = nullptr;
  std::uint64_t http_refused_seen = 0;  // guarded by mutex

  std::mutex collectors_mutex;  // guards collectors, next_collector; held while they run
  std::map<std::uint64_t, std::function<void()>> collectors;
  std::uint64_t next_collector = 1;

  std::mutex mutex;  // guards everything below
  std::set<std::string, std::less<>> core_names;
  std::size_t plugin_series = 0;
  std::map<std::string, PluginFamily, std::less<>> families;
  std::map<std::pair<std::string, prometheus::Labels>, std::int64_t> handles;
  std::vector<Series> series;

  Impl() {
    http_requests = &prometheus::BuildCounter()
                         .Name("pgdog_control_http_requests_total")
                         .Help("HTTP requests answered, by method, route and status code.")
                         .Register(registry);
    http_duration = &prometheus::BuildHistogram()
                         .Name("pgdog_control_http_request_duration_seconds")
                         .Help("Time from the start of a request to its response being written.")
                         .Register(registry);
    prometheus::BuildGauge()
        .Name("pgdog_control_build_info")
        .Help("Always 1; the version label names the running build.")
        .Register(registry)
        .Add({{"version", PGDC_VERSION}})
        .Set(1);
    http_connections = &prometheus::BuildGauge()
                            .Name("pgdog_control_http_connections")
                            .Help("Open HTTP connections.")
                            .Register(registry)
                            .Add({});
    http_refused = &prometheus::BuildCounter()
                        .Name("pgdog_control_http_connections_refused_total")
                        .Help("Connections closed at once because http.max_connections were open.")
                        .Register(registry)
                        .Add({});
    core_names = {"pgdog_control_http_connections", "pgdog_control_http_connections_refused_total",
                  "pgdog_control_http_requests_total",
                  "pgdog_control_http_request_duration_seconds", "pgdog_control_build_info"};
  }
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

void Metrics::record_http(std::string_view method, std::string_view route, int status,
                          std::chrono::duration<double> latency) {
  const std::string route_label = route.empty() ? std::string("unmatched") : std::string(route);
  impl_->http_requests
      ->Add({{"method", std::string(normalize_method(method))},
             {"route", route_label},
             {"code", std::to_string(status)}})
      .Increment();
  impl_->http_duration->Add({{"route", route_label}}, kHttpBuckets)
      .Observe(std::max(0.0, latency.count()));
}

void Metrics::record_http_connections(std::size_t open, std::uint64_t refused_total) {
  std::lock_guard lock(impl_->mutex);
  impl_->http_connections->Set(static_cast<double>(open));
  if (refused_total > impl_->http_refused_seen) {
    impl_->http_refused->Increment(static_cast<double>(refused_total - impl_->http_refused_seen));
    impl_->http_refused_seen = refused_total;
  }
}

std::int64_t Metrics::define(Kind kind, std::string_view name, std::string_view help,
                             std::string_view labels_json, const std::vector<double>& buckets,
                             std::string* error, Owner owner) {
  std::string local_error;
  std::string& err = error != nullptr ? *error : local_error;
  err.clear();
  const auto fail = [&](std::string message) -> std::int64_t {
    err = "metric \"" + std::string(name) + "\": " + std::move(message);
    return -1;
  };

  const int kind_value = static_cast<int>(kind);
  if (kind_value < 0 || kind_value > static_cast<int>(Kind::kHistogram)) {
    return fail("unknown kind " + std::to_string(kind_value));
  }
  if (!valid_metric_name(name)) return fail("invalid name (must match [a-zA-Z_:][a-zA-Z0-9_:]*)");
  if (name.size() > kMaxNameLength) {
    return fail("name longer than " + std::to_string(kMaxNameLength) + " characters");
  }
  const std::string full = std::string(kPrefix) + std::string(name);
  if (auto problem = lint_name(kind, full); !problem.empty()) return fail(problem);

  prometheus::Labels labels;
  std::string label_error;
  if (!parse_labels(labels_json, &labels, &label_error)) return fail(label_error);

  std::vector<double> bounds;
  if (kind == Kind::kHistogram) {
    bounds = buckets.empty() ? kDefaultBuckets : buckets;
    if (bounds.size() > kMaxBuckets) {
      return fail("too many buckets (at most " + std::to_string(kMaxBuckets) + ")");
    }
    for (std::size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && bounds[i] <= bounds[i - 1])) {
        return fail("buckets must be finite and strictly increasing");
      }
    }
  }
  if (!valid_utf8(help)) return fail("help is not valid UTF-8");
  std::string help_text = escape_help(help);
  if (help_text.empty()) help_text = "Plugin metric " + std::string(name) + ".";

  std::lock_guard lock(impl_->mutex);
  if (impl_->core_names.count(full) != 0) return fail("the name is reserved for the core");

  auto fit = impl_->families.find(full);
  if (fit != impl_->families.end()) {
    const auto& fam = fit->second;
    if (fam.owner != owner) {
      return fail(owner == Owner::kPlugin ? "the name is reserved for the core"
                                          : "the name is already used by a plugin");
    }
    if (fam.kind != kind) {
      return fail(std::string("already defined as a ") + kind_name(fam.kind) + ", not a " +
                  kind_name(kind));
    }
    if (kind == Kind::kHistogram && fam.buckets != bounds) {
      return fail("already defined with different buckets");
    }
    if (fam.label_names != label_names(labels)) {
      return fail("already defined with different label names");
    }
  }
  auto key = std::make_pair(full, labels);
  if (auto hit = impl_->handles.find(key); hit != impl_->handles.end()) return hit->second;
  if (owner == Owner::kPlugin && impl_->plugin_series >= kMaxPluginSeries) {
    return fail("too many plugin series (at most " + std::to_string(kMaxPluginSeries) + ")");
  }

  try {
    if (fit == impl_->families.end()) {
      Impl::PluginFamily fam{owner, kind, nullptr, bounds, label_names(labels)};
      switch (kind) {
        case Kind::kCounter:
          fam.family =
              &prometheus::BuildCounter().Name(full).Help(help_text).Register(impl_->registry);
          break;
        case Kind::kGauge:
          fam.family =
              &prometheus::BuildGauge().Name(full).Help(help_text).Register(impl_->registry);
          break;
        case Kind::kHistogram:
          fam.family =
              &prometheus::BuildHistogram().Name(full).Help(help_text).Register(impl_->registry);
          break;
      }
      fit = impl_->families.emplace(full, std::move(fam)).first;
    }
    Impl::Series s;
    switch (kind) {
      case Kind::kCounter:
        s = &static_cast<prometheus::Family<prometheus::Counter>*>(fit->second.family)->Add(labels);
        break;
      case Kind::kGauge:
        s = &static_cast<prometheus::Family<prometheus::Gauge>*>(fit->second.family)->Add(labels);
        break;
      case Kind::kHistogram:
        s = &static_cast<prometheus::Family<prometheus::Histogram>*>(fit->second.family)
                 ->Add(labels, bounds);
        break;
    }
    const auto handle = static_cast<std::int64_t>(impl_->series.size());
    impl_->series.push_back(s);
    if (owner == Owner::kPlugin) ++impl_->plugin_series;
    impl_->handles.emplace(std::move(key), handle);
    return handle;
  } catch (const std::exception& e) {
    return fail(std::string("rejected by the registry: ") + e.what());
  }
}

void Metrics::record(std::int64_t handle, Op op, double value) {
  Impl::Series s;
  {
    std::lock_guard lock(impl_->mutex);
    if (handle < 0 || static_cast<std::size_t>(handle) >= impl_->series.size()) return;
    s = impl_->series[static_cast<std::size_t>(handle)];
  }
  if (auto* const* c = std::get_if<prometheus::Counter*>(&s)) {
    // A counter only goes up: negative, NaN and infinite increments are dropped.
    if (op == Op::kAdd && std::isfinite(value) && value >= 0) (*c)->Increment(value);
  } else if (auto* const* g = std::get_if<prometheus::Gauge*>(&s)) {
    if (op == Op::kSet) {
      (*g)->Set(value);
    } else if (op == Op::kAdd && std::isfinite(value)) {
      if (value >= 0) {
        (*g)->Increment(value);
      } else {
        (*g)->Decrement(-value);
      }
    }
  } else if (auto* const* h = std::get_if<prometheus::Histogram*>(&s)) {
    if (op == Op::kObserve && std::isfinite(value)) (*h)->Observe(value);
  }
}

Metrics::Collector::Collector(Collector&& other) noexcept
    : metrics_(std::exchange(other.metrics_, nullptr)), id_(other.id_) {}

Metrics::Collector& Metrics::Collector::operator=(Collector&& other) noexcept {
  if (this != &other) {
    Collector old(std::move(*this));
    metrics_ = std::exchange(other.metrics_, nullptr);
    id_ = other.id_;
  }
  return *this;
}

Metrics::Collector::~Collector() {
  if (metrics_ == nullptr) return;
  std::lock_guard lock(metrics_->impl_->collectors_mutex);
  metrics_->impl_->collectors.erase(id_);
}

Metrics::Collector Metrics::add_collector(std::function<void()> refresh) {
  std::lock_guard lock(impl_->collectors_mutex);
  const std::uint64_t id = impl_->next_collector++;
  impl_->collectors.emplace(id, std::move(refresh));
  return Collector(this, id);
}

std::string Metrics::serialize() const {
  {
    // Held while they run, so a Collector's destructor waits for its run.
    std::lock_guard lock(impl_->collectors_mutex);
    for (const auto& [id, refresh] : impl_->collectors) refresh();
  }
  const auto families = impl_->registry.Collect();
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

}  // namespace pgdc
