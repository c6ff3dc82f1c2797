// PgDog's machine API, /api/v2/ (docs/api.md): register, telemetry, command
// polls and acknowledgements. Every route: leader gate, then the deployment
// token, then the body.
#include <chrono>

#include "api/api_routes.h"
#include "api/fleet_views.h"
#include "api/responses.h"
#include "http/json_errors.h"

namespace pgdc::api {
namespace {

using Json = nlohmann::json;

template <typename T>
T* ok(Parsed<T>& p, Respond& respond) {
  if (const auto* e = std::get_if<ParseError>(&p)) {
    respond(parse_error_response(*e));
    return nullptr;
  }
  return &std::get<T>(p);
}

// Answers `status` with `body` once the change is durable, else the
// durability error (state/state_keeper.h).
state::StateKeeper::Done answer_when_durable(Respond respond, int status, Json body) {
  return [respond = std::move(respond), status,
          body = std::move(body)](const state::Durability& outcome) {
    respond(outcome.kind == state::Durability::Kind::kDurable ? json_ok(status, body)
                                                              : durability_error(outcome));
  };
}

void upload_route(Router& router, const RouteDeps& d, fleet::UploadKind kind) {
  const std::string path = "/api/v2/" + std::string(fleet::upload_kind_name(kind));
  const Admission admission = d.needs(ApiAuth::Need::kDeployment, d.limits.max_upload_bytes);
  router.add("POST", path, path, d.gated([d, kind](HttpRequest&& r, Respond respond, const Epoch&) {
    auto dep = d.auth.machine(r, respond);
    if (!dep) return;
    auto parsed = parse_upload(r.body, kind, d.limits);
    UploadRequest* u = ok(parsed, respond);
    if (!u) return;
    const auto status =
        d.store.record_upload(*dep, u->node_id, kind, std::move(u->entries_json), u->count);
    if (status != fleet::FleetStatus::kOk) {
      respond(fleet_error(status, *dep, u->node_id, d.store.options()));
      return;
    }
    respond(no_content());
  }),
             admission);
}

}  // namespace

void add_machine_routes(Router& router, const RouteDeps& d) {
  router.add("POST", "/api/v2/register", "/api/v2/register",
             d.gated([d](HttpRequest&& r, Respond respond, const Epoch& epoch) {
               auto dep = d.auth.machine(r, respond);
               if (!dep) return;
               auto parsed = parse_register(r.body, d.limits);
               const RegisterRequest* q = ok(parsed, respond);
               if (!q) return;
               const auto status =
                   d.store.register_node(*dep, fleet::NodeInfo{q->node_id, q->version, q->host});
               if (status != fleet::FleetStatus::kOk && status != fleet::FleetStatus::kCreated) {
                 respond(fleet_error(status, *dep, q->node_id, d.store.options()));
                 return;
               }
               const bool created = status == fleet::FleetStatus::kCreated;
               Json body{{"deployment", *dep},
                         {"node_id", q->node_id},
                         {"created", created},
                         {"epoch", epoch.str()}};
               if (!created) {
                 respond(json_ok(200, body));
                 return;
               }
               // A new node is answered once the registry that names it is durable.
               const auto generation = d.store.generations(*dep, fleet::DurablePart::kNodes).first;
               d.keeper.after_durable(
                   *dep, fleet::DurablePart::kNodes, generation, false,
                   answer_when_durable(std::move(respond), 201, std::move(body)));
             }),
             d.small_body(ApiAuth::Need::kDeployment));

  router.add("POST", "/api/v2/metrics", "/api/v2/metrics",
             d.gated([d](HttpRequest&& r, Respond respond, const Epoch&) {
               auto dep = d.auth.machine(r, respond);
               if (!dep) return;
               auto parsed = parse_metrics(r.body, d.limits);
               const MetricsRequest* m = ok(parsed, respond);
               if (!m) return;
               const auto status = d.store.record_metrics(*dep, m->node_id, m->sample);
               if (status != fleet::FleetStatus::kOk) {
                 respond(fleet_error(status, *dep, m->node_id, d.store.options()));
                 return;
               }
               respond(no_content());
             }),
             d.small_body(ApiAuth::Need::kDeployment));

  upload_route(router, d, fleet::UploadKind::kQueryStats);
  upload_route(router, d, fleet::UploadKind::kActiveQueries);
  upload_route(router, d, fleet::UploadKind::kErrors);

  router.add("GET", "/api/v2/commands", "/api/v2/commands",
             d.gated([d](HttpRequest&& r, Respond respond, const Epoch& epoch) {
               auto dep = d.auth.machine(r, respond);
               if (!dep) return;
               auto parsed = parse_poll_query(r.query, d.limits);
               const PollQuery* q = ok(parsed, respond);
               if (!q) return;
               auto w = std::make_shared<PollWaiter>();
               w->deployment = std::move(*dep);
               w->node_id = q->node_id;
               w->epoch = epoch.str();
               // A node that last saw another term starts over: its after_seq counts
               // another leader's sequence.
               w->after_seq = (q->epoch.empty() || q->epoch == w->epoch) ? q->after_seq : 0;
               d.polls.answer(std::move(w), std::move(respond),
                              std::chrono::milliseconds(q->wait_ms));
             }),
             d.needs(ApiAuth::Need::kDeployment));

  // POST /api/v2/commands/{id}/ack
  router.add_prefix(
      "POST", "/api/v2/commands/", "/api/v2/commands/{id}/ack",
      d.gated([d](HttpRequest&& r, Respond respond, const Epoch&) {
        constexpr std::string_view kPrefix = "/api/v2/commands/";
        constexpr std::string_view kSuffix = "/ack";
        std::string_view rest = std::string_view(r.path).substr(kPrefix.size());
        if (rest.size() <= kSuffix.size() || !rest.ends_with(kSuffix) ||
            rest.substr(0, rest.size() - kSuffix.size()).find('/') != std::string_view::npos) {
          respond(json_error(404, "not_found",
                             "no such endpoint; acknowledge with POST /api/v2/commands/{id}/ack"));
          return;
        }
        auto id = percent_decode(rest.substr(0, rest.size() - kSuffix.size()));
        if (!id || id->empty() || id->size() > 64) {
          respond(json_error(400, "bad_request", "malformed command id in the path"));
          return;
        }
        auto dep = d.auth.machine(r, respond);
        if (!dep) return;
        auto parsed = parse_ack(r.body, d.limits);
        const AckRequest* a = ok(parsed, respond);
        if (!a) return;
        auto outcome = d.store.ack(*dep, *id, a->node_id, a->ok, a->message);
        if (outcome.status != fleet::FleetStatus::kOk) {
          respond(fleet_error(outcome.status, *dep, a->node_id, d.store.options()));
          return;
        }
        if (outcome.first) d.metrics.command_acked(*dep, a->ok);
        Json shown = delivery_json(outcome.delivery);
        shown["id"] = outcome.command_id;
        shown["first"] = outcome.first;
        // Answered once durable (acks are batched: one write covers many).
        d.keeper.after_durable(*dep, fleet::DurablePart::kCommands, outcome.generation, false,
                               answer_when_durable(std::move(respond), 200, std::move(shown)));
      }),
      d.small_body(ApiAuth::Need::kDeployment));

  // Anything else under /api/v2/: the token, then 404 (from the admission,
  // before any body is read; the gated handler gives the same answer when
  // called without the server).
  for (const char* method : {"GET", "POST", "PUT", "PATCH", "DELETE"}) {
    router.add_prefix(
        method, "/api/v2/", "/api/v2/*",
        d.gated([](HttpRequest&& r, Respond respond, const Epoch&) { respond(no_endpoint(r)); }),
        d.unknown_endpoint(ApiAuth::Need::kDeployment));
  }
}

}  // namespace pgdc::api
