// Loading the API server configuration: kubeconfig files, in-cluster, and the
// choice between them. Every error is checked word for word.
#include "client/cluster_config.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "kube_client/test_tls_server.h"

namespace pgdc::kube {
namespace {

using testing::TempDir;
using testing::test_certs;

std::string base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// A kubeconfig with two clusters, users and contexts; `extra_cluster` and
// `extra_user` are appended to the first cluster's and user's maps.
std::string kubeconfig(const std::string& extra_cluster = "certificate-authority: ca.crt\n",
                       const std::string& extra_user = "token: tok-a\n",
                       const std::string& current = "a") {
  auto indent = [](const std::string& block, const std::string& pad) {
    std::string out;
    std::size_t start = 0;
    while (start < block.size()) {
      const auto nl = block.find('\n', start);
      out += pad + block.substr(start, nl - start) + "\n";
      if (nl == std::string::npos) break;
      start = nl + 1;
    }
    return out;
  };
  return "apiVersion: v1\nkind: Config\n"
         "current-context: " +
         current +
         "\n"
         "clusters:\n"
         "- name: one\n"
         "  cluster:\n"
         "    server: https://127.0.0.1:6443\n" +
         indent(extra_cluster, "    ") +
         "- name: two\n"
         "  cluster:\n"
         "    server: https://kube.example:443/prefix/\n"
         "    certificate-authority-data: " +
         base64(test_certs().ca_pem) +
         "\n"
         "users:\n"
         "- name: ua\n"
         "  user:\n" +
         indent(extra_user, "    ") +
         "- name: ub\n"
         "  user:\n"
         "    token: tok-b\n"
         "contexts:\n"
         "- name: a\n"
         "  context: {cluster: one, user: ua, namespace: ns-a}\n"
         "- name: b\n"
         "  context: {cluster: two, user: ub}\n";
}

class KubeconfigTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_.write("ca.crt", test_certs().ca_pem); }
  std::string write(const std::string& content) { return dir_.write("config", content); }
  TempDir dir_;
};

TEST_F(KubeconfigTest, CurrentContextWithRelativeCaPathTokenAndNamespace) {
  const std::string path = write(kubeconfig());
  const auto r = load_kubeconfig(path);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://127.0.0.1:6443");
  EXPECT_EQ(r.config.ca_pem, test_certs().ca_pem);
  EXPECT_EQ(r.config.token, "tok-a");
  EXPECT_EQ(r.config.token_file, "");
  EXPECT_EQ(r.config.namespace_, "ns-a");
  EXPECT_EQ(r.config.source, "kubeconfig " + path + " context a");
}

TEST_F(KubeconfigTest, ExplicitContextWithBase64CaDataAndPathPrefix) {
  const auto r = load_kubeconfig(write(kubeconfig()), "b");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://kube.example:443/prefix");
  EXPECT_EQ(r.config.ca_pem, test_certs().ca_pem);
  EXPECT_EQ(r.config.token, "tok-b");
  EXPECT_EQ(r.config.namespace_, "");
}

TEST_F(KubeconfigTest, UnknownContextListsTheContexts) {
  const std::string path = write(kubeconfig());
  EXPECT_EQ(load_kubeconfig(path, "foo").error,
            "kubeconfig " + path + ": context \"foo\" not found (contexts: a, b)");
  EXPECT_EQ(
      load_kubeconfig(write(kubeconfig("certificate-authority: ca.crt\n", "token: t\n", "zz")))
          .error,
      "kubeconfig " + path + ": context \"zz\" (the current-context of " + path +
          ") not found (contexts: a, b)");
}

TEST_F(KubeconfigTest, TokenFileRelativeToTheKubeconfig) {
  dir_.write("secrets/token", "file-token\n");
  const auto r = load_kubeconfig(
      write(kubeconfig("certificate-authority: ca.crt\n", "tokenFile: secrets/token\n")));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.token_file, dir_.file("secrets/token"));
  EXPECT_EQ(r.config.token, "");
}

TEST_F(KubeconfigTest, MissingTokenFileNamesTheFile) {
  const std::string path =
      write(kubeconfig("certificate-authority: ca.crt\n", "tokenFile: nope/token\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path + ": user \"ua\": tokenFile: cannot read " +
                dir_.file("nope/token") + ": No such file or directory");
}

TEST_F(KubeconfigTest, InsecureSkipTlsVerifyIsRejected) {
  const std::string path = write(kubeconfig("insecure-skip-tls-verify: true\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path +
                ": cluster \"one\": insecure-skip-tls-verify: true is not supported (TLS is always "
                "verified); set certificate-authority or certificate-authority-data instead");
  // false is harmless
  const auto ok = load_kubeconfig(
      write(kubeconfig("insecure-skip-tls-verify: false\ncertificate-authority: ca.crt\n")));
  EXPECT_TRUE(ok.ok()) << ok.error;
}

TEST_F(KubeconfigTest, MissingServerNamesTheClusterAndKey) {
  const std::string path = write(
      "current-context: a\n"
      "clusters: [{name: one, cluster: {certificate-authority: ca.crt}}]\n"
      "contexts: [{name: a, context: {cluster: one}}]\n");
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path + ": cluster \"one\" has no server (key server)");
}

TEST_F(KubeconfigTest, MissingPiecesAreNamed) {
  std::string path = write("clusters: []\ncontexts: [{name: a, context: {cluster: one}}]\n");
  EXPECT_EQ(
      load_kubeconfig(path).error,
      "kubeconfig " + path + ": no context selected (current-context is not set; contexts: a)");
  EXPECT_EQ(
      load_kubeconfig(path, "a").error,
      "kubeconfig " + path + ": cluster \"one\" (from context \"a\") not found (clusters: none)");
  path = write("contexts: [{name: a, context: {user: u}}]\n");
  EXPECT_EQ(load_kubeconfig(path, "a").error,
            "kubeconfig " + path + ": context \"a\" has no cluster (key cluster)");
  path = write(
      "clusters: [{name: one, cluster: {server: 'https://h'}}]\n"
      "users: [{name: x}]\n"
      "contexts: [{name: a, context: {cluster: one, user: u}}]\n");
  EXPECT_EQ(load_kubeconfig(path, "a").error,
            "kubeconfig " + path + ": user \"u\" (from context \"a\") not found (users: x)");
  path = write("clusters: {one: 1}\n");
  EXPECT_EQ(load_kubeconfig(path, "a").error, "kubeconfig " + path + ": clusters must be a list");
}

TEST_F(KubeconfigTest, MissingFileAndBadYaml) {
  EXPECT_EQ(load_kubeconfig(dir_.file("absent")).error,
            "kubeconfig " + dir_.file("absent") + ": cannot read: No such file or directory");
  const std::string path = write("clusters:\n  - name: [unclosed\n");
  const std::string error = load_kubeconfig(path).error;
  EXPECT_EQ(error.rfind("kubeconfig " + path + ": invalid YAML at line ", 0), 0u) << error;
}

TEST_F(KubeconfigTest, CaProblemsAreNamed) {
  std::string path = write(kubeconfig("certificate-authority: missing.crt\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path + ": cluster \"one\": certificate-authority: cannot read " +
                dir_.file("missing.crt") + ": No such file or directory");
  path = write(kubeconfig("certificate-authority-data: '%%%'\n"));
  EXPECT_EQ(
      load_kubeconfig(path).error,
      "kubeconfig " + path + ": cluster \"one\": certificate-authority-data is not valid base64");
  path = write(kubeconfig("certificate-authority-data: " + base64("not a certificate") + "\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path +
                ": cluster \"one\": certificate-authority-data holds no valid PEM certificate");
  path = write(kubeconfig("certificate-authority: ca.crt\ncertificate-authority-data: " +
                          base64(test_certs().ca_pem) + "\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path +
                ": cluster \"one\": certificate-authority and certificate-authority-data are both "
                "set; keep one");
}

TEST_F(KubeconfigTest, NoCaMeansTheSystemTrustStore) {
  const auto r = load_kubeconfig(write(kubeconfig("")));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.ca_pem, "");
}

TEST_F(KubeconfigTest, ServerMustBeHttps) {
  std::string path = write(
      "clusters: [{name: one, cluster: {server: 'http://127.0.0.1:8080'}}]\n"
      "contexts: [{name: a, context: {cluster: one}}]\n");
  EXPECT_EQ(load_kubeconfig(path, "a").error,
            "kubeconfig " + path +
                ": cluster \"one\": server \"http://127.0.0.1:8080\" must be an https:// URL (TLS "
                "is always used and verified)");
  path = write(
      "clusters: [{name: one, cluster: {server: 'https://fd00::1:443'}}]\n"
      "contexts: [{name: a, context: {cluster: one}}]\n");
  EXPECT_EQ(
      load_kubeconfig(path, "a").error,
      "kubeconfig " + path +
          ": cluster \"one\": server \"https://fd00::1:443\": an IPv6 host must be written in "
          "brackets, e.g. https://[fd00::1]:443");
  path = write(
      "clusters: [{name: one, cluster: {server: 'https://[fd00::1]:6443/'}}]\n"
      "contexts: [{name: a, context: {cluster: one}}]\n");
  const auto r = load_kubeconfig(path, "a");
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://[fd00::1]:6443");
}

TEST_F(KubeconfigTest, UnsupportedAuthIsRejected) {
  std::string path = write(kubeconfig("certificate-authority: ca.crt\n",
                                      "exec: {command: aws, apiVersion: "
                                      "client.authentication.k8s.io/v1}\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path +
                ": user \"ua\": exec credential plugins are not supported; use token or tokenFile");
  path = write(kubeconfig("certificate-authority: ca.crt\n", "username: u\npassword: p\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path +
                ": user \"ua\": basic authentication (username/password) is not supported; use "
                "token or tokenFile");
}

TEST_F(KubeconfigTest, ClientCertificates) {
  dir_.write("client.key", test_certs().client_key_pem);
  auto r = load_kubeconfig(
      write(kubeconfig("certificate-authority: ca.crt\n",
                       "client-certificate-data: " + base64(test_certs().client_cert_pem) +
                           "\nclient-key: client.key\n")));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.client_cert_pem, test_certs().client_cert_pem);
  EXPECT_EQ(r.config.client_key_pem, test_certs().client_key_pem);
  const std::string path =
      write(kubeconfig("certificate-authority: ca.crt\n",
                       "client-certificate-data: " + base64(test_certs().client_cert_pem) + "\n"));
  EXPECT_EQ(load_kubeconfig(path).error,
            "kubeconfig " + path + ": user \"ua\": client-certificate is set without client-key");
}

TEST_F(KubeconfigTest, MergesFilesFirstDefinitionWins) {
  const std::string first =
      dir_.write("first", "current-context: b\nusers: [{name: ub, user: {token: from-first}}]\n");
  const std::string second = write(kubeconfig());
  const auto r = load_kubeconfig_files({dir_.file("absent"), first, second});
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://kube.example:443/prefix");
  EXPECT_EQ(r.config.token, "from-first");
  EXPECT_EQ(load_kubeconfig_files({dir_.file("x"), dir_.file("y")}).error,
            "kubeconfig: none of these files exists: " + dir_.file("x") + ", " + dir_.file("y"));
}

// ---- in-cluster ----------------------------------------------------------------

Environment fake_env(std::map<std::string, std::string> vars, const std::string& sa_dir) {
  Environment env;
  env.getenv = [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    const auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
  env.service_account_dir = sa_dir;
  return env;
}

TEST(InCluster, LoadsServiceAccount) {
  TempDir sa;
  sa.write("token", "sa-token\n");
  sa.write("ca.crt", test_certs().ca_pem);
  sa.write("namespace", "prod\n");
  const auto r = load_in_cluster(fake_env(
      {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, sa.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://10.0.0.1:443");
  EXPECT_EQ(r.config.token_file, sa.file("token"));
  EXPECT_EQ(r.config.ca_pem, test_certs().ca_pem);
  EXPECT_EQ(r.config.namespace_, "prod");
  EXPECT_EQ(r.config.source, "in-cluster");
}

TEST(InCluster, Ipv6HostGoesInBracketsAndNamespaceIsOptional) {
  TempDir sa;
  sa.write("token", "t");
  sa.write("ca.crt", test_certs().ca_pem);
  const auto r = load_in_cluster(fake_env(
      {{"KUBERNETES_SERVICE_HOST", "fd00:10::1"}, {"KUBERNETES_SERVICE_PORT", "6443"}}, sa.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.server, "https://[fd00:10::1]:6443");
  EXPECT_EQ(r.config.namespace_, "");
}

TEST(InCluster, ErrorsNameTheFileOrVariable) {
  TempDir sa;
  const auto env = fake_env(
      {{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "443"}}, sa.path());
  EXPECT_EQ(load_in_cluster(env).error,
            "in-cluster: cannot read " + sa.file("token") + ": No such file or directory");
  sa.write("token", "t");
  EXPECT_EQ(load_in_cluster(env).error,
            "in-cluster: cannot read " + sa.file("ca.crt") + ": No such file or directory");
  sa.write("ca.crt", "garbage");
  EXPECT_EQ(load_in_cluster(env).error,
            "in-cluster: " + sa.file("ca.crt") + " holds no valid PEM certificate");
  sa.write("token", "\n");
  EXPECT_EQ(load_in_cluster(env).error, "in-cluster: " + sa.file("token") + " is empty");
  EXPECT_EQ(load_in_cluster(fake_env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}}, sa.path())).error,
            "in-cluster: KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must both be set "
            "(not running in a pod?)");
  EXPECT_EQ(
      load_in_cluster(
          fake_env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"}, {"KUBERNETES_SERVICE_PORT", "https"}},
                   sa.path()))
          .error,
      "in-cluster: KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT: \"https://10.0.0.1:https\" "
      "has an invalid port");
}

// ---- selection -------------------------------------------------------------------

class SelectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sa_.write("token", "sa-token");
    sa_.write("ca.crt", test_certs().ca_pem);
    home_.write(".kube/ca.crt", test_certs().ca_pem);
    home_.write(".kube/config", kubeconfig());
    other_.write("ca.crt", test_certs().ca_pem);
    other_.write("config", kubeconfig());
  }
  TempDir sa_, home_, other_;
};

TEST_F(SelectTest, ExplicitOptionFirst) {
  const auto r = select_cluster_config({other_.file("config"), "b"},
                                       fake_env({{"KUBECONFIG", home_.file(".kube/config")},
                                                 {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                 {"KUBERNETES_SERVICE_PORT", "443"}},
                                                sa_.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.source, "kubeconfig " + other_.file("config") + " context b");
}

TEST_F(SelectTest, KubeconfigEnvThenInClusterThenHome) {
  auto r = select_cluster_config({}, fake_env({{"KUBECONFIG", other_.file("config")},
                                               {"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                               {"KUBERNETES_SERVICE_PORT", "443"},
                                               {"HOME", home_.path()}},
                                              sa_.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.source, "kubeconfig " + other_.file("config") + " context a");

  r = select_cluster_config({}, fake_env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                          {"KUBERNETES_SERVICE_PORT", "443"},
                                          {"HOME", home_.path()}},
                                         sa_.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.source, "in-cluster");

  // A context asks for a kubeconfig: in-cluster is skipped.
  r = select_cluster_config({"", "b"}, fake_env({{"KUBERNETES_SERVICE_HOST", "10.0.0.1"},
                                                 {"KUBERNETES_SERVICE_PORT", "443"},
                                                 {"HOME", home_.path()}},
                                                sa_.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.source, "kubeconfig " + home_.file(".kube/config") + " context b");

  r = select_cluster_config({}, fake_env({{"HOME", home_.path()}}, sa_.path()));
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.config.source, "kubeconfig " + home_.file(".kube/config") + " context a");
}

TEST_F(SelectTest, NothingFoundSaysWhatWasTried) {
  TempDir empty_home;
  EXPECT_EQ(select_cluster_config({}, fake_env({{"HOME", empty_home.path()}}, sa_.path())).error,
            "no Kubernetes API configuration found: $KUBECONFIG is not set, not in a cluster "
            "($KUBERNETES_SERVICE_HOST is not set), " +
                empty_home.file(".kube/config") + " does not exist; set the kubeconfig option");
}

// ---- helpers -------------------------------------------------------------------------

TEST(Base64, DecodesStrictly) {
  EXPECT_EQ(detail::base64_decode("aGVsbG8="), "hello");
  EXPECT_EQ(detail::base64_decode("aGVs\nbG8"), "hello");
  EXPECT_EQ(detail::base64_decode(""), "");
  EXPECT_EQ(detail::base64_decode(base64(test_certs().ca_pem)), test_certs().ca_pem);
  EXPECT_FALSE(detail::base64_decode("a"));
  EXPECT_FALSE(detail::base64_decode("aGVsbG8=x"));
  EXPECT_FALSE(detail::base64_decode("aGV*"));
}

}  // namespace
}  // namespace pgdc::kube
