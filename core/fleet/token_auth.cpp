#include "fleet/token_auth.h"

#include <algorithm>
#include <sstream>

#include "config/config_rules.h"
#include "config/small_file.h"
#include "text/text.h"

namespace pgdc::fleet {
namespace {

using config_rules::token_problem;  // the same rule as inline tokens in the config

class Loader {
 public:
  void inline_tokens(TokenRole role, const std::string& deployment,
                     const std::vector<std::string>& tokens, const std::string& key) {
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      put(role, deployment, tokens[i], key + "[" + std::to_string(i) + "]", key);
    }
  }

  void file(TokenRole role, const std::string& deployment, const std::string& path,
            const std::string& key) {
    if (path.empty()) return;
    SmallFile file = read_small_file(path, kMaxTokenFileBytes);
    if (!file.text) {
      errors.push_back(key + ": cannot read token file " + config_rules::quote(path) + ": " +
                       file.error);
      return;
    }
    if (file.readable_by_others) {
      warnings.push_back(key + ": token file " + config_rules::quote(path) +
                         " is readable by every user on the host (mode o+r); tokens grant "
                         "access to the API: chmod o-r it, or mount the Secret with "
                         "defaultMode 0440 or tighter");
    }
    std::istringstream in(*file.text);
    std::string line;
    int number = 0;
    int found = 0;
    while (std::getline(in, line)) {
      ++number;
      std::string token(text::trim(line));
      if (token.empty() || token[0] == '#') continue;
      ++found;
      const std::string where = path + ":" + std::to_string(number);
      if (std::string problem = token_problem(token); !problem.empty()) {
        errors.push_back(key + ": " + where + ": " + problem);
        continue;
      }
      put(role, deployment, token, where, key);
    }
    if (found == 0) {
      errors.push_back(key + ": token file " + config_rules::quote(path) + " holds no token");
    }
  }

  TokenAuth auth;
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
  std::map<std::string, std::vector<std::string>> fingerprints;  // by config key

 private:
  void put(TokenRole role, const std::string& deployment, const std::string& token,
           const std::string& where, const std::string& key) {
    const std::string fp = TokenAuth::fingerprint(token);
    fingerprints[key].push_back(fp);
    for (const auto& [seen_fp, seen_where] : places_) {
      if (seen_fp == fp) {
        errors.push_back(where + ": the same token is already given at " + seen_where +
                         " (a token identifies exactly one deployment or web role)");
        return;
      }
    }
    places_.emplace_back(fp, where);
    auth.add(role, deployment, token);
  }

  std::vector<std::pair<std::string, std::string>> places_;  // fingerprint, where
};

}  // namespace

bool TokenAuth::add(TokenRole role, std::string deployment, std::string_view token) {
  const Sha256Digest digest = sha256(token);
  for (const Entry& e : entries_) {
    if (e.digest == digest) return false;
  }
  entries_.push_back(Entry{digest, role, std::move(deployment)});
  return true;
}

TokenMatch TokenAuth::find(std::string_view token) const {
  const Sha256Digest digest = sha256(token);
  const Entry* match = nullptr;
  for (const Entry& e : entries_) {
    const bool equal = digest_equal(e.digest, digest);
    match = equal ? &e : match;  // no early exit
  }
  if (!match || token.empty()) return {};
  return TokenMatch{match->role, match->deployment};
}

std::string TokenAuth::fingerprint(std::string_view token) {
  return sha256_hex(token).substr(0, 12);
}

TokenLoad load_tokens(const ApiConfig& api) {
  Loader loader;
  for (std::size_t i = 0; i < api.deployments.size(); ++i) {
    const ApiDeploymentConfig& d = api.deployments[i];
    const std::string key = "api.deployments[" + std::to_string(i) + "]";
    loader.inline_tokens(TokenRole::kDeployment, d.name, d.tokens, key + ".tokens");
    loader.file(TokenRole::kDeployment, d.name, d.token_file, key + ".token_file");
  }
  loader.inline_tokens(TokenRole::kWebAdmin, "", api.web_admin_tokens, "api.web.admin_tokens");
  loader.file(TokenRole::kWebAdmin, "", api.web_admin_token_file, "api.web.admin_token_file");
  loader.inline_tokens(TokenRole::kWebRead, "", api.web_read_tokens, "api.web.read_tokens");
  loader.file(TokenRole::kWebRead, "", api.web_read_token_file, "api.web.read_token_file");
  TokenLoad out;
  out.errors = std::move(loader.errors);
  out.warnings = std::move(loader.warnings);
  out.fingerprints = std::move(loader.fingerprints);
  for (auto& [key, fps] : out.fingerprints) std::sort(fps.begin(), fps.end());
  if (out.errors.empty()) out.auth = std::move(loader.auth);
  return out;
}

}  // namespace pgdc::fleet
