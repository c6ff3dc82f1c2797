/*
 * pgdog-control coordination plugin ABI.
 *
 * A coordination plugin decides which replica of pgdog-control leads. The host
 * (the pgdog-control daemon) loads the plugin as a shared object, calls the one
 * exported entry function, and talks to it only through the C structures in
 * this file. Nothing else crosses the boundary: no exceptions, no C++ types,
 * only fixed-width integers, {pointer, length} strings, opaque handles and
 * size-prefixed structs. Plugins built with any compiler or standard library
 * therefore work with any host of the same ABI major version.
 *
 * Versioning
 *   The host accepts a plugin when its abi_major equals the host's and its
 *   abi_minor is not newer than the host's. A minor version may only append
 *   fields to the size-prefixed structs below or append optional (nullable)
 *   function entries. Any other change is a new major version with a new
 *   entry symbol (pgdog_control_plugin_v2, ...).
 *
 * Threads
 *   The host calls create, start, stop and destroy from one thread, in that
 *   order, never concurrently. The plugin may call host services from any
 *   thread, at any time between start() being entered and stop() returning;
 *   never after stop() returns. Host services never call back into the plugin.
 *
 * Clock
 *   All times are nanoseconds on the host's monotonic clock, obtained from
 *   pgdc_host.monotonic_now_ns. Since ABI 1.2 that clock is CLOCK_BOOTTIME:
 *   monotonic, and counting the time the machine spends suspended
 *   (CLOCK_MONOTONIC stops during a suspend, so a leader resumed after its
 *   term ran out elsewhere would believe it still valid). A plugin that keeps
 *   its own deadlines must use the same clock (C++: pgdog_control/
 *   boot_clock.hpp). Wall-clock time must never decide leadership.
 *
 * The leadership contract
 *   What the plugin promises with every report (pgdc_leadership), what the
 *   host does with it, and what happens when they disagree:
 *   1. A plugin reports role LEADER only on the strength of its own
 *      successful conditional write (create-if-absent, compare-and-swap on
 *      the version it read), never because the backend happens to name this
 *      replica (a previous process may have used the same identity).
 *   2. A plugin that takes leadership whose earlier history it did not
 *      observe (it created the lease record, or took over a record whose
 *      previous holder it never saw expire or release) reports LEADER only
 *      once no earlier holder can still be valid: a full lease duration
 *      after it last saw (or could have missed) that holder.
 *   3. valid_until_ns is a time before which no other replica can acquire
 *      the leadership (for a lease: last renewal *sent* + renew deadline,
 *      which must be shorter than the lease duration).
 *   4. A report with the epoch (epoch_scope, epoch) of the term the host
 *      last accepted continues that term: the plugin asserts that nobody
 *      else held the leadership since the term began (its renewals were
 *      conditional writes on versions it wrote itself). The host accepts it
 *      even after it ended the term at its deadline (a renewal that reached
 *      the host late: a slow reply, a descheduled thread) and resumes the
 *      term. Any new term must carry a greater epoch in its scope.
 *   5. The host may refuse a report (an epoch that is not greater, a
 *      deadline already passed). It does not tell the plugin; it stays
 *      follower, and if the plugin keeps claiming refused leadership for
 *      longer than one lease interval, the host's /healthz fails, so the
 *      orchestrator restarts the replica rather than leaving a lease held
 *      by a replica that does not serve.
 *   6. When a report ends this replica's leadership, the host stops
 *      leader-only work before on_leadership returns (bounded by the host's
 *      stop-work timeout, which is shorter than lease duration - renew
 *      deadline). At shutdown the host asks for a release (stop(release=1))
 *      only if that work stopped in time.
 *   7. At stop(release=1), a plugin whose last write has an unknown outcome
 *      (cancelled, timed out) reads the record and releases it if it names
 *      this replica in a term this process wrote.
 */
#ifndef PGDOG_CONTROL_PLUGIN_H
#define PGDOG_CONTROL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGDC_ABI_MAJOR 1
#define PGDC_ABI_MINOR 2

/* "PGDC" in ASCII; the first field of every descriptor. */
#define PGDC_PLUGIN_MAGIC 0x43444750u

/* The one symbol a plugin exports for ABI major 1. */
#define PGDC_ENTRY_SYMBOL "pgdog_control_plugin_v1"

/* valid_until_ns value meaning "never expires" (single-replica backends). */
#define PGDC_NEVER INT64_MAX

/* A borrowed string: not NUL-terminated, valid only for the duration of the
 * call that passes it. Copy it to keep it. */
typedef struct pgdc_str {
  const char* data;
  size_t len;
} pgdc_str;

/* A caller-owned buffer the callee writes a NUL-terminated message into,
 * truncated to cap - 1 bytes. */
typedef struct pgdc_errbuf {
  char* buf;
  size_t cap;
} pgdc_errbuf;

typedef enum pgdc_status {
  PGDC_OK = 0,
  /* The configuration is invalid; the message says which key and why. */
  PGDC_ERR_CONFIG = 1,
  /* The plugin cannot run here (missing credentials, unreachable service). */
  PGDC_ERR_UNAVAILABLE = 2,
  /* A bug or an unexpected exception inside the plugin. */
  PGDC_ERR_INTERNAL = 3
} pgdc_status;

typedef enum pgdc_log_level {
  PGDC_LOG_DEBUG = 0,
  PGDC_LOG_INFO = 1,
  PGDC_LOG_WARN = 2,
  PGDC_LOG_ERROR = 3
} pgdc_log_level;

typedef enum pgdc_role { PGDC_ROLE_FOLLOWER = 0, PGDC_ROLE_LEADER = 1 } pgdc_role;

/*
 * One observation of leadership, reported by the plugin through
 * pgdc_host.on_leadership whenever the role, the holder, the epoch or the
 * validity deadline changes (a leader reports each successful renewal).
 *
 * Invariants the plugin guarantees (see "The leadership contract" above):
 *  - role == LEADER only while this replica holds the leadership, and
 *    valid_until_ns is a time before which no other replica can acquire it
 *    (for a lease: last renew *sent* + renew deadline).
 *  - (epoch_scope, epoch) identifies one leadership term. Within one scope,
 *    epochs of successive terms strictly increase. A new scope (for example a
 *    Lease that was deleted and created again) starts a new sequence.
 *  - A follower reports the holder it last confirmed by a read, or an empty
 *    holder when it has none (for example right after its own term ended:
 *    it must not name itself before reading the record again).
 */
typedef struct pgdc_leadership {
  uint32_t size;          /* sizeof(pgdc_leadership) as the plugin was built */
  uint32_t role;          /* pgdc_role */
  pgdc_str holder;        /* identity of the current holder; empty if none known */
  pgdc_str epoch_scope;   /* opaque, e.g. a Lease UID; may be empty */
  uint64_t epoch;         /* term number within epoch_scope; 0 when not leading */
  int64_t valid_until_ns; /* monotonic deadline of this leadership, or PGDC_NEVER */
  /* ABI 1.1: where clients reach the holder ("host:port", the holder's
   * advertise_address); empty when unknown. Hosts read it only when size
   * covers it, so 1.0 plugins keep working. */
  pgdc_str holder_address;
} pgdc_leadership;

typedef enum pgdc_metric_kind {
  PGDC_METRIC_COUNTER = 0,
  PGDC_METRIC_GAUGE = 1,
  PGDC_METRIC_HISTOGRAM = 2
} pgdc_metric_kind;

typedef enum pgdc_metric_op {
  PGDC_METRIC_ADD = 0,    /* counter, gauge */
  PGDC_METRIC_SET = 1,    /* gauge */
  PGDC_METRIC_OBSERVE = 2 /* histogram */
} pgdc_metric_op;

/*
 * Services the host offers the plugin. Every function is thread-safe and
 * never blocks for long. ctx is passed back unchanged.
 */
typedef struct pgdc_host {
  uint32_t size; /* sizeof(pgdc_host) as the host was built */
  uint16_t abi_major;
  uint16_t abi_minor;
  void* ctx;

  /* Required. Log one line. The host adds time, level and plugin name.
   * Never pass secrets (tokens, keys, passwords). */
  void (*log)(void* ctx, uint32_t level, pgdc_str message);

  /* Required. Nanoseconds on the host's monotonic clock (CLOCK_BOOTTIME
   * since ABI 1.2; see Clock above). */
  int64_t (*monotonic_now_ns)(void* ctx);

  /* Required. Report a leadership observation. The host copies what it needs
   * before returning. When a report ends this replica's leadership, the host
   * stops all leader-only work before this call returns (contract item 6),
   * so a plugin may release the leadership as soon as the call returns.
   * Returns nothing: a refused report is handled as contract item 5 says. */
  void (*on_leadership)(void* ctx, const pgdc_leadership* leadership);

  /* Required. Report that the election loop made progress (one iteration
   * finished, whatever its outcome). A plugin that has called this once is
   * considered wedged by /healthz when it stops calling it for longer than
   * the host's progress timeout. Plugins without a loop never call it. */
  void (*report_progress)(void* ctx);

  /* Required. Define a metric series and return its handle (>= 0), or -1 if
   * the name, labels or kind are invalid. The same name, kind and labels
   * return the same handle. name: Prometheus metric name, prefixed by the
   * host with "pgdog_control_"; labels_json: a flat JSON object of string
   * values, e.g. {"verb":"GET","code":"200"}, or empty; buckets: histogram
   * upper bounds in increasing order (NULL/0 for the host's defaults). */
  int64_t (*metric_define)(void* ctx, uint32_t kind, pgdc_str name, pgdc_str help,
                           pgdc_str labels_json, const double* buckets, size_t bucket_count);

  /* Required. Apply op (pgdc_metric_op) with value to a defined metric.
   * Unknown handles and ops that do not fit the kind are ignored. */
  void (*metric_record)(void* ctx, int64_t handle, uint32_t op, double value);
} pgdc_host;

/* An instance of a plugin's backend; opaque to the host. */
typedef struct pgdc_instance pgdc_instance;

/*
 * The plugin's function table. All entries are required in ABI 1.0 unless
 * marked optional. No function may throw or longjmp across the boundary.
 */
typedef struct pgdc_vtable {
  uint32_t size; /* sizeof(pgdc_vtable) as the plugin was built */

  /*
   * Create an instance. host stays valid until destroy() returns.
   * config_json is an object with the daemon's leader settings:
   *   identity (string), lease_name (string), namespace (string),
   *   lease_duration_ms, renew_deadline_ms, lease_interval_ms,
   *   release_timeout_ms (integers), advertise_address (string),
   *   options (object: the backend's own settings, from leader.options).
   * Must not start any thread or I/O that calls host services; start() does.
   * Returns PGDC_OK and sets *out, or an error status with a message in err.
   */
  int32_t (*create)(const pgdc_host* host, pgdc_str config_json, pgdc_instance** out,
                    pgdc_errbuf err);

  /* Begin campaigning; must not block on the network. The plugin reports
   * its first observation through on_leadership as soon as it has one. */
  int32_t (*start)(pgdc_instance* instance, pgdc_errbuf err);

  /*
   * Stop campaigning and return no later than deadline_ns. When release is
   * non-zero and this replica leads (or its last write's outcome is
   * unknown), give the leadership up so another replica can take it at
   * once (only if a fresh read shows this replica still holds it). The host
   * has already stopped leader-only work; release is zero when that work did
   * not stop in time, and then the plugin must leave the leadership to
   * expire. After stop() returns the plugin makes no further host calls.
   * Returns PGDC_OK when stopped cleanly (and released if asked and held).
   */
  int32_t (*stop)(pgdc_instance* instance, int32_t release, int64_t deadline_ns, pgdc_errbuf err);

  /* Free the instance. Called once, after stop() returned (or after a
   * failed start()). */
  void (*destroy)(pgdc_instance* instance);
} pgdc_vtable;

/* What the entry symbol returns. Static storage: valid while loaded. */
typedef struct pgdc_plugin_descriptor {
  uint32_t magic;          /* PGDC_PLUGIN_MAGIC */
  uint32_t size;           /* sizeof(pgdc_plugin_descriptor) as the plugin was built */
  uint16_t abi_major;      /* PGDC_ABI_MAJOR the plugin was built against */
  uint16_t abi_minor;      /* PGDC_ABI_MINOR the plugin was built against */
  const char* name;        /* short name, [a-z0-9-]+, e.g. "kubernetes" */
  const char* version;     /* the plugin's own version, e.g. "1.2.0" */
  const char* description; /* one line for humans */
  const pgdc_vtable* vtable;
} pgdc_plugin_descriptor;

/* The entry point's type. Exported with C linkage and default visibility as
 * PGDC_ENTRY_SYMBOL; the only symbol a plugin exports. */
typedef const pgdc_plugin_descriptor* (*pgdc_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PGDOG_CONTROL_PLUGIN_H */
