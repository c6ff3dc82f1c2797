#include "api/api_routes.h"

#include "api/responses.h"

namespace pgdc::api {

Admission RouteDeps::unknown_endpoint(ApiAuth::Need need) const {
  Admission a;
  a.max_body_bytes = 0;
  a.check = [&auth = auth, need](const HttpRequest& head) -> std::optional<HttpResponse> {
    if (auto refusal = auth.check(need, head).refusal) return refusal;
    return no_endpoint(head);
  };
  return a;
}

}  // namespace pgdc::api
