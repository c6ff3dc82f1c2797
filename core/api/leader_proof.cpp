#include "api/leader_proof.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <variant>

#include "api/request_parsers.h"
#include "config/config_rules.h"
#include "config/small_file.h"
#include "fleet/sha256.h"
#include "http/json_errors.h"
#include "text/text.h"

namespace pgdc::api {
namespace {

// Domain separation: these MACs are good for nothing else.
constexpr std::string_view kContext = "pgdog-control leader-proof v1";
constexpr std::size_t kMinSecret = 32;

std::string proof_message(std::string_view nonce, std::string_view identity,
                          std::string_view address) {
  std::string m(kContext);
  for (std::string_view part : {nonce, identity, address}) {
    m += '\n';
    m += part;
  }
  return m;
}

bool is_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

ForwardSecretLoad load_forward_secret(const std::string& path) {
  ForwardSecretLoad out;
  const std::string key = "api.forward_secret_file " + config_rules::quote(path);
  SmallFile file = read_small_file(path, kMaxTokenFileBytes);
  if (!file.text) {
    out.error = key + ": cannot read: " + file.error;
    return out;
  }
  const std::string_view secret = text::trim(*file.text);
  const bool visible =
      std::all_of(secret.begin(), secret.end(), [](char c) { return c > ' ' && c < 0x7f; });
  if (secret.size() < kMinSecret || !visible) {
    out.error = key + ": the secret must be at least " + std::to_string(kMinSecret) +
                " visible ASCII characters on one line (this one has " +
                std::to_string(secret.size()) + " characters" +
                (visible ? "" : ", some of them spaces or control bytes") +
                "); e.g. head -c 32 /dev/urandom | base64";
    return out;
  }
  if (file.readable_by_others) {
    out.warning = key + " is readable by every user on this host (chmod o-r)";
  }
  out.secret = ForwardSecret{std::string(secret)};
  return out;
}

std::string leader_proof(const ForwardSecret& secret, std::string_view nonce,
                         std::string_view identity, std::string_view address) {
  return fleet::to_hex(fleet::hmac_sha256(secret.value, proof_message(nonce, identity, address)));
}

bool proof_matches(const ForwardSecret& secret, std::string_view nonce, std::string_view identity,
                   std::string_view address, std::string_view proof) {
  const std::string expected = leader_proof(secret, nonce, identity, address);
  return proof.size() == expected.size() &&
         CRYPTO_memcmp(proof.data(), expected.data(), expected.size()) == 0;
}

std::string new_nonce() { return text::random_hex(32); }

void add_leader_proof_route(Router& router, const LeadershipState& state, std::string identity,
                            std::string address, const ForwardSecret& secret) {
  const std::string path(kLeaderProofPath);
  router.add("GET", path, path,
             [&state, &secret, identity = std::move(identity), address = std::move(address)](
                 HttpRequest&& r, Respond respond) {
               auto param = query_param(r.query, "nonce");
               const auto* found = std::get_if<std::optional<std::string>>(&param);
               const std::string nonce = found && *found ? **found : std::string();
               if (nonce.size() < 32 || nonce.size() > 128 || !is_hex(nonce)) {
                 respond(json_error(400, "bad_request", "nonce: 32 to 128 lower-case hex digits"));
                 return;
               }
               // Only a replica that leads now vouches for its address: a follower
               // that holds the secret must not be mistaken for the leader.
               if (!state.ready()) {
                 respond(json_error(503, "not_leader", "this replica is not the leader"));
                 return;
               }
               respond(json_body(
                   200, nlohmann::json{{"identity", identity},
                                       {"address", address},
                                       {"proof", leader_proof(secret, nonce, identity, address)}}
                            .dump()));
             });
}

}  // namespace pgdc::api
