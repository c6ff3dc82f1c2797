#include "api/fleet_views.h"

#include <cstdio>
#include <cstdlib>
#include <string>

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

double tidy(float f) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.7g", static_cast<double>(f));
  return std::strtod(buf, nullptr);
}

Json ms_or_null(std::int64_t ms) { return ms != 0 ? Json(ms) : Json(nullptr); }

}  // namespace

Json point_json(const fleet::MetricPoint& p) {
  return Json{{"ts_ms", p.ts_ms},     {"clients", p.clients},
              {"servers", p.servers}, {"pools", p.pools},
              {"qps", tidy(p.qps)},   {"tps", tidy(p.tps)},
              {"cpu", tidy(p.cpu)},   {"memory_bytes", p.memory_bytes}};
}

Json deployments_json(const std::vector<fleet::DeploymentCounts>& deployments) {
  Json list = Json::array();
  for (const auto& d : deployments) {
    list.push_back(Json{{"name", d.name},
                        {"nodes", {{"total", d.total}, {"live", d.live}, {"stale", d.stale}}}});
  }
  return Json{{"deployments", std::move(list)}};
}

Json node_summary_json(const fleet::NodeSnapshot& n) {
  return Json{{"id", n.info.node_id},
              {"version", n.info.version},
              {"host", n.info.host},
              {"status", n.live ? "live" : "stale"},
              {"registered_at_ms", n.registered_at_ms},
              {"last_seen_ms", n.last_seen_ms},
              {"latest", n.latest ? point_json(*n.latest) : Json(nullptr)}};
}

Json nodes_json(std::string_view deployment, const std::vector<fleet::NodeSnapshot>& nodes) {
  Json list = Json::array();
  for (const auto& n : nodes) list.push_back(node_summary_json(n));
  return Json{{"deployment", std::string(deployment)}, {"nodes", std::move(list)}};
}

Json node_json(std::string_view deployment, const fleet::NodeDetail& detail) {
  Json out = node_summary_json(detail.node);
  out["deployment"] = std::string(deployment);
  for (std::size_t k = 0; k < fleet::kUploadKinds; ++k) {
    const std::string key(fleet::upload_kind_name(static_cast<fleet::UploadKind>(k)));
    // Stored validated; a parse failure would be a bug, shown as no upload.
    Json list =
        detail.uploads[k].empty() ? Json::array() : Json::parse(detail.uploads[k], nullptr, false);
    out[key] = list.is_discarded() ? Json::array() : std::move(list);
    out[key + "_at_ms"] = ms_or_null(detail.upload_ms[k]);
  }
  return out;
}

Json series_json(std::string_view deployment, std::string_view node,
                 const std::vector<fleet::MetricPoint>& points) {
  Json list = Json::array();
  for (const auto& p : points) list.push_back(point_json(p));
  return Json{{"deployment", std::string(deployment)},
              {"node", std::string(node)},
              {"points", std::move(list)}};
}

Json delivery_json(const fleet::Delivery& d) {
  Json result = nullptr;
  if (fleet::is_final(d.state)) {
    result = Json{{"status", d.result_status}, {"message", d.result_message}};
  }
  return Json{{"node", d.node},
              {"state", std::string(fleet::delivery_state_name(d.state))},
              {"delivered_at_ms", ms_or_null(d.delivered_at_ms)},
              {"acked_at_ms", ms_or_null(d.acked_at_ms)},
              {"deliveries", d.deliveries},
              {"result", result}};
}

Json command_json(const fleet::CommandSnapshot& snapshot) {
  const fleet::Command& c = snapshot.command;
  Json nodes = Json::array();
  for (const auto& d : c.nodes) nodes.push_back(delivery_json(d));
  Json args = Json::parse(c.args_json, nullptr, false);
  if (args.is_discarded()) args = Json::object();
  return Json{{"id", c.id},
              {"seq", c.seq},
              {"epoch", c.epoch},
              {"name", c.name},
              {"target", c.target},
              {"args", std::move(args)},
              {"issued_at_ms", c.issued_at_ms},
              {"state", std::string(fleet::command_state_name(snapshot.state))},
              {"nodes", std::move(nodes)}};
}

Json commands_json(std::string_view deployment, const std::vector<fleet::CommandSnapshot>& commands,
                   const fleet::TrimmedView& trimmed) {
  Json list = Json::array();
  for (const auto& c : commands) list.push_back(command_json(c));
  Json recent = Json::array();
  for (const auto& t : trimmed.recent) {
    recent.push_back(Json{{"id", t.id},
                          {"seq", t.seq},
                          {"epoch", t.epoch},
                          {"name", t.name},
                          {"issued_at_ms", t.issued_at_ms},
                          {"trimmed_at_ms", t.trimmed_at_ms},
                          {"open_nodes", t.open_nodes}});
  }
  return Json{{"deployment", std::string(deployment)},
              {"commands", std::move(list)},
              {"trimmed_pending", Json{{"total", trimmed.total}, {"recent", std::move(recent)}}}};
}

}  // namespace pgdc::api
