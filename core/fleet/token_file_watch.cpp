#include "fleet/token_file_watch.h"

#include <algorithm>
#include <cerrno>
#include <iterator>
#include <set>
#include <utility>

#include <sys/stat.h>

namespace pgdc::fleet {
namespace {

bool same_time(const timespec& a, const timespec& b) {
  return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

// "+2 tokens [a, b]": how many fingerprints and which (safe to log).
std::string counted(char sign, const std::vector<std::string>& fps) {
  std::string out =
      sign + std::to_string(fps.size()) + (fps.size() == 1 ? " token [" : " tokens [");
  for (std::size_t i = 0; i < fps.size(); ++i) out += (i ? ", " : "") + fps[i];
  return out + "]";
}

}  // namespace

bool TokenFileWatch::Signature::operator==(const Signature& o) const {
  if (error != 0 || o.error != 0) return error == o.error;
  return dev == o.dev && ino == o.ino && size == o.size && same_time(mtime, o.mtime) &&
         same_time(ctime, o.ctime);
}

TokenFileWatch::TokenFileWatch(ApiConfig api) : api_(std::move(api)) {
  const auto add = [this](std::string key, std::string label, const std::string& path) {
    if (!path.empty()) files_.push_back(File{std::move(key), std::move(label), path, {}});
  };
  for (std::size_t i = 0; i < api_.deployments.size(); ++i) {
    const std::string key = "api.deployments[" + std::to_string(i) + "].token_file";
    add(key, key + " (" + api_.deployments[i].name + ")", api_.deployments[i].token_file);
  }
  add("api.web.admin_token_file", "api.web.admin_token_file", api_.web_admin_token_file);
  add("api.web.read_token_file", "api.web.read_token_file", api_.web_read_token_file);
}

TokenFileWatch::Signature TokenFileWatch::stat_file(const std::string& path) {
  Signature s;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {  // follows symlinks: kubelet's ..data swap
    s.error = errno != 0 ? errno : EIO;
    return s;
  }
  s.dev = st.st_dev;
  s.ino = st.st_ino;
  s.size = st.st_size;
  s.mtime = st.st_mtim;
  s.ctime = st.st_ctim;
  return s;
}

bool TokenFileWatch::stat_all() {
  bool changed = false;
  for (File& f : files_) {
    Signature now = stat_file(f.path);
    if (!(now == f.seen)) changed = true;
    f.seen = now;
  }
  return changed;
}

TokenLoad TokenFileWatch::load() {
  stat_all();  // before reading: see the invariants in the header
  TokenLoad out = load_tokens(api_);
  if (out.auth) in_use_ = out.fingerprints;
  return out;
}

std::optional<TokenFileWatch::Reload> TokenFileWatch::poll() {
  if (!stat_all()) return std::nullopt;
  Reload r;
  r.load = load_tokens(api_);
  if (r.load.auth) {
    r.changes = describe_changes(r.load);
    in_use_ = r.load.fingerprints;
  }
  return r;
}

std::vector<std::string> TokenFileWatch::describe_changes(const TokenLoad& now) const {
  std::set<std::string> keys;
  for (const auto& [k, fps] : in_use_) keys.insert(k);
  for (const auto& [k, fps] : now.fingerprints) keys.insert(k);
  std::vector<std::string> out;
  static const std::vector<std::string> kNone;
  for (const std::string& key : keys) {
    const auto old_it = in_use_.find(key);
    const auto new_it = now.fingerprints.find(key);
    const auto& before = old_it == in_use_.end() ? kNone : old_it->second;  // sorted
    const auto& after = new_it == now.fingerprints.end() ? kNone : new_it->second;
    if (before == after) continue;
    std::vector<std::string> added;
    std::vector<std::string> removed;
    std::set_difference(after.begin(), after.end(), before.begin(), before.end(),
                        std::back_inserter(added));
    std::set_difference(before.begin(), before.end(), after.begin(), after.end(),
                        std::back_inserter(removed));
    std::string label = key;
    for (const File& f : files_) {
      if (f.key == key) label = f.label;
    }
    std::string line = label + ":";
    if (!added.empty()) line += " " + counted('+', added);
    if (!removed.empty()) line += std::string(added.empty() ? " " : ", ") + counted('-', removed);
    out.push_back(std::move(line));
  }
  return out;
}

}  // namespace pgdc::fleet
