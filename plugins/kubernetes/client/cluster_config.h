// Where the Kubernetes API is and how to authenticate to it: from the pod's
// service account (in-cluster) or from a kubeconfig file.
//
// Nothing here throws past the API: every loader returns a ClusterConfigResult
// whose `error` is one line naming the file (or "in-cluster") and the key.
// Tokens never appear in messages.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgdc::kube {

struct ClusterConfig {
  std::string server;      // https://host:port[/prefix], IPv6 hosts in brackets, no trailing '/'
  std::string ca_pem;      // CA bundle contents (PEM); empty = the system trust store
  std::string token;       // static bearer token, if any
  std::string token_file;  // re-read periodically, if set (takes precedence over `token`)
  std::string client_cert_pem;  // client certificate (+ chain), PEM; optional
  std::string client_key_pem;   // its private key, PEM; set iff client_cert_pem is
  std::string namespace_;       // default namespace, may be empty
  std::string source;           // "in-cluster" or "kubeconfig <path> context <name>", for messages
};

struct ClusterConfigResult {
  ClusterConfig config;  // valid when error is empty
  std::string error;     // one line; empty on success
  bool ok() const { return error.empty(); }
};

// What the loaders read from the process: environment variables and the
// service account directory. Injectable for tests.
struct Environment {
  std::function<std::optional<std::string>(const std::string& name)> getenv;
  std::string service_account_dir = "/var/run/secrets/kubernetes.io/serviceaccount";

  // The real process environment (::getenv) and the standard directory.
  static Environment process();
};

// In-cluster: https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT (an
// IPv6 host is put in brackets), CA from <dir>/ca.crt, token from <dir>/token
// (read now to check it, then re-read from token_file), namespace from
// <dir>/namespace (optional: empty when the file does not exist).
ClusterConfigResult load_in_cluster(const Environment& env = Environment::process());

// A kubeconfig file. `context` empty = its current-context. Supports
// clusters[].cluster.{server, certificate-authority (relative to the file's
// directory), certificate-authority-data}, users[].user.{token, tokenFile,
// client-certificate(-data), client-key(-data)} and the context's namespace.
// Rejects insecure-skip-tls-verify: true, exec/auth-provider plugins, basic
// auth, proxy-url and tls-server-name with a clear message.
ClusterConfigResult load_kubeconfig(const std::string& path, const std::string& context = {});

// Several kubeconfig files merged the way kubectl merges $KUBECONFIG: the
// first file that sets current-context wins, and the first definition of each
// named cluster, user and context wins. Files that do not exist are skipped;
// it is an error if none exists.
ClusterConfigResult load_kubeconfig_files(const std::vector<std::string>& paths,
                                          const std::string& context = {});

struct ClusterSelection {
  std::string kubeconfig;  // plugin option "kubeconfig": a path; empty = automatic
  std::string context;     // plugin option "context": empty = current-context
};

// Picks the configuration, in this order (the order of controller-runtime):
//   1. the explicit `kubeconfig` option;
//   2. $KUBECONFIG (a ':'-separated list, merged as kubectl does);
//   3. in-cluster, when $KUBERNETES_SERVICE_HOST is set and no `context` was asked for;
//   4. $HOME/.kube/config when it exists.
// config.source tells which one was used; the error lists what was tried.
ClusterConfigResult select_cluster_config(const ClusterSelection& selection,
                                          const Environment& env = Environment::process());

namespace detail {
// Reads a small file whole. On failure returns false and sets `error` to
// "cannot read <path>: <strerror>".
bool read_file(const std::string& path, std::string& content, std::string& error);
// Strict base64 (standard alphabet, padding optional, whitespace ignored).
std::optional<std::string> base64_decode(std::string_view in);
// Number of PEM certificates in `pem` that OpenSSL can parse; -1 if any block is malformed.
int count_pem_certificates(const std::string& pem);
}  // namespace detail

}  // namespace pgdc::kube
