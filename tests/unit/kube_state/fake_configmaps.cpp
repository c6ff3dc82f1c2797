#include "fake_configmaps.h"

namespace pgdc::kube::testing {

using json = nlohmann::json;

std::string status_body(int code, std::string_view reason, std::string_view message) {
  return json{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
              {"status", "Failure"}, {"message", message}, {"reason", reason},
              {"code", code}}
      .dump();
}

namespace {

ApiResponse respond(int status, std::string body) {
  ApiResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::string not_found(const std::string& name) {
  return status_body(404, "NotFound", "configmaps \"" + name + "\" not found");
}

}  // namespace

ApiResponse FakeConfigMaps::send(const ApiRequest& request) {
  requests_.push_back(request);
  if (!scripted_.empty()) {
    ApiResponse r = scripted_.front();
    scripted_.pop_front();
    return r;
  }
  const std::string prefix = std::string(kCollection) + "/";
  if (request.method == "POST" && request.path == kCollection) {
    json o = json::parse(request.body);
    const std::string name = o["metadata"]["name"];
    if (objects_.count(name) != 0) {
      return respond(
          409, status_body(409, "AlreadyExists", "configmaps \"" + name + "\" already exists"));
    }
    o["metadata"]["resourceVersion"] = next_version();
    o["metadata"]["uid"] = "uid-" + name;
    objects_[name] = o;
    return respond(201, o.dump());
  }
  if (request.path.rfind(prefix, 0) != 0) return respond(404, not_found(request.path));
  const std::string name = request.path.substr(prefix.size());
  auto it = objects_.find(name);
  if (request.method == "GET") {
    if (it == objects_.end()) return respond(404, not_found(name));
    return respond(200, it->second.dump());
  }
  if (request.method == "PUT") {
    if (it == objects_.end()) return respond(404, not_found(name));
    json o = json::parse(request.body);
    if (o["metadata"].value("resourceVersion", "") != it->second["metadata"]["resourceVersion"]) {
      return respond(
          409, status_body(409, "Conflict",
                           "Operation cannot be fulfilled on configmaps \"" + name +
                               "\": the object has been modified; please apply your changes to "
                               "the latest version and try again"));
    }
    o["metadata"]["resourceVersion"] = next_version();
    o["metadata"]["uid"] = it->second["metadata"]["uid"];
    it->second = o;
    return respond(200, o.dump());
  }
  return respond(405, status_body(405, "MethodNotAllowed", "not served by the fake"));
}

void FakeConfigMaps::admin_label(const std::string& name, const std::string& key,
                                 const std::string& value) {
  json& o = objects_.at(name);
  o["metadata"]["labels"][key] = value;
  o["metadata"]["resourceVersion"] = next_version();
}

json FakeConfigMaps::object(const std::string& name) const {
  auto it = objects_.find(name);
  return it == objects_.end() ? json() : it->second;
}

}  // namespace pgdc::kube::testing
