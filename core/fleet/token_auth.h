// Bearer tokens: which deployment (machine API) or web role a token grants.
//
// Tokens are kept only as SHA-256 digests. find() hashes the presented token
// and compares it with every known digest in constant time, without an early
// exit, so timing reveals neither which token nor how much of one matched.
// A token is never logged: fingerprint() (a SHA-256 prefix) names one when a
// message must.
//
// Invariant: a token maps to exactly one role (and, for kDeployment, one
// deployment); load_tokens rejects a token given twice.
// Thread-safety: immutable after construction; find() from any thread.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "fleet/sha256.h"

namespace pgdc::fleet {

enum class TokenRole { kNone, kDeployment, kWebAdmin, kWebRead };

struct TokenMatch {
  TokenRole role = TokenRole::kNone;
  std::string deployment;  // set for kDeployment
};

class TokenAuth {
 public:
  // Returns false (and adds nothing) when the token is already known.
  bool add(TokenRole role, std::string deployment, std::string_view token);
  TokenMatch find(std::string_view token) const;
  std::size_t size() const { return entries_.size(); }

  // The first 12 hex digits of the token's SHA-256: safe to log.
  static std::string fingerprint(std::string_view token);

 private:
  struct Entry {
    Sha256Digest digest;
    TokenRole role;
    std::string deployment;
  };
  std::vector<Entry> entries_;
};

struct TokenLoad {
  std::optional<TokenAuth> auth;      // set when errors is empty
  std::vector<std::string> errors;    // e.g. "api.deployments[0].token_file: cannot read ..."
  std::vector<std::string> warnings;  // e.g. a token file readable by every user
  // Config key -> the fingerprints of the tokens it gave, sorted (e.g.
  // "api.deployments[0].token_file" -> {"3f2a..."}): what a reload compares
  // to say which keys changed, without keeping a token.
  std::map<std::string, std::vector<std::string>> fingerprints;
};

// The tokens of api.deployments and api.web, inline and from token files (one
// token per line; blank lines and lines starting with '#' are skipped;
// surrounding spaces are trimmed; regular files of at most 1 MiB only, see
// config/small_file.h). File tokens follow the config's rules: at
// least 16 visible ASCII characters, no token in two places.
TokenLoad load_tokens(const ApiConfig& api);

}  // namespace pgdc::fleet
