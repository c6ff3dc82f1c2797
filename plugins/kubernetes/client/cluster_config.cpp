#include "cluster_config.h"

#include "text.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>

namespace pgdc::kube {

namespace {

std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::string join(const std::vector<std::string>& items) {
  if (items.empty()) return "none";
  std::string out;
  for (const auto& i : items) {
    if (!out.empty()) out += ", ";
    out += i;
  }
  return out;
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// Splits https://host[:port][/prefix] and checks it. Returns an error message
// (without prefix) or empty; `normalized` has no trailing '/'.
std::string check_server_url(const std::string& raw, std::string& normalized) {
  std::string s = trim(raw);
  if (s.empty()) return "is empty";
  const auto scheme_end = s.find("://");
  if (scheme_end == std::string::npos) {
    s = "https://" + s;  // kubectl assumes https when the scheme is missing
  } else {
    std::string scheme = s.substr(0, scheme_end);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (scheme != "https") {
      return in_quotes(raw) + " must be an https:// URL (TLS is always used and verified)";
    }
    s = "https" + s.substr(scheme_end);
  }
  const std::string rest = s.substr(8);
  const auto path_pos = rest.find('/');
  const std::string authority = rest.substr(0, path_pos);
  std::string path = path_pos == std::string::npos ? std::string() : rest.substr(path_pos);
  if (authority.empty()) return in_quotes(raw) + " has no host";
  if (authority.find('@') != std::string::npos) {
    return in_quotes(raw) + " must not contain user information";
  }
  std::string port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos || close == 1)
      return in_quotes(raw) + " has a malformed IPv6 host";
    const std::string after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return in_quotes(raw) + " has a malformed IPv6 host";
      port = after.substr(1);
    }
  } else {
    const auto colon = authority.find(':');
    if (colon != std::string::npos) {
      if (authority.find(':', colon + 1) != std::string::npos) {
        return in_quotes(raw) +
               ": an IPv6 host must be written in brackets, e.g. https://[fd00::1]:443";
      }
      port = authority.substr(colon + 1);
      if (colon == 0) return in_quotes(raw) + " has no host";
    }
  }
  if (!port.empty() || authority.back() == ':') {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end != '\0' || p < 1 || p > 65535) {
      return in_quotes(raw) + " has an invalid port";
    }
  }
  if (path.find_first_of("?#") != std::string::npos) {
    return in_quotes(raw) + " must not contain a query or fragment";
  }
  while (!path.empty() && path.back() == '/') path.pop_back();
  normalized = "https://" + authority + path;
  return {};
}

// ---- kubeconfig ----------------------------------------------------------

struct Entry {
  YAML::Node body;   // the "cluster" / "user" / "context" map
  std::string file;  // where it was defined, for messages and relative paths
};

struct Merged {
  std::string current_context;
  std::string current_context_file;
  std::map<std::string, Entry> clusters, users, contexts;
  std::vector<std::string> cluster_names, user_names, context_names;  // in file order
  std::vector<std::string> files;                                     // files actually read
};

struct LoadError {
  std::string message;
};

std::string file_dir(const std::string& file) {
  const auto parent = std::filesystem::path(file).parent_path();
  return parent.empty() ? std::string(".") : parent.string();
}

std::string resolve_relative(const std::string& file, const std::string& p) {
  if (p.empty() || p.front() == '/') return p;
  return (std::filesystem::path(file_dir(file)) / p).lexically_normal().string();
}

// A scalar string value, or empty when absent/null. Throws LoadError on a non-scalar.
std::string scalar(const YAML::Node& map, const char* key, const std::string& file,
                   const std::string& where) {
  const YAML::Node n = map[key];
  if (!n || n.IsNull()) return {};
  if (!n.IsScalar()) {
    throw LoadError{"kubeconfig " + file + ": " + where + key + " must be a string"};
  }
  return n.Scalar();
}

void merge_list(const YAML::Node& root, const char* list_key, const char* body_key,
                const std::string& file, std::map<std::string, Entry>& into,
                std::vector<std::string>& names) {
  const YAML::Node list = root[list_key];
  if (!list || list.IsNull()) return;
  if (!list.IsSequence()) {
    throw LoadError{"kubeconfig " + file + ": " + list_key + " must be a list"};
  }
  std::size_t index = 0;
  for (const auto& item : list) {
    const std::string where = std::string(list_key) + "[" + std::to_string(index++) + "]";
    if (!item.IsMap()) throw LoadError{"kubeconfig " + file + ": " + where + " must be a map"};
    const std::string name = scalar(item, "name", file, where + ".");
    if (name.empty()) throw LoadError{"kubeconfig " + file + ": " + where + " has no name"};
    YAML::Node body = item[body_key];
    if (body && !body.IsNull() && !body.IsMap()) {
      throw LoadError{"kubeconfig " + file + ": " + where + "." + body_key + " must be a map"};
    }
    if (into.count(name) != 0) continue;  // first definition wins
    into.emplace(name, Entry{body ? body : YAML::Node(YAML::NodeType::Map), file});
    names.push_back(name);
  }
}

void merge_file(const std::string& file, Merged& m) {
  std::string text, err;
  if (!detail::read_file(file, text, err)) {
    const std::string prefix = "cannot read " + file + ": ";
    if (err.rfind(prefix, 0) == 0) err = "cannot read: " + err.substr(prefix.size());
    throw LoadError{"kubeconfig " + file + ": " + err};
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw LoadError{"kubeconfig " + file + ": invalid YAML at line " +
                    std::to_string(e.mark.line + 1) + ", column " +
                    std::to_string(e.mark.column + 1) + ": " + e.msg};
  }
  m.files.push_back(file);
  if (!root || root.IsNull()) return;  // an empty file is a valid, empty kubeconfig
  if (!root.IsMap()) throw LoadError{"kubeconfig " + file + ": the document must be a map"};
  if (m.current_context.empty()) {
    m.current_context = scalar(root, "current-context", file, "");
    if (!m.current_context.empty()) m.current_context_file = file;
  }
  merge_list(root, "clusters", "cluster", file, m.clusters, m.cluster_names);
  merge_list(root, "users", "user", file, m.users, m.user_names);
  merge_list(root, "contexts", "context", file, m.contexts, m.context_names);
}

// Reads a PEM bundle given as a file path or as base64 data.
std::string pem_from(const Entry& e, const std::string& what, const char* path_key,
                     const char* data_key, bool must_be_certificate) {
  const std::string prefix = "kubeconfig " + e.file + ": " + what + ": ";
  const std::string path = scalar(e.body, path_key, e.file, what + ": ");
  const std::string data = scalar(e.body, data_key, e.file, what + ": ");
  if (!path.empty() && !data.empty()) {
    throw LoadError{prefix + path_key + " and " + data_key + " are both set; keep one"};
  }
  std::string pem;
  std::string source;
  if (!data.empty()) {
    auto decoded = detail::base64_decode(data);
    if (!decoded) throw LoadError{prefix + data_key + " is not valid base64"};
    pem = std::move(*decoded);
    source = data_key;
  } else if (!path.empty()) {
    const std::string resolved = resolve_relative(e.file, path);
    std::string err;
    if (!detail::read_file(resolved, pem, err)) throw LoadError{prefix + path_key + ": " + err};
    source = std::string(path_key) + " " + resolved;
  } else {
    return {};
  }
  if (must_be_certificate) {
    if (detail::count_pem_certificates(pem) <= 0) {
      throw LoadError{prefix + source + " holds no valid PEM certificate"};
    }
  } else if (pem.find("-----BEGIN ") == std::string::npos) {
    throw LoadError{prefix + source + " is not PEM"};
  }
  return pem;
}

ClusterConfig resolve(const Merged& m, const std::string& wanted_context) {
  const std::string first = m.files.empty() ? std::string() : m.files.front();
  const std::string label = m.files.size() == 1 ? first : join(m.files);
  std::string context_name = wanted_context;
  if (context_name.empty()) {
    context_name = m.current_context;
    if (context_name.empty()) {
      throw LoadError{"kubeconfig " + label +
                      ": no context selected (current-context is not set; contexts: " +
                      join(m.context_names) + ")"};
    }
  }
  const auto ctx_it = m.contexts.find(context_name);
  if (ctx_it == m.contexts.end()) {
    const std::string from =
        wanted_context.empty() ? " (the current-context of " + m.current_context_file + ")" : "";
    throw LoadError{"kubeconfig " + label + ": context " + in_quotes(context_name) + from +
                    " not found (contexts: " + join(m.context_names) + ")"};
  }
  const Entry& ctx = ctx_it->second;
  const std::string ctx_where = "context " + in_quotes(context_name);
  const std::string cluster_name = scalar(ctx.body, "cluster", ctx.file, ctx_where + ": ");
  if (cluster_name.empty()) {
    throw LoadError{"kubeconfig " + ctx.file + ": " + ctx_where + " has no cluster (key cluster)"};
  }
  const auto cl_it = m.clusters.find(cluster_name);
  if (cl_it == m.clusters.end()) {
    throw LoadError{"kubeconfig " + label + ": cluster " + in_quotes(cluster_name) + " (from " +
                    ctx_where + ") not found (clusters: " + join(m.cluster_names) + ")"};
  }
  const Entry& cl = cl_it->second;
  const std::string cl_where = "cluster " + in_quotes(cluster_name);
  const std::string cl_prefix = "kubeconfig " + cl.file + ": " + cl_where;

  ClusterConfig out;
  const std::string server = scalar(cl.body, "server", cl.file, cl_where + ": ");
  if (server.empty()) throw LoadError{cl_prefix + " has no server (key server)"};
  if (const std::string e = check_server_url(server, out.server); !e.empty()) {
    throw LoadError{cl_prefix + ": server " + e};
  }
  if (const YAML::Node insecure = cl.body["insecure-skip-tls-verify"];
      insecure && !insecure.IsNull()) {
    bool value = false;
    if (!insecure.IsScalar() || !YAML::convert<bool>::decode(insecure, value)) {
      throw LoadError{cl_prefix + ": insecure-skip-tls-verify must be true or false"};
    }
    if (value) {
      throw LoadError{cl_prefix +
                      ": insecure-skip-tls-verify: true is not supported (TLS is always verified); "
                      "set certificate-authority or certificate-authority-data instead"};
    }
  }
  if (!scalar(cl.body, "tls-server-name", cl.file, cl_where + ": ").empty()) {
    throw LoadError{cl_prefix +
                    ": tls-server-name is not supported; use a server URL whose host "
                    "name the certificate names"};
  }
  if (!scalar(cl.body, "proxy-url", cl.file, cl_where + ": ").empty()) {
    throw LoadError{cl_prefix + ": proxy-url is not supported"};
  }
  out.ca_pem = pem_from(cl, cl_where, "certificate-authority", "certificate-authority-data", true);

  const std::string user_name = scalar(ctx.body, "user", ctx.file, ctx_where + ": ");
  if (!user_name.empty()) {
    const auto us_it = m.users.find(user_name);
    if (us_it == m.users.end()) {
      throw LoadError{"kubeconfig " + label + ": user " + in_quotes(user_name) + " (from " +
                      ctx_where + ") not found (users: " + join(m.user_names) + ")"};
    }
    const Entry& us = us_it->second;
    const std::string us_where = "user " + in_quotes(user_name);
    const std::string us_prefix = "kubeconfig " + us.file + ": " + us_where;
    if (us.body["exec"] && !us.body["exec"].IsNull()) {
      throw LoadError{us_prefix +
                      ": exec credential plugins are not supported; use token or tokenFile"};
    }
    if (us.body["auth-provider"] && !us.body["auth-provider"].IsNull()) {
      throw LoadError{us_prefix + ": auth-provider is not supported; use token or tokenFile"};
    }
    if (!scalar(us.body, "username", us.file, us_where + ": ").empty() ||
        !scalar(us.body, "password", us.file, us_where + ": ").empty()) {
      throw LoadError{us_prefix +
                      ": basic authentication (username/password) is not supported; use token or "
                      "tokenFile"};
    }
    out.token = trim(scalar(us.body, "token", us.file, us_where + ": "));
    const std::string token_file = scalar(us.body, "tokenFile", us.file, us_where + ": ");
    if (!token_file.empty()) {
      out.token_file = resolve_relative(us.file, token_file);
      std::string content, err;
      if (!detail::read_file(out.token_file, content, err)) {
        throw LoadError{us_prefix + ": tokenFile: " + err};
      }
      if (trim(content).empty()) {
        throw LoadError{us_prefix + ": tokenFile " + out.token_file + " is empty"};
      }
    }
    out.client_cert_pem =
        pem_from(us, us_where, "client-certificate", "client-certificate-data", true);
    out.client_key_pem = pem_from(us, us_where, "client-key", "client-key-data", false);
    if (out.client_cert_pem.empty() != out.client_key_pem.empty()) {
      throw LoadError{us_prefix + (out.client_cert_pem.empty()
                                       ? ": client-key is set without client-certificate"
                                       : ": client-certificate is set without client-key")};
    }
  }
  out.namespace_ = scalar(ctx.body, "namespace", ctx.file, ctx_where + ": ");
  out.source = "kubeconfig " + label + " context " + context_name;
  return out;
}

ClusterConfigResult failure(std::string message) {
  ClusterConfigResult r;
  r.error = std::move(message);
  return r;
}

}  // namespace

// ---- detail ----------------------------------------------------------------

namespace detail {

bool read_file(const std::string& path, std::string& content, std::string& error) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  std::string out;
  char buf[4096];
  constexpr std::size_t kMax = 16 * 1024 * 1024;
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      error = "cannot read " + path + ": " + std::strerror(errno);
      ::close(fd);
      return false;
    }
    if (n == 0) break;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > kMax) {
      error = "cannot read " + path + ": larger than 16 MiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  content = std::move(out);
  return true;
}

std::optional<std::string> base64_decode(std::string_view in) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t symbols = 0;
  std::size_t padding = 0;
  for (const char c : in) {
    if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    if (c == '=') {
      ++padding;
      continue;
    }
    if (padding != 0) return std::nullopt;  // data after padding
    const int v = value(c);
    if (v < 0) return std::nullopt;
    ++symbols;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (symbols % 4 == 1 || padding > 2) return std::nullopt;
  if (padding != 0 && (symbols + padding) % 4 != 0) return std::nullopt;
  return out;
}

int count_pem_certificates(const std::string& pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  if (!bio) return -1;
  int count = 0;
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    X509_free(cert);
    ++count;
  }
  const unsigned long err = ERR_peek_last_error();
  int result = count;
  if (err != 0 &&
      !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    result = -1;
  }
  ERR_clear_error();
  return result;
}

}  // namespace detail

// ---- public ----------------------------------------------------------------

Environment Environment::process() {
  Environment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* v = std::getenv(name.c_str());
    if (v == nullptr) return std::nullopt;
    return std::string(v);
  };
  return env;
}

ClusterConfigResult load_in_cluster(const Environment& env) {
  const auto get = [&](const char* name) -> std::string {
    if (!env.getenv) return {};
    return trim(env.getenv(name).value_or(std::string()));
  };
  std::string host = get("KUBERNETES_SERVICE_HOST");
  const std::string port = get("KUBERNETES_SERVICE_PORT");
  if (host.empty() || port.empty()) {
    return failure(
        "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set (not "
        "running in a pod?)");
  }
  if (host.find(':') != std::string::npos && host.front() != '[') host = "[" + host + "]";
  ClusterConfig out;
  if (const std::string e = check_server_url("https://" + host + ":" + port, out.server);
      !e.empty()) {
    return failure("in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT: " + e);
  }
  const std::string dir = env.service_account_dir;
  std::string err;
  out.token_file = dir + "/token";
  std::string token;
  if (!detail::read_file(out.token_file, token, err)) return failure("in-cluster: " + err);
  if (trim(token).empty()) return failure("in-cluster: " + out.token_file + " is empty");
  const std::string ca_path = dir + "/ca.crt";
  if (!detail::read_file(ca_path, out.ca_pem, err)) return failure("in-cluster: " + err);
  if (detail::count_pem_certificates(out.ca_pem) <= 0) {
    return failure("in-cluster: " + ca_path + " holds no valid PEM certificate");
  }
  const std::string ns_path = dir + "/namespace";
  std::string ns;
  if (file_exists(ns_path)) {
    if (!detail::read_file(ns_path, ns, err)) return failure("in-cluster: " + err);
    out.namespace_ = trim(ns);
  }
  out.source = "in-cluster";
  ClusterConfigResult r;
  r.config = std::move(out);
  return r;
}

ClusterConfigResult load_kubeconfig_files(const std::vector<std::string>& paths,
                                          const std::string& context) {
  try {
    Merged m;
    std::vector<std::string> missing;
    for (const auto& p : paths) {
      if (p.empty()) continue;
      if (paths.size() > 1 && !file_exists(p)) {
        missing.push_back(p);
        continue;
      }
      merge_file(p, m);
    }
    if (m.files.empty()) {
      return failure("kubeconfig: none of these files exists: " + join(missing));
    }
    ClusterConfigResult r;
    r.config = resolve(m, context);
    return r;
  } catch (const LoadError& e) {
    return failure(e.message);
  } catch (const std::exception& e) {
    return failure("kubeconfig " + join(paths) + ": " + e.what());
  }
}

ClusterConfigResult load_kubeconfig(const std::string& path, const std::string& context) {
  if (path.empty()) return failure("kubeconfig: the path is empty");
  return load_kubeconfig_files({path}, context);
}

ClusterConfigResult select_cluster_config(const ClusterSelection& selection,
                                          const Environment& env) {
  const auto get = [&](const char* name) -> std::string {
    if (!env.getenv) return {};
    return env.getenv(name).value_or(std::string());
  };
  if (!selection.kubeconfig.empty()) {
    return load_kubeconfig(selection.kubeconfig, selection.context);
  }
  std::vector<std::string> tried;
  if (const std::string list = get("KUBECONFIG"); !list.empty()) {
    std::vector<std::string> paths;
    std::size_t start = 0;
    for (;;) {
      const auto colon = list.find(':', start);
      std::string p = list.substr(start, colon == std::string::npos ? colon : colon - start);
      if (!p.empty()) paths.push_back(std::move(p));
      if (colon == std::string::npos) break;
      start = colon + 1;
    }
    if (!paths.empty()) return load_kubeconfig_files(paths, selection.context);
  }
  tried.push_back("$KUBECONFIG is not set");
  if (selection.context.empty()) {
    if (!get("KUBERNETES_SERVICE_HOST").empty()) return load_in_cluster(env);
    tried.push_back("not in a cluster ($KUBERNETES_SERVICE_HOST is not set)");
  } else {
    tried.push_back("in-cluster skipped (a context was asked for)");
  }
  if (const std::string home = get("HOME"); !home.empty()) {
    const std::string path = home + "/.kube/config";
    if (file_exists(path)) return load_kubeconfig(path, selection.context);
    tried.push_back(path + " does not exist");
  } else {
    tried.push_back("$HOME is not set");
  }
  return failure("no Kubernetes API configuration found: " + join(tried) +
                 "; set the kubeconfig option");
}

}  // namespace pgdc::kube
