// The replicas over HTTP (docs/api.md, "Members and switchover"):
//   GET  /api/web/members              any replica answers (not leader-gated)
//   POST /api/web/leadership/switchover the leader only (the leader gate)
// The work is MemberService's; these parse, check tokens and shape answers.
#include <utility>

#include "api/api_routes.h"
#include "api/responses.h"
#include "http/json_errors.h"
#include "log/logger.h"
#include "members/members_json.h"

namespace pgdc::api {
namespace {

using Json = nlohmann::json;
using Outcome = members::SwitchoverOutcome;

HttpResponse switchover_response(const Outcome& o) {
  switch (o.kind) {
    case Outcome::Kind::kOk:
      return json_ok(200, Json{{"from", o.from}, {"to", o.to}, {"epoch", o.epoch}});
    case Outcome::Kind::kUnknownMember:
      return json_error(404, "unknown_member", o.message);
    case Outcome::Kind::kRefused:
      return json_error(409, "switchover_refused", o.message);
    case Outcome::Kind::kUnsupported:
      return json_error(501, "switchover_unsupported", o.message);
    case Outcome::Kind::kFailed:
      break;
  }
  return json_error(503, "switchover_failed", o.message);
}

}  // namespace

void add_member_routes(Router& router, const RouteDeps& c) {
  members::MemberService* service = c.members;
  router.add(
      "GET", "/api/web/members", "/api/web/members",
      [c, service](HttpRequest&& r, Respond respond) {
        if (!c.auth.web_read(r, respond)) return;
        service->members([c, service, respond](const members::MembersView& v) {
          if (!v.ok) {
            respond(json_error(503, "members_unavailable",
                               "the coordination backend did not list the members: " + v.error));
            return;
          }
          // The role comes from this replica's own view of the leadership.
          const std::string leader = c.state.snapshot().holder;
          respond(json_ok(200, members::members_json(v, service->identity(), leader)));
        });
      },
      c.needs(ApiAuth::Need::kWebRead));

  router.add("POST", "/api/web/leadership/switchover", "/api/web/leadership/switchover",
             c.gated([c, service](HttpRequest&& r, Respond respond, const Epoch& epoch) {
               if (!c.auth.web_admin(r, respond)) return;
               auto parsed = parse_switchover(r.body, c.limits);
               if (auto* e = std::get_if<ParseError>(&parsed)) {
                 respond(parse_error_response(*e));
                 return;
               }
               if (!service->switchover_supported()) {
                 Outcome o;
                 o.kind = Outcome::Kind::kUnsupported;
                 o.message = "the coordination plugin (" + c.info.backend_name + " " +
                             c.info.backend_version +
                             ") offers no members list or transfer, so leadership cannot be handed "
                             "over on purpose";
                 respond(switchover_response(o));
                 return;
               }
               // Runs on the service's worker: the plugin's FOLLOWER report ends this
               // term, which waits for this handler (leader work) to return first.
               service->switchover(
                   std::get<SwitchoverRequest>(parsed).to, epoch, "an admin token from " + r.remote,
                   [respond](const Outcome& o) { respond(switchover_response(o)); });
             }),
             c.small_body(ApiAuth::Need::kWebAdmin));
}

}  // namespace pgdc::api
