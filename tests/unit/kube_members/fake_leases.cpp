#include "fake_leases.h"

namespace pgdc::kube::testing {
namespace {

using json = nlohmann::json;

ApiResponse status(int code, const std::string& reason, const std::string& message) {
  ApiResponse r;
  r.status = code;
  r.body = json{{"kind", "Status"},   {"apiVersion", "v1"}, {"status", "Failure"},
                {"message", message}, {"reason", reason},   {"code", code}}
               .dump();
  return r;
}

ApiResponse ok(int code, const json& body) {
  ApiResponse r;
  r.status = code;
  r.body = body.dump();
  return r;
}

}  // namespace

void FakeLeases::next(ApiResponse response) {
  std::lock_guard lock(mutex_);
  scripted_.push_back(std::move(response));
}

void FakeLeases::add_raw_item(json item) {
  std::lock_guard lock(mutex_);
  raw_.push_back(std::move(item));
}

void FakeLeases::admin_put(json object) {
  std::lock_guard lock(mutex_);
  object["metadata"]["resourceVersion"] = next_version();
  const std::string name = object["metadata"]["name"];
  objects_[name] = std::move(object);
}

void FakeLeases::admin_delete(const std::string& name) {
  std::lock_guard lock(mutex_);
  objects_.erase(name);
}

json FakeLeases::object(const std::string& name) const {
  std::lock_guard lock(mutex_);
  auto it = objects_.find(name);
  return it == objects_.end() ? json() : it->second;
}

std::vector<ApiRequest> FakeLeases::requests() const {
  std::lock_guard lock(mutex_);
  return requests_;
}

std::size_t FakeLeases::count(const std::string& method) const {
  std::lock_guard lock(mutex_);
  std::size_t n = 0;
  for (const auto& r : requests_) n += r.method == method ? 1 : 0;
  return n;
}

ApiResponse FakeLeases::send(const ApiRequest& request) {
  std::lock_guard lock(mutex_);
  requests_.push_back(request);
  if (!scripted_.empty()) {
    ApiResponse r = std::move(scripted_.front());
    scripted_.pop_front();
    return r;
  }
  const std::string prefix = std::string(kCollection);
  if (request.path.rfind(prefix, 0) != 0) return status(404, "NotFound", "wrong path");
  const std::string rest = request.path.substr(prefix.size());
  if (rest.empty() || rest[0] == '?') {
    if (request.method == "GET") {
      // The label selector of the registry: pgdog.dev/member-of=<value>.
      const auto eq = rest.find("%3D");
      const std::string want = eq == std::string::npos ? "" : rest.substr(eq + 3);
      json items = json::array();
      for (const auto& [_, o] : objects_) {
        const json labels = o["metadata"].value("labels", json::object());
        if (labels.value("pgdog.dev/member-of", "") == want) items.push_back(o);
      }
      for (const auto& o : raw_) items.push_back(o);
      return ok(200, json{{"kind", "LeaseList"}, {"items", items}});
    }
    if (request.method != "POST") return status(405, "MethodNotAllowed", "no");
    json o = json::parse(request.body);
    const std::string name = o["metadata"]["name"];
    if (objects_.count(name)) return status(409, "AlreadyExists", "leases \"" + name + "\" exists");
    o["metadata"]["resourceVersion"] = next_version();
    objects_[name] = o;
    return ok(201, o);
  }
  const std::string name = rest.substr(1);
  auto it = objects_.find(name);
  if (it == objects_.end()) return status(404, "NotFound", "leases \"" + name + "\" not found");
  if (request.method == "GET") return ok(200, it->second);
  if (request.method == "PUT") {
    json o = json::parse(request.body);
    if (o["metadata"].value("resourceVersion", "") != it->second["metadata"]["resourceVersion"]) {
      return status(409, "Conflict", "the object has been modified");
    }
    o["metadata"]["resourceVersion"] = next_version();
    it->second = o;
    return ok(200, o);
  }
  if (request.method == "DELETE") {
    const json options = request.body.empty() ? json::object() : json::parse(request.body);
    const json pre = options.value("preconditions", json::object());
    if (pre.contains("resourceVersion") &&
        pre["resourceVersion"] != it->second["metadata"]["resourceVersion"]) {
      return status(409, "Conflict", "Precondition failed: ResourceVersion");
    }
    objects_.erase(it);
    return ok(200, json{{"kind", "Status"}, {"status", "Success"}});
  }
  return status(405, "MethodNotAllowed", "no");
}

}  // namespace pgdc::kube::testing
