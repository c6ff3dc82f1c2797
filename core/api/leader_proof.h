// The leader's proof of its address, so a follower forwards a request (and
// its bearer token) only to a replica that holds the replicas' forward secret
// (api.forward_secret_file) and leads now.
//
// Why: a follower learns the leader's address from the leadership record
// (e.g. an annotation on the Lease), which anyone allowed to update that
// record can rewrite. Before sending anything else on a connection, the
// follower asks the peer at that address
//   GET /api/internal/leader-proof?nonce=<fresh random hex>
// and the peer, only while it leads, answers its identity, its advertised
// address and HMAC-SHA-256(secret, context | nonce | identity | address).
// The follower forwards on the same connection only if the identity is the
// holder the record names, the address is the one it dialled and the MAC
// matches. A planted listener cannot answer (no secret); relaying the real
// leader's answer does not help it (the MAC covers the real leader's own
// address); an old answer is useless (fresh nonce). The proof reveals nothing
// of the secret, and no request carries a token before it is checked.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "config/config.h"
#include "http/router.h"
#include "leadership/leadership_state.h"

namespace pgdc::api {

inline constexpr std::string_view kLeaderProofPath = "/api/internal/leader-proof";

// The shared secret: at least 32 visible ASCII characters, from a file.
struct ForwardSecret {
  std::string value;
};

struct ForwardSecretLoad {
  std::optional<ForwardSecret> secret;
  std::string error;    // names the key and the file, never the secret
  std::string warning;  // e.g. the file is readable by others
};
ForwardSecretLoad load_forward_secret(const std::string& path);

// Lower-case hex HMAC over the proof's fields.
std::string leader_proof(const ForwardSecret& secret, std::string_view nonce,
                         std::string_view identity, std::string_view address);
// Constant-time comparison of `proof` with the expected one.
bool proof_matches(const ForwardSecret& secret, std::string_view nonce, std::string_view identity,
                   std::string_view address, std::string_view proof);

// A fresh nonce: 32 random hex digits.
std::string new_nonce();

// GET /api/internal/leader-proof: 200 with the proof while this replica leads
// (identity and address are its own), 503 not_leader otherwise, 400 for a
// nonce that is not 32 to 128 hex digits. `state` and `secret` must outlive
// the router.
void add_leader_proof_route(Router& router, const LeadershipState& state, std::string identity,
                            std::string address, const ForwardSecret& secret);

}  // namespace pgdc::api
