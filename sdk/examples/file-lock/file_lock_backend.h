// example-file-lock: leadership is an exclusive flock() on a shared file.
//
// What it guarantees: while this replica holds the lock, no other process on
// the same file (same host, or a file system with working flock) can. The
// kernel drops the lock when the process dies, so there is no lease to expire
// and a leader reports valid_until = PGDC_NEVER. What it does not: fencing
// against a replaced lock file beyond the check each poll (a leader whose
// lock file was deleted or replaced reports follower at the next poll).
//
// Epochs: the holder of the lock increments a counter in the epoch file
// ("<scope> <epoch> <holder> <address>", replaced atomically), so successive
// terms strictly increase. A missing or unreadable epoch file starts a new
// random scope at epoch 1. The holder writes its advertise_address there too,
// so followers can report where the leader serves.
//
// Threads: start() runs one poll thread; stop() joins it before returning, so
// no host call happens after stop() returns.
#pragma once

#include <pgdog_control/plugin.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace example_file_lock {

struct Config {
  std::string identity;                  // required, the holder name
  std::string advertise_address;         // where this replica serves; may be empty
  std::string lock_file;                 // options.lock_file, required
  std::string epoch_file;                // options.epoch_file, default <lock_file>.epoch
  std::chrono::milliseconds poll{1000};  // lease_interval_ms, > 0
};

// Parses the host's config JSON; throws pgdc::sdk::ConfigError naming the key.
// Top-level keys it does not know are ignored (a later host may add some);
// unknown keys in options are refused, so a typo fails `--check`.
Config parse_config(std::string_view config_json);

// The epoch file's content.
struct EpochRecord {
  std::string scope;
  std::uint64_t epoch = 0;
  std::string holder;   // empty: nobody leads
  std::string address;  // the holder's advertise_address; empty if unknown
};

// Reads the record; false if the file is missing or malformed.
bool read_epoch_file(const std::string& path, EpochRecord* record);
// Writes it atomically (temp file, fsync, rename); throws on failure.
void write_epoch_file(const std::string& path, const EpochRecord& record);

class FileLockBackend final : public pgdc::sdk::Backend {
 public:
  FileLockBackend(pgdc::sdk::Host host, std::string_view config_json);
  ~FileLockBackend() override;

  void start() override;
  bool stop(bool release, std::int64_t deadline_ns) override;

 private:
  void run();
  void poll_once();
  bool try_acquire();
  void lose(const std::string& why);
  void report_follower(const EpochRecord& seen);
  bool lock_file_replaced() const;

  pgdc::sdk::Host host_;
  Config config_;
  pgdc::sdk::Metric acquisitions_;
  int fd_ = -1;
  bool leading_ = false;   // poll thread only, then stop() after the join
  EpochRecord term_;       // the record written when this term began
  bool reported_ = false;  // a follower report was sent
  EpochRecord last_seen_;  // what the last follower report said

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace example_file_lock
