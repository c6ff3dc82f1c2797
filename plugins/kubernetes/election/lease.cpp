#include "lease.h"

#include <cstdio>
#include <ctime>
#include <limits>

namespace pgdc::kube {
namespace {

bool digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's
// algorithm), so parsing never depends on the process time zone.
std::int64_t days_from_civil(int y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<std::string> string_field(const nlohmann::json& spec, const char* key,
                                        std::string* error) {
  const auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return std::string();
  if (!it->is_string()) {
    *error = std::string("spec.") + key + " is not a string";
    return std::nullopt;
  }
  return it->get<std::string>();
}

bool int32_field(const nlohmann::json& spec, const char* key, std::int32_t min, std::int32_t* out,
                 std::string* error) {
  const auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return true;
  if (!it->is_number_integer()) {
    *error = std::string("spec.") + key + " is not an integer";
    return false;
  }
  const auto v = it->get<std::int64_t>();
  if (v < min || v > std::numeric_limits<std::int32_t>::max()) {
    *error = std::string("spec.") + key + " is out of range: " + std::to_string(v);
    return false;
  }
  *out = static_cast<std::int32_t>(v);
  return true;
}

bool time_field(const nlohmann::json& spec, const char* key, std::optional<WallTime>* out,
                std::string* error) {
  const auto it = spec.find(key);
  if (it == spec.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *error = std::string("spec.") + key + " is not a string";
    return false;
  }
  *out = parse_micro_time(it->get<std::string>());
  if (!*out) {
    *error =
        std::string("spec.") + key + " is not an RFC 3339 time: \"" + it->get<std::string>() + "\"";
    return false;
  }
  return true;
}

// The annotation's address if it is well-formed and names `holder`, else "".
// Malformed values are ignored, not errors: annotations are anyone's to edit.
std::string read_holder_address(const nlohmann::json& meta, const std::string& holder) {
  const auto annotations = meta.find("annotations");
  if (holder.empty() || annotations == meta.end() || !annotations->is_object()) return "";
  const auto it = annotations->find(kLeaderAddressAnnotation);
  if (it == annotations->end() || !it->is_string()) return "";
  const auto value = nlohmann::json::parse(it->get<std::string>(), nullptr, false);
  if (!value.is_object()) return "";
  const auto h = value.find("holder");
  const auto a = value.find("address");
  if (h == value.end() || a == value.end() || !h->is_string() || !a->is_string()) return "";
  return h->get<std::string>() == holder ? a->get<std::string>() : "";
}

std::uint32_t read_era(const nlohmann::json& meta) {
  const auto annotations = meta.find("annotations");
  if (annotations == meta.end() || !annotations->is_object()) return 0;
  const auto it = annotations->find(kEpochEraAnnotation);
  if (it == annotations->end() || !it->is_string()) return 0;
  const std::string& text = it->get_ref<const std::string&>();
  if (text.empty() || text.size() > 10) return 0;
  std::uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return 0;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v > 0xffffffffULL ? 0 : static_cast<std::uint32_t>(v);
}

std::optional<ReleasedTerm> read_released(const nlohmann::json& meta) {
  const auto annotations = meta.find("annotations");
  if (annotations == meta.end() || !annotations->is_object()) return std::nullopt;
  const auto it = annotations->find(kReleasedTermAnnotation);
  if (it == annotations->end() || !it->is_string()) return std::nullopt;
  const auto v = nlohmann::json::parse(it->get<std::string>(), nullptr, false);
  if (!v.is_object()) return std::nullopt;
  const auto h = v.find("holder");
  const auto u = v.find("uid");
  const auto e = v.find("epoch");
  if (h == v.end() || u == v.end() || e == v.end() || !h->is_string() || !u->is_string() ||
      !e->is_number_unsigned()) {
    return std::nullopt;
  }
  return ReleasedTerm{h->get<std::string>(), u->get<std::string>(), e->get<std::uint64_t>()};
}

// spec.preferredHolder when it is a non-empty string, else the annotation.
// Malformed values (not strings) read as "no preference".
std::string read_preferred_holder(const nlohmann::json& spec, const nlohmann::json& meta) {
  if (const auto it = spec.find("preferredHolder");
      it != spec.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
    return it->get<std::string>();
  }
  const auto annotations = meta.find("annotations");
  if (annotations == meta.end() || !annotations->is_object()) return "";
  const auto it = annotations->find(kPreferredHolderAnnotation);
  return it != annotations->end() && it->is_string() ? it->get<std::string>() : "";
}

// Sets or removes one of the election's annotations.
void set_annotation(nlohmann::json& object, const char* key, const std::optional<std::string>& v) {
  nlohmann::json& meta = object["metadata"];
  if (v) {
    meta["annotations"][key] = *v;
    return;
  }
  const auto annotations = meta.find("annotations");
  if (annotations != meta.end() && annotations->is_object()) annotations->erase(key);
}

void write_holder_address(nlohmann::json& object, const LeaseSpec& s) {
  nlohmann::json& meta = object["metadata"];
  if (!s.holder.empty() && !s.holder_address.empty()) {
    const nlohmann::json value{{"holder", s.holder}, {"address", s.holder_address}};
    meta["annotations"][kLeaderAddressAnnotation] = value.dump();
    return;
  }
  const auto annotations = meta.find("annotations");
  if (annotations != meta.end() && annotations->is_object()) {
    annotations->erase(kLeaderAddressAnnotation);
  }
}

void write_spec(nlohmann::json& object, const LeaseSpec& s) {
  write_holder_address(object, s);
  set_annotation(object, kEpochEraAnnotation,
                 s.era > 0 ? std::optional<std::string>(std::to_string(s.era)) : std::nullopt);
  std::optional<std::string> released;
  if (s.holder.empty() && s.released) {
    released =
        nlohmann::json{
            {"holder", s.released->holder}, {"uid", s.released->uid}, {"epoch", s.released->epoch}}
            .dump();
  }
  set_annotation(object, kReleasedTermAnnotation, released);
  // The preference lives only in a release (no holder).
  const std::string preferred = s.holder.empty() ? s.preferred_holder : std::string();
  set_annotation(object, kPreferredHolderAnnotation,
                 preferred.empty() ? std::nullopt : std::optional<std::string>(preferred));
  nlohmann::json& spec = object["spec"];
  if (!spec.is_object()) spec = nlohmann::json::object();
  // The API server forbids spec.preferredHolder without spec.strategy (gate
  // on) and drops it (gate off): the annotation is what always arrives.
  const auto strategy = spec.find("strategy");
  const bool has_strategy = strategy != spec.end() && strategy->is_string() &&
                            !strategy->get_ref<const std::string&>().empty();
  if (!preferred.empty() && has_strategy) {
    spec["preferredHolder"] = preferred;
  } else {
    spec.erase("preferredHolder");
  }
  spec["holderIdentity"] = s.holder;
  spec["leaseDurationSeconds"] = s.duration_secs;
  spec["leaseTransitions"] = s.transitions;
  if (s.acquire_time) {
    spec["acquireTime"] = format_micro_time(*s.acquire_time);
  } else {
    spec.erase("acquireTime");
  }
  if (s.renew_time) {
    spec["renewTime"] = format_micro_time(*s.renew_time);
  } else {
    spec.erase("renewTime");
  }
}

}  // namespace

std::uint64_t LeaseSpec::epoch() const {
  return (std::uint64_t{era} << 31) + static_cast<std::uint64_t>(transitions);
}

void LeaseSpec::set_epoch(std::uint64_t e) {
  era = static_cast<std::uint32_t>(e >> 31);
  transitions = static_cast<std::int32_t>(e & 0x7fffffffULL);
}

bool same_election(const LeaseSpec& a, const LeaseSpec& b) {
  return a.holder == b.holder && a.duration_secs == b.duration_secs &&
         a.acquire_time == b.acquire_time && a.renew_time == b.renew_time &&
         a.transitions == b.transitions && a.era == b.era;
}

bool Lease::released() const {
  return spec_.holder.empty() && spec_.released && spec_.released->uid == uid_ &&
         spec_.released->epoch == spec_.epoch();
}

std::string format_micro_time(WallTime t) {
  const auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch());
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(us);
  auto frac = us - secs;
  if (frac.count() < 0) {
    secs -= std::chrono::seconds(1);
    frac += std::chrono::seconds(1);
  }
  const std::time_t tt = static_cast<std::time_t>(secs.count());
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<long long>(frac.count()));
  return buf;
}

std::optional<WallTime> parse_micro_time(std::string_view s) {
  int y, mo, d, h, mi, se;
  if (!digits(s, 0, 4, &y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, &mo) ||
      s[7] != '-' || !digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !digits(s, 11, 2, &h) || s[13] != ':' || !digits(s, 14, 2, &mi) || s[16] != ':' ||
      !digits(s, 17, 2, &se)) {
    return std::nullopt;
  }
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return std::nullopt;
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int n = 0;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      if (n < 9) {
        nanos = nanos * 10 + (s[pos] - '0');
        ++n;
      }
      ++pos;
    }
    if (n == 0) return std::nullopt;
    for (; n < 9; ++n) nanos *= 10;
  }
  std::int64_t offset_secs = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !digits(s, pos + 4, 2, &om)) {
      return std::nullopt;
    }
    offset_secs = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::int64_t secs =
      days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d)) * 86400 + h * 3600 +
      mi * 60 + se - offset_secs;
  return WallTime(std::chrono::duration_cast<WallTime::duration>(std::chrono::seconds(secs) +
                                                                 std::chrono::nanoseconds(nanos)));
}

std::optional<Lease> Lease::parse(std::string_view json, std::string* error) {
  nlohmann::json object = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (object.is_discarded()) {
    *error = "the response is not valid JSON";
    return std::nullopt;
  }
  return from_json(std::move(object), error);
}

std::optional<Lease> Lease::from_json(nlohmann::json object, std::string* error) {
  if (!object.is_object()) {
    *error = "the Lease is not a JSON object";
    return std::nullopt;
  }
  if (const auto kind = object.find("kind");
      kind != object.end() && (!kind->is_string() || kind->get<std::string>() != "Lease")) {
    *error = "expected kind Lease, got " + kind->dump();
    return std::nullopt;
  }
  const auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) {
    *error = "the Lease has no metadata";
    return std::nullopt;
  }
  Lease lease;
  for (const auto& [key, out] : {std::pair<const char*, std::string*>{"name", &lease.name_},
                                 {"uid", &lease.uid_},
                                 {"resourceVersion", &lease.resource_version_}}) {
    const auto it = meta->find(key);
    if (it == meta->end() || !it->is_string() || it->get<std::string>().empty()) {
      *error = std::string("the Lease has no metadata.") + key;
      return std::nullopt;
    }
    *out = it->get<std::string>();
  }
  const auto spec_it = object.find("spec");
  static const nlohmann::json kEmpty = nlohmann::json::object();
  const nlohmann::json& spec = spec_it == object.end() || spec_it->is_null() ? kEmpty : *spec_it;
  if (!spec.is_object()) {
    *error = "the Lease's spec is not an object";
    return std::nullopt;
  }
  std::string why;
  auto holder = string_field(spec, "holderIdentity", &why);
  if (!holder || !int32_field(spec, "leaseDurationSeconds", 1, &lease.spec_.duration_secs, &why) ||
      !int32_field(spec, "leaseTransitions", 0, &lease.spec_.transitions, &why) ||
      !time_field(spec, "acquireTime", &lease.spec_.acquire_time, &why) ||
      !time_field(spec, "renewTime", &lease.spec_.renew_time, &why)) {
    *error = "invalid Lease " + lease.name_ + ": " + why;
    return std::nullopt;
  }
  lease.spec_.holder = std::move(*holder);
  lease.spec_.holder_address = read_holder_address(*meta, lease.spec_.holder);
  lease.spec_.era = read_era(*meta);
  lease.spec_.released = read_released(*meta);
  lease.spec_.preferred_holder = read_preferred_holder(spec, *meta);
  lease.object_ = std::move(object);
  return lease;
}

std::string Lease::new_object(const std::string& name, const std::string& ns,
                              const LeaseSpec& spec) {
  nlohmann::json o{{"apiVersion", "coordination.k8s.io/v1"},
                   {"kind", "Lease"},
                   {"metadata", {{"name", name}, {"namespace", ns}}}};
  write_spec(o, spec);
  return o.dump();
}

std::string Lease::with_spec(const LeaseSpec& spec) const {
  nlohmann::json o = object_;
  if (!o.contains("apiVersion")) o["apiVersion"] = "coordination.k8s.io/v1";
  if (!o.contains("kind")) o["kind"] = "Lease";
  write_spec(o, spec);
  return o.dump();
}

}  // namespace pgdc::kube
