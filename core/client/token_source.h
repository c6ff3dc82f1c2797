// Where the operator CLI's bearer token comes from: --token-file, else
// $PGDOG_CONTROL_TOKEN, else none (reads may be open). The token itself never
// appears in an error: messages name the file or the variable only.
#pragma once

#include <optional>
#include <string>

namespace pgdc::client {

struct TokenSource {
  std::optional<std::string> token;  // "" : no token (none was given)
  std::string error;                 // set when token is empty: a usage error
};

// token_file: --token-file ("" when not given). env_token: the variable's
// value, nullptr when unset. A token file holds the token on its first line
// that is neither empty nor a # comment (so a daemon token file, which may
// carry comments, works as is); surrounding whitespace is dropped. A given
// file that is missing, unreadable or holds no token is an error; so is a
// token with whitespace or control characters inside (it could not be sent
// in a header).
TokenSource resolve_token(const std::string& token_file, const char* env_token);

}  // namespace pgdc::client
