// The token files of an ApiConfig (api.deployments[].token_file,
// api.web.admin_token_file, api.web.read_token_file), watched for changes so
// the daemon can take rotated tokens without a restart.
//
// A change is any difference in what stat() (following symlinks) says about a
// file: device, inode, size, mtime or ctime, or whether it exists at all.
// Following symlinks matters: the kubelet updates a Secret volume by writing
// a new directory and swapping the `..data` symlink, so the file's path keeps
// resolving to a new inode. When any file changed, every token (inline and
// from files) is loaded again with load_tokens, so the duplicate and format
// rules hold across all of them exactly as at startup.
//
// Invariants:
//  - Each file is stat()ed BEFORE it is read, so a change made while a load
//    reads the files is seen by the next poll() (at worst one extra reload).
//  - A failed reload keeps the signatures it saw: the same broken state is
//    reported once, and the next change (the fix) is tried again. The
//    fingerprints stay those of the last good load (the tokens in use), so a
//    later success reports its changes against what was being used.
//  - Inline tokens come from the config, which is not reloaded: they never
//    change here.
// Never holds a token: only fingerprints (TokenAuth::fingerprint).
// Thread-safety: none; one thread calls load() and then poll().
#pragma once

#include <ctime>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <sys/types.h>

#include "config/config.h"
#include "fleet/token_auth.h"

namespace pgdc::fleet {

class TokenFileWatch {
 public:
  explicit TokenFileWatch(ApiConfig api);

  // The first load (at startup).
  TokenLoad load();

  struct Reload {
    TokenLoad load;  // load.auth set: the new tokens; else load.errors
    // On success, one line per config key whose tokens changed, e.g.
    // "api.deployments[0].token_file (shop): +1 token (3f2a9c01b2d4), -1 token
    // (77e0...)"; empty when the files changed but no token did.
    std::vector<std::string> changes;
  };
  // nullopt when no token file changed since the last load() or poll();
  // otherwise the result of loading every token again.
  std::optional<Reload> poll();

  // Whether the config names any token file (else poll() never reloads).
  bool has_files() const { return !files_.empty(); }

 private:
  struct Signature {
    int error = 0;  // errno of a failed stat(); 0: the fields below are set
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    timespec mtime{};
    timespec ctime{};
    bool operator==(const Signature& o) const;
  };
  struct File {
    std::string key;    // e.g. "api.deployments[0].token_file"
    std::string label;  // e.g. "api.deployments[0].token_file (shop)"
    std::string path;
    Signature seen;
  };
  static Signature stat_file(const std::string& path);
  bool stat_all();  // refreshes `seen`; true when any signature changed
  std::vector<std::string> describe_changes(const TokenLoad& now) const;

  const ApiConfig api_;
  std::vector<File> files_;
  std::map<std::string, std::vector<std::string>> in_use_;  // fingerprints by key
};

}  // namespace pgdc::fleet
