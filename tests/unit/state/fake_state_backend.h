// A StateBackend in memory with the store's compare-and-swap, shared by
// several "replicas" (each holds its own FakeStateBackend view onto one
// FakeStore), with the faults the keeper must survive: an admin edit, a
// write that times out, a store that is down.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "state/state_backend.h"

namespace pgdc::state::test {

struct FakeStore {
  struct Object {
    std::string value;
    std::uint64_t version = 0;
  };
  std::mutex mutex;
  std::map<std::string, Object> objects;
  std::uint64_t next_version = 1;
  int reads = 0;
  int writes = 0;  // successful ones

  // Test helpers (any thread).
  std::string value(const std::string& key) {
    std::lock_guard lock(mutex);
    auto it = objects.find(key);
    return it == objects.end() ? std::string() : it->second.value;
  }
  // An admin's edit that moves the version and keeps the value (a label).
  void touch(const std::string& key) {
    std::lock_guard lock(mutex);
    objects[key].version = next_version++;
  }
  int write_count() {
    std::lock_guard lock(mutex);
    return writes;
  }
};

class FakeStateBackend final : public StateBackend {
 public:
  explicit FakeStateBackend(std::shared_ptr<FakeStore> store) : store_(std::move(store)) {}

  // Faults, set by the test.
  std::atomic<bool> down{false};          // every call: kUnavailable
  std::atomic<bool> lose_replies{false};  // writes happen, but answer kUnavailable (a timeout)

  std::string describe() const override { return "fake store"; }

  ReadResult read(const std::string& key, std::chrono::milliseconds) override {
    std::lock_guard lock(store_->mutex);
    ReadResult r;
    if (down) {
      r.error = "store down";
      return r;
    }
    ++store_->reads;
    r.status = StoreStatus::kOk;
    auto it = store_->objects.find(key);
    if (it == store_->objects.end()) return r;
    r.found = true;
    r.value = it->second.value;
    r.version = std::to_string(it->second.version);
    return r;
  }

  WriteResult write(const std::string& key, std::string_view value,
                    const std::string& expected_version, std::chrono::milliseconds) override {
    std::lock_guard lock(store_->mutex);
    WriteResult w;
    if (down) {
      w.error = "store down";
      return w;
    }
    auto it = store_->objects.find(key);
    const std::string current =
        it == store_->objects.end() ? std::string() : std::to_string(it->second.version);
    if (current != expected_version) {
      w.status = StoreStatus::kConflict;
      w.error = "conflict";
      return w;
    }
    auto& object = store_->objects[key];
    object.value = std::string(value);
    object.version = store_->next_version++;
    ++store_->writes;
    if (lose_replies) {
      w.error = "timed out";
      return w;
    }
    w.status = StoreStatus::kOk;
    w.version = std::to_string(object.version);
    return w;
  }

 private:
  std::shared_ptr<FakeStore> store_;
};

}  // namespace pgdc::state::test
