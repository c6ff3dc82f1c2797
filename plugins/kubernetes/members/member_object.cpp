#include "member_object.h"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

namespace pgdc::kube {
namespace {

using json = nlohmann::json;

bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

bool valid_label_value(std::string_view v) {
  if (v.size() > 63) return false;
  if (v.empty()) return true;
  auto alnum = [](char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); };
  if (!alnum(v.front()) || !alnum(v.back())) return false;
  return std::all_of(v.begin(), v.end(),
                     [&](char c) { return alnum(c) || c == '-' || c == '_' || c == '.'; });
}

// A string field of the member annotation: absent -> "", a non-string or an
// over-long string -> nullopt (malformed).
std::optional<std::string> field(const json& o, const char* key) {
  auto it = o.find(key);
  if (it == o.end() || it->is_null()) return std::string();
  if (!it->is_string()) return std::nullopt;
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > kMaxMemberField) return std::nullopt;
  return s;
}

std::optional<MemberRecord> parse_item(const json& item, std::string_view label_value, WallTime now,
                                       std::string* why) {
  if (!item.is_object() || !item.contains("metadata") || !item["metadata"].is_object()) {
    *why = "not an object with metadata";
    return std::nullopt;
  }
  const json& meta = item["metadata"];
  MemberRecord r;
  r.name = meta.value("name", json()).is_string() ? meta["name"].get<std::string>() : "";
  if (r.name.empty()) {
    *why = "no metadata.name";
    return std::nullopt;
  }
  const std::string what = "lease " + r.name.substr(0, 253) + ": ";
  if (meta.contains("resourceVersion") && meta["resourceVersion"].is_string()) {
    r.resource_version = meta["resourceVersion"].get<std::string>();
  }
  const json labels = meta.value("labels", json::object());
  if (!labels.is_object() || labels.value(kMemberOfLabel, json()) != json(label_value)) {
    *why = what + "not labelled " + std::string(kMemberOfLabel) + "=" + std::string(label_value);
    return std::nullopt;
  }
  const json spec = item.value("spec", json());
  if (!spec.is_object()) {
    *why = what + "no spec";
    return std::nullopt;
  }
  const json holder = spec.value("holderIdentity", json());
  if (!holder.is_string() || holder.get_ref<const std::string&>().empty() ||
      holder.get_ref<const std::string&>().size() > kMaxMemberField) {
    *why = what + "no holderIdentity";
    return std::nullopt;
  }
  const json ttl = spec.value("leaseDurationSeconds", json());
  if (!ttl.is_number_integer() || ttl.get<std::int64_t>() <= 0 || ttl.get<std::int64_t>() > 86400) {
    *why = what + "leaseDurationSeconds missing or out of range";
    return std::nullopt;
  }
  const json renew = spec.value("renewTime", json());
  std::optional<WallTime> renewed;
  if (renew.is_string()) renewed = parse_micro_time(renew.get<std::string>());
  if (!renewed) {
    *why = what + "renewTime missing or not a time";
    return std::nullopt;
  }
  const json annotations = meta.value("annotations", json::object());
  const json raw = annotations.is_object() ? annotations.value(kMemberAnnotation, json()) : json();
  if (!raw.is_string() || raw.get_ref<const std::string&>().size() > 8 * kMaxMemberField) {
    *why = what + "no " + std::string(kMemberAnnotation) + " annotation";
    return std::nullopt;
  }
  const json m = json::parse(raw.get<std::string>(), nullptr, false);
  if (!m.is_object()) {
    *why = what + std::string(kMemberAnnotation) + " is not a JSON object";
    return std::nullopt;
  }
  auto address = field(m, "address");
  auto version = field(m, "version");
  auto backend = field(m, "backend");
  const json eligible = m.value("eligible", json());
  if (!address || !version || !backend || !eligible.is_boolean()) {
    *why = what + std::string(kMemberAnnotation) + " has a field of the wrong type or too long";
    return std::nullopt;
  }
  r.member.identity = holder.get<std::string>();
  r.member.address = std::move(*address);
  r.member.version = std::move(*version);
  r.member.backend = std::move(*backend);
  r.member.eligible = eligible.get<bool>();
  r.ttl_secs = static_cast<std::int32_t>(ttl.get<std::int64_t>());
  r.age_ms = std::chrono::duration_cast<std::chrono::milliseconds>(now - *renewed).count();
  // A heartbeat "from the future" is clock skew between writer and reader:
  // informational only, shown as 0.
  r.member.heartbeat_age_ms = std::max<std::int64_t>(r.age_ms, 0);
  r.member.stale = r.age_ms > std::int64_t{r.ttl_secs} * 1000;
  return r;
}

}  // namespace

bool valid_dns_subdomain(std::string_view name) {
  if (name.empty() || name.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = name.find('.', start);
    const std::string_view label =
        name.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || !lower_alnum(label.front()) || !lower_alnum(label.back())) return false;
    for (char c : label) {
      if (!lower_alnum(c) && c != '-') return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

std::string fnv1a64_hex(std::string_view text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  static const char* kHex = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 15];
  return out;
}

std::string member_lease_name(std::string_view lease_name, std::string_view identity) {
  const std::string prefix = std::string(lease_name) + "-member-";
  std::string direct = prefix + std::string(identity);
  if (valid_dns_subdomain(direct)) return direct;
  // Readable where possible: the identity lowercased, every other character
  // a '-', cut to fit, then the hash of the exact identity (so "Pod_A" and
  // "pod-a" never share a name).
  const std::string suffix = "h" + fnv1a64_hex(identity);
  std::string readable;
  for (char c : identity) {
    const char l = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    readable += lower_alnum(l) ? l : '-';
  }
  const std::size_t room =
      prefix.size() + suffix.size() + 1 < 253 ? 253 - prefix.size() - suffix.size() - 1 : 0;
  if (readable.size() > room) readable.resize(room);
  while (!readable.empty() && readable.front() == '-') readable.erase(0, 1);
  while (!readable.empty() && readable.back() == '-') readable.pop_back();
  std::string hashed = prefix + (readable.empty() ? "" : readable + "-") + suffix;
  if (valid_dns_subdomain(hashed)) return hashed;
  return "pgdc-member-h" + fnv1a64_hex(std::string(lease_name) + "/" + std::string(identity));
}

std::string member_label_value(std::string_view lease_name) {
  if (valid_label_value(lease_name)) return std::string(lease_name);
  return "h" + fnv1a64_hex(lease_name);
}

std::string member_lease_body(const MemberWrite& w) {
  const json annotation{{"identity", w.self.identity},
                        {"address", w.self.address},
                        {"version", w.self.version},
                        {"backend", w.self.backend},
                        {"eligible", w.self.eligible}};
  json meta{{"name", member_lease_name(w.lease_name, w.self.identity)},
            {"namespace", w.ns},
            {"labels",
             {{kMemberOfLabel, member_label_value(w.lease_name)},
              {"app.kubernetes.io/managed-by", "pgdog-control"}}},
            {"annotations", {{kMemberAnnotation, annotation.dump()}}}};
  if (w.pod.known()) {
    // No blockOwnerDeletion: setting it needs delete permission on the Pod
    // (OwnerReferencesPermissionEnforcement); the garbage collector deletes
    // the member after the Pod either way.
    meta["ownerReferences"] = json::array(
        {{{"apiVersion", "v1"}, {"kind", "Pod"}, {"name", w.pod.name}, {"uid", w.pod.uid}}});
  }
  if (!w.resource_version.empty()) meta["resourceVersion"] = w.resource_version;
  const json body{{"apiVersion", "coordination.k8s.io/v1"},
                  {"kind", "Lease"},
                  {"metadata", meta},
                  {"spec",
                   {{"holderIdentity", w.self.identity},
                    {"leaseDurationSeconds", w.ttl_secs},
                    {"renewTime", format_micro_time(w.renew_time)}}}};
  return body.dump();
}

std::optional<std::vector<MemberRecord>> parse_member_list(std::string_view body,
                                                           std::string_view label_value,
                                                           WallTime now, std::string* why,
                                                           std::vector<std::string>* skipped) {
  const json list = json::parse(body, nullptr, false);
  if (!list.is_object() || !list.contains("items") || !list["items"].is_array()) {
    if (why) *why = "not a LeaseList";
    return std::nullopt;
  }
  std::map<std::string, MemberRecord> by_identity;  // sorted by identity
  for (const json& item : list["items"]) {
    std::string reason;
    auto r = parse_item(item, label_value, now, &reason);
    if (!r) {
      if (skipped) skipped->push_back(std::move(reason));
      continue;
    }
    auto it = by_identity.find(r->member.identity);
    if (it == by_identity.end()) {
      by_identity.emplace(r->member.identity, std::move(*r));
    } else if (r->age_ms < it->second.age_ms) {
      if (skipped) skipped->push_back("lease " + it->second.name + ": an older duplicate");
      it->second = std::move(*r);
    } else if (skipped) {
      skipped->push_back("lease " + r->name + ": an older duplicate");
    }
  }
  std::vector<MemberRecord> out;
  out.reserve(by_identity.size());
  for (auto& [_, r] : by_identity) out.push_back(std::move(r));
  return out;
}

}  // namespace pgdc::kube
