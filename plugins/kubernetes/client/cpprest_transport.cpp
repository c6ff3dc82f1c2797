#include "cpprest_transport.h"

#include "text.h"
#include "watch_stream.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <cpprest/http_client.h>
#include <cpprest/uri_builder.h>
#include <pplx/threadpool.h>
#include <boost/asio/ssl.hpp>

#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

namespace pgdc::kube {

namespace {

namespace whttp = web::http;
namespace wclient = web::http::client;
using Clock = std::chrono::steady_clock;

// cpprest's own inactivity timer is only a backstop: deadlines are enforced here.
constexpr std::chrono::hours kCpprestTimeout{24};

// ---- TLS material ----------------------------------------------------------

struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyFree>;

std::string openssl_error() {
  const unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "unknown OpenSSL error";
  char buf[256];
  ERR_error_string_n(e, buf, sizeof buf);
  return buf;
}

bool parse_certs(const std::string& pem, std::vector<X509Ptr>& out, std::string& error) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())), &BIO_free);
  for (;;) {
    X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr);
    if (cert == nullptr) break;
    out.emplace_back(cert);
  }
  const unsigned long err = ERR_peek_last_error();
  if (err != 0 &&
      !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    error = openssl_error();
    return false;
  }
  ERR_clear_error();
  if (out.empty()) {
    error = "no PEM certificate found";
    return false;
  }
  return true;
}

// Immutable after construction; shared with every SSL context cpprest makes.
struct TlsMaterial {
  std::vector<X509Ptr> ca;      // empty = system trust store
  std::vector<X509Ptr> client;  // leaf first, then chain
  PkeyPtr key;
  std::string host;  // what the server certificate must name
  bool host_is_ip = false;
};

// The last certificate verification failure on a client, to explain the
// otherwise generic "Error in SSL handshake" of cpprest.
struct TlsDiagnostics {
  std::mutex mu;
  std::string message;
  Clock::time_point at{};

  void record(std::string m) {
    std::lock_guard lock(mu);
    message = std::move(m);
    at = Clock::now();
  }
  std::string since(Clock::time_point t) {
    std::lock_guard lock(mu);
    return at >= t ? message : std::string();
  }
};

std::string subject_of(X509* cert) {
  if (cert == nullptr) return {};
  char buf[256];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

// Chain verification (SSL_CTX_set_cert_verify_callback): OpenSSL's own, with
// the host check set in the verify params, plus cpprest's per-certificate
// RFC 2818 callback, which X509_verify_cert still calls. Only records why.
int verify_chain(X509_STORE_CTX* ctx, void* arg) {
  const int ok = X509_verify_cert(ctx);
  if (ok <= 0 && arg != nullptr) {
    const int err = X509_STORE_CTX_get_error(ctx);
    std::string m = err == X509_V_OK ? std::string("certificate rejected by the host name check")
                                     : std::string("certificate verify failed: ") +
                                           X509_verify_cert_error_string(err);
    const std::string subject = subject_of(X509_STORE_CTX_get_current_cert(ctx));
    if (!subject.empty()) m += " (certificate " + subject + ")";
    static_cast<TlsDiagnostics*>(arg)->record(std::move(m));
  }
  return ok;
}

void configure_ssl_context(SSL_CTX* ctx, const TlsMaterial& tls, TlsDiagnostics* diag) {
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (!tls.ca.empty()) {
    // Trust exactly the configured CA bundle, not the system store that
    // cpprest loaded with set_default_verify_paths().
    X509_STORE* store = X509_STORE_new();
    if (store == nullptr) throw std::runtime_error("X509_STORE_new failed");
    for (const auto& c : tls.ca) X509_STORE_add_cert(store, c.get());
    SSL_CTX_set_cert_store(ctx, store);  // takes ownership
  }
  X509_VERIFY_PARAM* param = SSL_CTX_get0_param(ctx);
  if (tls.host_is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(param, tls.host.c_str());
  } else {
    X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    X509_VERIFY_PARAM_set1_host(param, tls.host.c_str(), tls.host.size());
  }
  SSL_CTX_set_cert_verify_callback(ctx, &verify_chain, diag);
  if (!tls.client.empty()) {
    if (SSL_CTX_use_certificate(ctx, tls.client.front().get()) != 1) {
      throw std::runtime_error("client certificate: " + openssl_error());
    }
    for (std::size_t i = 1; i < tls.client.size(); ++i) {
      SSL_CTX_add1_chain_cert(ctx, tls.client[i].get());
    }
    if (SSL_CTX_use_PrivateKey(ctx, tls.key.get()) != 1) {
      throw std::runtime_error("client key: " + openssl_error());
    }
  }
}

// ---- server URL ------------------------------------------------------------

struct ServerUrl {
  std::string host;  // without brackets
  int port = 443;
  std::string prefix;  // path prefix, no trailing '/'
  bool host_is_ip = false;
};

bool parse_server(const std::string& server, ServerUrl& out, std::string& error) {
  const std::string scheme = "https://";
  if (server.compare(0, scheme.size(), scheme) != 0) {
    error = "server \"" + server + "\" must be an https:// URL";
    return false;
  }
  const std::string rest = server.substr(scheme.size());
  const auto slash = rest.find('/');
  const std::string authority = rest.substr(0, slash);
  out.prefix = slash == std::string::npos ? std::string() : rest.substr(slash);
  while (!out.prefix.empty() && out.prefix.back() == '/') out.prefix.pop_back();
  std::string port;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string::npos) {
      error = "server \"" + server + "\" has a malformed IPv6 host";
      return false;
    }
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        error = "server \"" + server + "\" has a malformed IPv6 host";
        return false;
      }
      port = authority.substr(close + 2);
    }
  } else {
    const auto colon = authority.find(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) port = authority.substr(colon + 1);
  }
  if (out.host.empty()) {
    error = "server \"" + server + "\" has no host";
    return false;
  }
  if (!port.empty()) {
    char* end = nullptr;
    const long p = std::strtol(port.c_str(), &end, 10);
    if (*end != '\0' || p < 1 || p > 65535) {
      error = "server \"" + server + "\" has an invalid port";
      return false;
    }
    out.port = static_cast<int>(p);
  }
  unsigned char buf[sizeof(struct in6_addr)];
  out.host_is_ip = inet_pton(AF_INET, out.host.c_str(), buf) == 1 ||
                   inet_pton(AF_INET6, out.host.c_str(), buf) == 1;
  return true;
}

// ---- outcome of one exchange ----------------------------------------------

struct Outcome {
  bool done = false;
  int status = 0;
  std::string body;
  std::optional<std::chrono::seconds> retry_after;
  std::string error;  // cpprest's message when status == 0
  int error_code = 0;
};

std::optional<std::chrono::seconds> parse_retry_after(const whttp::http_headers& headers) {
  const auto it = headers.find(U("Retry-After"));
  if (it == headers.end()) return std::nullopt;
  std::string v = it->second;
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.pop_back();
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
  if (v.empty()) return std::nullopt;
  if (v.find_first_not_of("0123456789") == std::string::npos) {
    if (v.size() > 9) return std::chrono::seconds(999999999);
    return std::chrono::seconds(std::stol(v));
  }
  // HTTP-date
  const auto when = utility::datetime::from_string(v, utility::datetime::RFC_1123);
  if (!when.is_initialized()) return std::nullopt;
  const auto now = utility::datetime::utc_now();
  if (when.to_interval() <= now.to_interval()) return std::chrono::seconds(0);
  constexpr utility::datetime::interval_type kTicksPerSecond = 10000000;  // 100 ns ticks
  return std::chrono::seconds(
      static_cast<std::int64_t>((when.to_interval() - now.to_interval()) / kTicksPerSecond));
}

std::string method_upper(const std::string& m) {
  std::string out = m;
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

// ---- Impl ------------------------------------------------------------------

struct CpprestTransport::Impl {
  struct Client {
    std::shared_ptr<TlsDiagnostics> diag = std::make_shared<TlsDiagnostics>();
    std::unique_ptr<wclient::http_client> http;
  };

  std::string server;
  TransportOptions options;
  std::shared_ptr<TokenSource> tokens;
  std::shared_ptr<const TlsMaterial> tls;
  Client lease_client;  // send()
  Client watch_client;  // watch()

  // Requests waiting in send(), so cancel_inflight() can wake them.
  struct Pending {
    std::mutex mu;
    std::condition_variable cv;
    Outcome out;
    bool cancelled = false;
  };
  std::mutex inflight_mu;
  std::set<std::shared_ptr<Pending>> inflight;

  void cancel_inflight() {
    std::lock_guard lock(inflight_mu);
    for (const auto& p : inflight) {
      {
        std::lock_guard plock(p->mu);
        p->cancelled = true;
      }
      p->cv.notify_all();
    }
  }

  void log(LogSeverity s, const std::string& m) const {
    if (options.log) options.log(s, options.name + ": " + m);
  }

  void make_client(Client& c, const web::uri& base) {
    wclient::http_client_config config;
    config.set_timeout(std::chrono::duration_cast<std::chrono::seconds>(kCpprestTimeout));
    config.set_validate_certificates(true);
    config.set_max_redirects(0);  // never carry the bearer token elsewhere
    std::shared_ptr<const TlsMaterial> material = tls;
    std::shared_ptr<TlsDiagnostics> diag = c.diag;
    config.set_ssl_context_callback([material, diag](boost::asio::ssl::context& ctx) {
      configure_ssl_context(ctx.native_handle(), *material, diag.get());
    });
    c.http = std::make_unique<wclient::http_client>(base, config);
  }

  whttp::http_request build(const std::string& method, const std::string& path,
                            const std::string& body, const std::string& content_type) {
    whttp::http_request req(method_upper(method));
    req.set_request_uri(web::uri(path));
    const std::string token = tokens->token();
    if (!token.empty()) req.headers().add(U("Authorization"), "Bearer " + token);
    req.headers().add(U("User-Agent"), options.user_agent);
    req.headers().add(U("Accept"), U("application/json"));
    if (!body.empty()) {
      req.set_body(std::vector<unsigned char>(body.begin(), body.end()));
      req.headers().set_content_type(content_type);
    }
    return req;
  }

  // Maps a cpprest failure to one line.
  std::string describe_failure(const Client& c, const std::string& what, int code,
                               Clock::time_point started) const {
    std::string m;
    if (what.find("SSL handshake") != std::string::npos) {
      m = "TLS handshake with " + server + " failed";
      const std::string why = c.diag->since(started);
      m += why.empty() ? " (no certificate problem recorded: protocol error or connection closed)"
                       : ": " + why;
      return m;
    }
    if (what.find("Failed to connect") != std::string::npos) {
      return "cannot connect to " + server + " (connection refused or host unreachable)";
    }
    if (what.find("resolv") != std::string::npos) {
      return "cannot resolve the host of " + server;
    }
    m = what.empty() ? std::string("request failed") : what;
    if (code != 0) m += " (" + std::system_category().message(code) + ")";
    return m + " [" + server + "]";
  }

  // One attempt with a deadline. `outcome` is filled on completion.
  ApiResponse attempt(const ApiRequest& r, Clock::time_point deadline) {
    ApiResponse resp;
    const auto started = Clock::now();
    whttp::http_request req;
    try {
      req = build(r.method, r.path, r.body, r.content_type);
    } catch (const std::exception& e) {
      resp.transport_error = "invalid request " + r.method + " " + r.path + ": " + e.what();
      return resp;
    }
    auto state = std::make_shared<Pending>();
    {
      std::lock_guard lock(inflight_mu);
      inflight.insert(state);
    }
    struct Unregister {
      Impl* impl;
      std::shared_ptr<Pending> state;
      ~Unregister() {
        std::lock_guard lock(impl->inflight_mu);
        impl->inflight.erase(state);
      }
    } unregister{this, state};
    pplx::cancellation_token_source cts;
    try {
      lease_client.http->request(req, cts.get_token())
          .then([](whttp::http_response response) { return response.content_ready(); })
          .then([state](pplx::task<whttp::http_response> t) {
            Outcome o;
            try {
              whttp::http_response response = t.get();
              o.status = response.status_code();
              o.retry_after = parse_retry_after(response.headers());
              const std::vector<unsigned char> bytes = response.extract_vector().get();
              o.body.assign(bytes.begin(), bytes.end());
            } catch (const whttp::http_exception& e) {
              o.status = 0;
              o.error = e.what();
              o.error_code = e.error_code().value();
            } catch (const pplx::task_canceled&) {
              o.status = 0;
              o.error = "canceled";
            } catch (const std::exception& e) {
              o.status = 0;
              o.error = e.what();
            }
            o.done = true;
            std::lock_guard lock(state->mu);
            state->out = std::move(o);
            state->cv.notify_all();
          });
    } catch (const std::exception& e) {
      resp.transport_error = "request " + r.method + " " + r.path + " failed: " + e.what();
      return resp;
    }
    std::unique_lock lock(state->mu);
    if (!state->cv.wait_until(lock, deadline,
                              [&] { return state->out.done || state->cancelled; })) {
      lock.unlock();
      cts.cancel();  // closes the connection; the late result is dropped
      resp.timed_out = true;
      resp.transport_error = "no response to " + r.method + " " + r.path + " from " + server +
                             " within " + ms_text(r.timeout);
      return resp;
    }
    if (!state->out.done) {  // cancel_inflight(): shutting down
      lock.unlock();
      cts.cancel();
      resp.transport_error = r.method + " " + r.path + ": cancelled (shutting down)";
      return resp;
    }
    Outcome out = std::move(state->out);
    lock.unlock();
    if (out.status == 0) {
      if (out.error_code == static_cast<int>(std::errc::timed_out)) resp.timed_out = true;
      resp.transport_error = r.method + " " + r.path + ": " +
                             describe_failure(lease_client, out.error, out.error_code, started);
      return resp;
    }
    resp.status = out.status;
    resp.body = std::move(out.body);
    resp.retry_after = out.retry_after;
    return resp;
  }

  ApiResponse send(const ApiRequest& r) {
    const auto deadline = Clock::now() + r.timeout;
    ApiResponse resp = attempt(r, deadline);
    if (resp.status == 401 && Clock::now() < deadline) {
      const bool changed = tokens->refresh();
      log(LogSeverity::kInfo,
          "401 Unauthorized for " + r.method + " " + r.path +
              (changed ? "; re-read the token (new token), retrying once" : "; retrying once"));
      resp = attempt(r, deadline);
    }
    return resp;
  }

  WatchResult watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                    const std::function<bool(std::string_view)>& on_line, std::stop_token stop);
  WatchResult watch_once(const std::string& path, std::chrono::milliseconds idle_timeout,
                         const std::function<bool(std::string_view)>& on_line, std::stop_token stop,
                         bool& unauthorized);
};

// ---- watch -------------------------------------------------------------------

// One watch GET, read by a WatchStream (watch_stream.h): the request, its
// headers, then either the error body or the stream of lines.
WatchResult CpprestTransport::Impl::watch_once(const std::string& path,
                                               std::chrono::milliseconds idle_timeout,
                                               const std::function<bool(std::string_view)>& on_line,
                                               std::stop_token stop, bool& unauthorized) {
  unauthorized = false;
  WatchResult result;
  const auto started = Clock::now();
  detail::WatchStream stream;

  // 1. Send the GET; cpprest writes the body into the stream as it arrives.
  try {
    stream.start(*watch_client.http, build("GET", path, {}, {}));
  } catch (const std::exception& e) {
    result.transport_error = "invalid watch request GET " + path + ": " + e.what();
    return result;
  }

  // 2. The headers (or the request's failure) within the idle timeout.
  const detail::WatchStream::Headers headers =
      stream.wait_for_headers(started + idle_timeout, stop);
  if (headers.stopped) {
    result.stopped = true;
    return result;
  }
  if (!headers.arrived) {
    result.timed_out = true;
    result.transport_error =
        "no response to watch GET " + path + " from " + server + " within " + ms_text(idle_timeout);
    return result;
  }
  if (!headers.response) {
    result.transport_error =
        "watch GET " + path + ": " +
        describe_failure(watch_client, headers.error, headers.error_code, started);
    if (headers.error_code == static_cast<int>(std::errc::timed_out)) result.timed_out = true;
    return result;
  }
  result.status = headers.response->status_code();

  // 3. An error status: its (small) body, bounded by the idle timeout. A 401
  //    tells watch() to re-read the token and try once more.
  if (result.status != 200) {
    result.body = stream.read_whole_body(Clock::now() + idle_timeout, stop);
    if (stop.stop_requested()) result.stopped = true;
    unauthorized = result.status == 401;
    return result;
  }

  // 4. 200: the events, one line each, until the stream ends or is ended.
  stream.read_lines(path, idle_timeout, on_line, stop, result);
  return result;
}

WatchResult CpprestTransport::Impl::watch(const std::string& path,
                                          std::chrono::milliseconds idle_timeout,
                                          const std::function<bool(std::string_view)>& on_line,
                                          std::stop_token stop) {
  bool unauthorized = false;
  WatchResult result = watch_once(path, idle_timeout, on_line, stop, unauthorized);
  if (unauthorized && !stop.stop_requested()) {
    const bool changed = tokens->refresh();
    log(LogSeverity::kInfo,
        "401 Unauthorized for watch GET " + path +
            (changed ? "; re-read the token (new token), retrying once" : "; retrying once"));
    result = watch_once(path, idle_timeout, on_line, stop, unauthorized);
  }
  return result;
}

// ---- CpprestTransport --------------------------------------------------------

std::unique_ptr<CpprestTransport> CpprestTransport::create(const ClusterConfig& config,
                                                           const TransportOptions& options,
                                                           std::string& error,
                                                           std::shared_ptr<TokenSource> tokens) {
  const std::string prefix = options.name + ": " + config.source + ": ";
  try {
    ServerUrl url;
    if (!parse_server(config.server, url, error)) {
      error = prefix + error;
      return nullptr;
    }
    auto tls = std::make_shared<TlsMaterial>();
    tls->host = url.host;
    tls->host_is_ip = url.host_is_ip;
    if (!config.ca_pem.empty() && !parse_certs(config.ca_pem, tls->ca, error)) {
      error = prefix + "CA bundle: " + error;
      return nullptr;
    }
    if (config.client_cert_pem.empty() != config.client_key_pem.empty()) {
      error = prefix + "a client certificate needs both the certificate and its key";
      return nullptr;
    }
    if (!config.client_cert_pem.empty()) {
      if (!parse_certs(config.client_cert_pem, tls->client, error)) {
        error = prefix + "client certificate: " + error;
        return nullptr;
      }
      std::unique_ptr<BIO, decltype(&BIO_free)> bio(
          BIO_new_mem_buf(config.client_key_pem.data(),
                          static_cast<int>(config.client_key_pem.size())),
          &BIO_free);
      tls->key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
      if (!tls->key) {
        error = prefix + "client key: " + openssl_error();
        return nullptr;
      }
      if (X509_check_private_key(tls->client.front().get(), tls->key.get()) != 1) {
        ERR_clear_error();
        error = prefix + "the client key does not belong to the client certificate";
        return nullptr;
      }
    }
    auto impl = std::make_unique<Impl>();
    impl->server = config.server;
    impl->options = options;
    impl->tls = tls;
    if (!tokens) {
      LogFn log;
      if (options.log) {
        log = [log_fn = options.log, name = options.name](LogSeverity s, std::string_view m) {
          log_fn(s, name + ": " + std::string(m));
        };
      }
      tokens = std::make_shared<TokenSource>(config.token, config.token_file,
                                             options.token_reload_interval,
                                             TokenSource::Clock(&Clock::now), std::move(log));
    }
    impl->tokens = std::move(tokens);
    // An unbracketed IPv6 host: cpprest 2.10 hands the URI host to the
    // resolver as is, and "[::1]" does not resolve.
    web::uri_builder builder;
    builder.set_scheme(U("https")).set_host(url.host).set_port(url.port);
    if (!url.prefix.empty()) builder.set_path(url.prefix);
    const web::uri base = builder.to_uri();
    impl->make_client(impl->lease_client, base);
    impl->make_client(impl->watch_client, base);
    return std::unique_ptr<CpprestTransport>(new CpprestTransport(std::move(impl)));
  } catch (const std::exception& e) {
    error = prefix + e.what();
    return nullptr;
  }
}

CpprestTransport::CpprestTransport(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CpprestTransport::~CpprestTransport() = default;

TokenSource& CpprestTransport::tokens() { return *impl_->tokens; }

void CpprestTransport::cancel_inflight() { impl_->cancel_inflight(); }

ApiResponse CpprestTransport::send(const ApiRequest& request) {
  try {
    return impl_->send(request);
  } catch (const std::exception& e) {
    ApiResponse r;
    r.transport_error = request.method + " " + request.path + ": " + e.what();
    return r;
  } catch (...) {
    ApiResponse r;
    r.transport_error = request.method + " " + request.path + ": unknown error";
    return r;
  }
}

WatchResult CpprestTransport::watch(const std::string& path, std::chrono::milliseconds idle_timeout,
                                    const std::function<bool(std::string_view line)>& on_line,
                                    std::stop_token stop) {
  try {
    return impl_->watch(path, idle_timeout, on_line, std::move(stop));
  } catch (const std::exception& e) {
    WatchResult r;
    r.transport_error = "watch GET " + path + ": " + e.what();
    return r;
  } catch (...) {
    WatchResult r;
    r.transport_error = "watch GET " + path + ": unknown error";
    return r;
  }
}

void limit_cpprest_threads(std::size_t threads) {
  static std::once_flag once;
  std::call_once(once, [threads] {
    try {
      crossplat::threadpool::initialize_with_threads(threads);
    } catch (...) {  // already initialized in this process
    }
  });
}

}  // namespace pgdc::kube
