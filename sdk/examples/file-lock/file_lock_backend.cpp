#include "file_lock_backend.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace example_file_lock {
namespace {

constexpr const char* kName = "example-file-lock";

std::string errno_text(const std::string& what) { return what + ": " + std::strerror(errno); }

std::string new_scope() {
  std::random_device device;
  std::uniform_int_distribution<std::uint64_t> dist;
  std::ostringstream out;
  out << std::hex << dist(device);
  return out.str();
}

}  // namespace

Config parse_config(std::string_view config_json) {
  const auto json = nlohmann::json::parse(config_json, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object())
    throw pgdc::sdk::ConfigError(std::string(kName) + ": config is not a JSON object");
  Config c;
  const auto identity = json.find("identity");
  if (identity == json.end() || !identity->is_string() || identity->get<std::string>().empty()) {
    throw pgdc::sdk::ConfigError(std::string(kName) + ": identity must be a non-empty string");
  }
  c.identity = identity->get<std::string>();
  if (const auto address = json.find("advertise_address");
      address != json.end() && address->is_string()) {
    c.advertise_address = address->get<std::string>();
  }
  if (const auto interval = json.find("lease_interval_ms"); interval != json.end()) {
    if (!interval->is_number_integer() || interval->get<std::int64_t>() <= 0) {
      throw pgdc::sdk::ConfigError(std::string(kName) +
                                   ": lease_interval_ms must be an integer > 0");
    }
    c.poll = std::chrono::milliseconds(interval->get<std::int64_t>());
  }
  const auto options = json.find("options");
  if (options == json.end() || !options->is_object()) {
    throw pgdc::sdk::ConfigError(std::string(kName) +
                                 ": options must be an object with lock_file (leader.options)");
  }
  for (const auto& [key, value] : options->items()) {
    if (key != "lock_file" && key != "epoch_file") {
      throw pgdc::sdk::ConfigError(std::string(kName) + ": options." + key +
                                   ": unknown option; known options: lock_file, epoch_file");
    }
  }
  const auto lock_file = options->find("lock_file");
  if (lock_file == options->end() || !lock_file->is_string() ||
      lock_file->get<std::string>().empty()) {
    throw pgdc::sdk::ConfigError(
        std::string(kName) + ": options.lock_file must be a non-empty string (the file to flock)");
  }
  c.lock_file = lock_file->get<std::string>();
  c.epoch_file = c.lock_file + ".epoch";
  if (const auto epoch_file = options->find("epoch_file"); epoch_file != options->end()) {
    if (!epoch_file->is_string() || epoch_file->get<std::string>().empty()) {
      throw pgdc::sdk::ConfigError(std::string(kName) +
                                   ": options.epoch_file must be a non-empty string");
    }
    c.epoch_file = epoch_file->get<std::string>();
  }
  return c;
}

bool read_epoch_file(const std::string& path, EpochRecord* record) {
  std::ifstream in(path);
  std::string line;
  if (!in || !std::getline(in, line)) return false;
  std::istringstream fields(line);
  EpochRecord r;
  if (!(fields >> r.scope >> r.epoch) || r.scope.empty()) return false;
  fields >> r.holder >> r.address;  // both optional
  *record = r;
  return true;
}

void write_epoch_file(const std::string& path, const EpochRecord& record) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const std::string text = record.scope + " " + std::to_string(record.epoch) + " " + record.holder +
                           " " + record.address + "\n";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(errno_text("cannot create " + tmp));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  const std::string error = ok ? "" : errno_text("cannot write " + tmp);
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = ok ? errno_text("cannot rename " + tmp + " to " + path) : error;
    ::unlink(tmp.c_str());
    throw std::runtime_error(why);
  }
}

FileLockBackend::FileLockBackend(pgdc::sdk::Host host, std::string_view config_json)
    : host_(host), config_(parse_config(config_json)) {}

FileLockBackend::~FileLockBackend() {
  // stop() joined the thread (the host always stops a started instance); a
  // lock still held (stop without release) is dropped here with the fd.
  if (thread_.joinable()) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  if (fd_ >= 0) ::close(fd_);
}

void FileLockBackend::start() {
  fd_ = ::open(config_.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw pgdc::sdk::UnavailableError(errno_text("cannot open " + config_.lock_file));
  acquisitions_ =
      host_.counter("example_file_lock_acquisitions_total", "Leadership terms this replica began");
  thread_ = std::thread([this] { run(); });
}

bool FileLockBackend::stop(bool release, std::int64_t /*deadline_ns*/) {
  // Every step below is local and quick: well within any deadline.
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (!release || !leading_) return true;
  // Release: we still hold the flock (the kernel guarantees it), so clear
  // the holder and unlock; the next replica begins the next epoch.
  bool clean = true;
  try {
    EpochRecord r = term_;
    r.holder.clear();
    r.address.clear();
    write_epoch_file(config_.epoch_file, r);
  } catch (const std::exception& e) {
    host_.log(pgdc::sdk::LogLevel::kWarn, std::string("release: ") + e.what());
    clean = false;
  }
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
  leading_ = false;
  host_.log(pgdc::sdk::LogLevel::kInfo, "released leadership of " + config_.lock_file);
  return clean;
}

void FileLockBackend::run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    poll_once();
    host_.progress();
    lock.lock();
    wake_.wait_for(lock, config_.poll, [this] { return stopping_; });
  }
}

void FileLockBackend::poll_once() {
  if (leading_) {
    if (lock_file_replaced()) lose("the lock file was deleted or replaced");
    return;
  }
  if (try_acquire()) return;
  EpochRecord seen;
  read_epoch_file(config_.epoch_file, &seen);
  report_follower(seen);
}

bool FileLockBackend::try_acquire() {
  if (fd_ < 0) {
    fd_ = ::open(config_.lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      host_.log(pgdc::sdk::LogLevel::kWarn, errno_text("cannot open " + config_.lock_file));
      return false;
    }
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) host_.log(pgdc::sdk::LogLevel::kWarn, errno_text("flock"));
    return false;
  }
  // 1. We hold the lock: take the next epoch of the current scope.
  EpochRecord r;
  if (!read_epoch_file(config_.epoch_file, &r)) {
    r = EpochRecord{new_scope(), 0, "", ""};
    host_.log(pgdc::sdk::LogLevel::kInfo,
              "no epoch file " + config_.epoch_file + ": new scope " + r.scope);
  }
  r.epoch += 1;
  r.holder = config_.identity;
  r.address = config_.advertise_address;
  // 2. Persist it before claiming the term, so a crash cannot reuse it.
  try {
    write_epoch_file(config_.epoch_file, r);
  } catch (const std::exception& e) {
    host_.log(pgdc::sdk::LogLevel::kError, e.what());
    ::flock(fd_, LOCK_UN);
    return false;
  }
  // 3. Report the term.
  leading_ = true;
  term_ = r;
  acquisitions_.add();
  pgdc::sdk::Leadership l;
  l.role = pgdc::sdk::Role::kLeader;
  l.holder = r.holder;
  l.holder_address = config_.advertise_address;  // a leader reports its own
  l.epoch_scope = r.scope;
  l.epoch = r.epoch;
  l.valid_until_ns = PGDC_NEVER;  // held until we unlock or the process dies
  host_.log(pgdc::sdk::LogLevel::kInfo,
            "leading " + config_.lock_file + ", epoch " + std::to_string(r.epoch));
  host_.report(l);
  return true;
}

void FileLockBackend::lose(const std::string& why) {
  host_.log(pgdc::sdk::LogLevel::kWarn, "lost leadership: " + why);
  // 1. Report first: the host stops leader-only work before this returns.
  leading_ = false;
  reported_ = false;
  report_follower(EpochRecord{});
  // 2. Then let go of the old file.
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
  fd_ = -1;
}

void FileLockBackend::report_follower(const EpochRecord& seen) {
  if (reported_ && seen.holder == last_seen_.holder && seen.address == last_seen_.address &&
      seen.scope == last_seen_.scope) {
    return;
  }
  reported_ = true;
  last_seen_ = seen;
  pgdc::sdk::Leadership l;
  l.role = pgdc::sdk::Role::kFollower;
  l.holder = seen.holder;
  l.holder_address = seen.holder.empty() ? "" : seen.address;  // as the holder wrote it
  l.epoch_scope = seen.scope;
  l.epoch = 0;  // a follower holds no term
  l.valid_until_ns = 0;
  host_.report(l);
}

bool FileLockBackend::lock_file_replaced() const {
  struct stat held {};
  struct stat now {};
  if (::fstat(fd_, &held) != 0) return true;
  if (::stat(config_.lock_file.c_str(), &now) != 0) return true;
  return held.st_dev != now.st_dev || held.st_ino != now.st_ino;
}

}  // namespace example_file_lock
