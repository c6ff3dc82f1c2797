// Where durable control state is kept: a store of small objects, each a key
// and a value with a version, written only by compare-and-swap.
//
// Implementations: PluginStateBackend (a plugin's ABI 1.3 state store, e.g.
// Kubernetes ConfigMaps) and FileStateBackend (files in state_dir, for a
// single replica). Tests use a fake.
//
// The contract (plugin.h, "The state store"):
//  - write(key, value, expected) succeeds only if the object's current
//    version equals `expected` ("" : only if the object does not exist), in
//    one atomic step of the store; otherwise kConflict and nothing changed.
//    The store, not the writer's clock, refuses a deposed leader's write.
//  - kUnavailable: the store failed or did not answer in time. For a write
//    the outcome is unknown: the caller reads the object before it writes it
//    again.
//  - Versions are opaque; compare them for equality only.
//  - Keys: 1-63 characters of [a-z0-9-], starting and ending with a letter or
//    digit. Values: at most kMaxValueBytes.
// Thread-safety: calls for different keys may run concurrently; calls for one
// key never overlap (the caller serialises them).
#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>

namespace pgdc::state {

inline constexpr std::size_t kMaxValueBytes = 786432;  // PGDC_STATE_MAX_VALUE

enum class StoreStatus { kOk, kConflict, kUnavailable };

struct ReadResult {
  StoreStatus status = StoreStatus::kUnavailable;  // kOk or kUnavailable
  bool found = false;
  std::string value;
  std::string version;
  std::string error;  // one line when not kOk
};

struct WriteResult {
  StoreStatus status = StoreStatus::kUnavailable;
  std::string version;  // the new version when kOk
  std::string error;    // one line when not kOk
};

class StateBackend {
 public:
  virtual ~StateBackend() = default;
  // For logs and /api/status, e.g. "kubernetes ConfigMaps in namespace ns".
  virtual std::string describe() const = 0;
  virtual ReadResult read(const std::string& key, std::chrono::milliseconds timeout) = 0;
  virtual WriteResult write(const std::string& key, std::string_view value,
                            const std::string& expected_version,
                            std::chrono::milliseconds timeout) = 0;
};

}  // namespace pgdc::state
