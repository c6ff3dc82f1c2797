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
 *   entry symbol (pgdog_control_plugin_v2, ...). The SDK's CMake package
 *   (PgDogControlSdk) is versioned <ABI major>.<ABI minor>.<SDK revision>.
 *
 * Call order
 *   The host calls create, start, stop and destroy from one thread, each at
 *   most once, never concurrently, in one of these sequences:
 *     create -> start -> stop -> destroy   a run
 *     create -> destroy                    never started: `pgdog-control
 *                                          --check` validates the config
 *                                          this way, and so does a daemon
 *                                          that cannot listen on its port
 *     create -> start (fails) -> destroy   no stop() after a failed start()
 *     create (fails)                       nothing more; destroy() is not
 *                                          called, so create() frees all
 *   Every function returns promptly: none waits on the network without a
 *   deadline (start() and create() not at all, stop() until deadline_ns).
 *
 * When the plugin may call the host
 *   - During create(), on the calling thread: log, monotonic_now_ns,
 *     metric_define, metric_record (to say what was configured and to define
 *     metrics). Not on_leadership or report_progress: nothing campaigns yet.
 *   - From the moment start() is entered until stop() returns: every host
 *     service, from any thread.
 *   - Never after stop() returns, never after a failed start() returns (its
 *     threads are stopped before it does), never during destroy(), and never
 *     from a thread create() started (create starts no thread that calls the
 *     host; start() does).
 *   The host keeps the pgdc_host table valid until destroy() returns. Host
 *   services never call back into the plugin.
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
 *
 * The state store (ABI 1.3, optional)
 *   A plugin may also keep the host's control state (the node registry and
 *   the command log) in its backend, so that a new leader resumes what the
 *   last one accepted. It offers two functions, state_read and state_write
 *   (pgdc_vtable); a plugin without them leaves both NULL (or is older than
 *   1.3), and the host then keeps control state in memory only and says so.
 *   - An object is a key and an opaque value with a version. The store
 *     assigns a new version on every successful write; versions are opaque
 *     strings the host compares for equality only.
 *   - state_write is a compare-and-swap performed by the store itself: it
 *     writes only if the object's current version equals expected_version
 *     (an empty expected_version: only if the object does not exist), in one
 *     atomic step of the backend (a Kubernetes resourceVersion precondition,
 *     a database transaction). Otherwise it writes nothing and returns
 *     PGDC_ERR_CONFLICT. This is the fence: the host claims each object with
 *     a write at the start of every term, so a deposed leader's later write,
 *     made against a version it read before, is refused by the store even
 *     when that leader does not yet know it was deposed.
 *   - Keys: 1 to 63 characters of [a-z0-9-], starting and ending with a
 *     letter or digit. Values: at most PGDC_STATE_MAX_VALUE bytes (UTF-8
 *     JSON from this host); a plugin accepts every value up to that size.
 *   - The host calls both functions only between start() and stop(), from
 *     its own threads, possibly concurrently for different keys, never
 *     concurrently for the same key. Each returns by deadline_ns.
 *
 * Members and handover (ABI 1.4, optional)
 *   Operators see every replica, and move leadership on purpose (before
 *   maintenance, or to an updated replica during a rolling upgrade). Three
 *   optional functions (pgdc_vtable), each usable without the others:
 *   - member_publish: the host tells the plugin what to publish about this
 *     replica (pgdc_member: version, address, eligible). The plugin keeps
 *     publishing it as a heartbeat in its backend, one object per replica,
 *     until stop(); a clean stop() withdraws it. Called after start() and
 *     whenever something in it changes; returns at once (the write is
 *     asynchronous). A replica published as not eligible does not take the
 *     leadership (it may keep a term it holds; the host moves it first).
 *   - members_list: every replica the backend knows, this one included,
 *     with the age of its heartbeat as this replica judges it and whether
 *     that heartbeat is older than the backend's time to live ("stale": the
 *     replica is presumed gone). Returns by deadline_ns.
 *   - transfer: a voluntary handover from this replica, the leader, to the
 *     member `to`. The plugin (1) refuses with PGDC_ERR_CONFLICT when it
 *     does not hold a term it is acting in; (2) reports FOLLOWER through
 *     on_leadership, so the host stops leader-only work before the handover
 *     (contract item 6); (3) in one conditional write on its own term gives
 *     the leadership up in favour of `to`: `to` may take it at once, every
 *     other replica waits a full lease duration first (for a Lease: a
 *     release carrying spec.preferredHolder); (4) returns PGDC_OK once that
 *     write succeeded. The target then takes the leadership with its own
 *     conditional write and a greater epoch, as after any release; nothing
 *     about the never-two contract changes. When the handover write
 *     definitely did not happen, the plugin may lead again, but only in a
 *     new term with a greater epoch (the host refuses a repeated epoch
 *     after a FOLLOWER report), and returns an error saying why; when its
 *     outcome is unknown at deadline_ns it returns PGDC_ERR_UNAVAILABLE and
 *     does not lead in that term again. The host calls transfer only between
 *     start() and stop(), never concurrently with stop() or another
 *     transfer, and has checked that `to` is a member, not this replica,
 *     eligible and not stale; the plugin checks what its backend knows.
 */
#ifndef PGDOG_CONTROL_PLUGIN_H
#define PGDOG_CONTROL_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGDC_ABI_MAJOR 1
#define PGDC_ABI_MINOR 4

/* "PGDC" in ASCII; the first field of every descriptor. */
#define PGDC_PLUGIN_MAGIC 0x43444750u

/* The one symbol a plugin exports for ABI major 1. */
#define PGDC_ENTRY_SYMBOL "pgdog_control_plugin_v1"

/* valid_until_ns value meaning "never expires" (single-replica backends). */
#define PGDC_NEVER INT64_MAX

/* ABI 1.3: the largest state value a plugin must store (768 KiB: under
 * etcd's default request limit of 1.5 MiB with room for the object's
 * metadata and encoding). */
#define PGDC_STATE_MAX_VALUE 786432u

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
  PGDC_ERR_INTERNAL = 3,
  /* ABI 1.3, state_write: the precondition failed (the object's version
   * is no longer the expected one, it exists when absence was expected, or
   * it no longer exists). Nothing was written. ABI 1.4, transfer: not
   * leading, or the backend refused the target; nothing was handed over. */
  PGDC_ERR_CONFLICT = 4
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
 * validity deadline changes (a leader reports each successful renewal; a
 * follower may repeat an unchanged report, the host does not mind).
 *
 * A leader report (role LEADER); see "The leadership contract" above:
 *  - only while this replica holds the leadership; valid_until_ns is a time
 *    before which no other replica can acquire it (for a lease: last renew
 *    *sent* + renew deadline), or PGDC_NEVER.
 *  - (epoch_scope, epoch) identifies the term, epoch >= 1. Within one scope,
 *    epochs of successive terms strictly increase. A new scope (for example a
 *    Lease that was deleted and created again) starts a new sequence.
 *  - holder is this replica's identity; holder_address its own
 *    advertise_address (from the config JSON).
 *
 * A follower report (role FOLLOWER):
 *  - holder: the holder this replica last confirmed by a read, or empty when
 *    there is none or it does not know (right after its own term ended it
 *    must not name itself before reading the record again).
 *  - holder_address: where that holder serves, when the backend knows it
 *    (the holder published it, or it is configured); empty otherwise, and
 *    always empty when holder is. Never a guess: followers answer clients
 *    with it (HTTP 503 naming the leader, or forwarding to it).
 *  - epoch_scope: the scope of the record last read, or empty.
 *  - epoch: 0, and valid_until_ns: 0. A follower holds no term; the host
 *    ignores both for fencing.
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

  /* Required. Define a metric series (kind: pgdc_metric_kind) and return its
   * handle (>= 0), or -1 when the host refuses it; the host then logs one
   * warning saying why, and updates of -1 are ignored. The same name, kind
   * and labels return the same handle. A series lives until the process
   * exits, so label values must come from a small fixed set (never IDs).
   *   name: the host prefixes "pgdog_control_". At most 200 characters of
   *     [a-zA-Z0-9_] not starting with a digit, snake_case, and lint-clean
   *     as `promtool check metrics` sees it: a counter ends in "_total" and
   *     nothing else does; only histograms may end in _count/_sum/_bucket
   *     (and a histogram's own name must not); no type names ("_gauge_");
   *     base units ("_seconds", "_bytes"), no abbreviations ("_ms").
   *     Names the core uses are refused.
   *   help: UTF-8; empty gets a generic text.
   *   labels_json: empty, or a flat JSON object of string values, e.g.
   *     {"verb":"GET","code":"200"}: at most 16 labels, names
   *     [a-zA-Z_][a-zA-Z0-9_]*, snake_case, not starting with "__", not "le"
   *     or "quantile"; values at most 1024 bytes.
   *   buckets: histogram upper bounds, finite and strictly increasing, at
   *     most 64 (NULL/0: the Prometheus defaults, 0.005 to 10).
   * One name keeps its first kind, label names and buckets; a define that
   * differs is refused. All plugin series together: at most 10000. */
  int64_t (*metric_define)(void* ctx, uint32_t kind, pgdc_str name, pgdc_str help,
                           pgdc_str labels_json, const double* buckets, size_t bucket_count);

  /* Required. Apply op (pgdc_metric_op) with value to a defined metric.
   * Ignored: unknown handles, ops that do not fit the kind (ADD on a
   * counter or gauge, SET on a gauge, OBSERVE on a histogram), a counter
   * ADD that is negative or not finite, a gauge ADD or histogram OBSERVE
   * that is not finite. */
  void (*metric_record)(void* ctx, int64_t handle, uint32_t op, double value);
} pgdc_host;

/* An instance of a plugin's backend; opaque to the host. */
typedef struct pgdc_instance pgdc_instance;

/* ABI 1.3: receives one state object (state_read) or the version a write
 * created (state_write: value is empty). Both strings are borrowed for the
 * duration of the call. */
typedef void (*pgdc_state_sink)(void* sink_ctx, pgdc_str value, pgdc_str version);

/*
 * ABI 1.4: one replica as published through member_publish and read back by
 * members_list (see "Members and handover"). Strings are borrowed for the
 * duration of the call. A reader uses only the fields its size covers.
 */
typedef struct pgdc_member {
  uint32_t size;     /* sizeof(pgdc_member) as its writer was built */
  uint32_t eligible; /* 1: may take the leadership; 0: will not (shutting down, fenced) */
  pgdc_str identity; /* the replica's identity (leader.identity; the holder name) */
  pgdc_str address;  /* "host:port" where it serves (advertise_address); may be empty */
  pgdc_str version;  /* the pgdog-control version it runs, e.g. "0.9.0" */
  pgdc_str backend;  /* "<plugin name> <plugin version>", e.g. "kubernetes 1.4.0" */
  /* members_list: milliseconds since its last heartbeat as this replica
   * judges it, -1 when unknown. member_publish: 0. */
  int64_t heartbeat_age_ms;
  /* members_list: 1 when that heartbeat is older than the backend's time to
   * live (the replica is presumed gone). member_publish: 0. */
  uint32_t stale;
  uint32_t reserved; /* 0 */
} pgdc_member;

/* ABI 1.4: receives one member (members_list), borrowed for the call. */
typedef void (*pgdc_member_sink)(void* sink_ctx, const pgdc_member* member);

/*
 * The plugin's function table. All entries are required unless marked
 * optional. No function may throw or longjmp across the boundary.
 */
typedef struct pgdc_vtable {
  uint32_t size; /* sizeof(pgdc_vtable) as the plugin was built */

  /*
   * Create an instance: parse and validate the configuration, prepare, but
   * do not campaign. host stays valid until destroy() returns; see "When the
   * plugin may call the host" for what create() may call.
   * config_json is a JSON object (UTF-8) with the daemon's leader settings:
   *   identity (string, not empty)     this replica, the holder name
   *   lease_name, namespace (strings)  the election's name and namespace
   *   lease_duration_ms, renew_deadline_ms, lease_interval_ms,
   *   release_timeout_ms (integers)    the timings (leader.*_secs)
   *   advertise_address (string)       "host:port" where this replica serves
   *   options (object)                 the backend's own settings: the
   *                                    user's leader.options, as written
   * Keys: a plugin must ignore top-level keys it does not know (a later
   * host may add some in a minor version). Inside options the plugin
   * decides; it should reject a key it does not know with PGDC_ERR_CONFIG
   * naming it (options.<key>), so a typo fails `pgdog-control --check`
   * instead of silently taking a default. A plugin that takes no options
   * ignores them (noop: leader.options may hold another backend's).
   * Returns PGDC_OK and sets *out, or an error status with one line in err
   * naming the key and the rule, e.g. "options.lock_file must be a
   * non-empty string".
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
   * expire. After stop() returns the plugin makes no further host calls,
   * whatever it returns.
   * Returns:
   *   PGDC_OK  stopped; and when release was asked: released, or there was
   *            nothing to release (this replica held nothing, or a fresh
   *            read showed another holder). A follower returns PGDC_OK.
   *   an error status (PGDC_ERR_UNAVAILABLE: the store did not answer in
   *            time; PGDC_ERR_INTERNAL: a bug) with one line in err, when a
   *            release that was asked for did not happen or may not have
   *            (the write failed or timed out, or no time was left before
   *            deadline_ns). The leadership then expires by itself. The
   *            host logs the message as a warning and shuts down as usual
   *            (its exit status does not change).
   */
  int32_t (*stop)(pgdc_instance* instance, int32_t release, int64_t deadline_ns, pgdc_errbuf err);

  /* Free the instance. Called once: after stop() returned, after a failed
   * start(), or after create() for an instance never started (see "Call
   * order"; such an instance has no thread and holds nothing, so destroy()
   * only frees). Makes no host call. */
  void (*destroy)(pgdc_instance* instance);

  /*
   * ABI 1.3, optional (NULL, or a table whose size does not cover them: the
   * plugin keeps no state). See "The state store" above. Hosts read these
   * only when size covers them.
   *
   * state_read: read the object `key`. PGDC_OK after calling sink once with
   * its value and version when it exists, PGDC_OK without calling sink when
   * it does not; PGDC_ERR_UNAVAILABLE (with a message) when the store did
   * not answer by deadline_ns or failed.
   *
   * state_write: write `value` under `key` if the object's version equals
   * expected_version (empty: if it does not exist). PGDC_OK after calling
   * sink with an empty value and the new version; PGDC_ERR_CONFLICT when
   * the precondition failed (nothing written); PGDC_ERR_UNAVAILABLE when
   * the store refused or did not answer by deadline_ns (the write may or
   * may not have happened: the host reads the object before it writes it
   * again); PGDC_ERR_CONFIG when the value is too large or the key invalid.
   */
  int32_t (*state_read)(pgdc_instance* instance, pgdc_str key, pgdc_state_sink sink, void* sink_ctx,
                        int64_t deadline_ns, pgdc_errbuf err);
  int32_t (*state_write)(pgdc_instance* instance, pgdc_str key, pgdc_str value,
                         pgdc_str expected_version, pgdc_state_sink sink, void* sink_ctx,
                         int64_t deadline_ns, pgdc_errbuf err);

  /*
   * ABI 1.4, optional, each on its own (NULL, or beyond size: not offered).
   * See "Members and handover" above.
   *
   * member_publish: publish `self` (its identity and address are this
   * replica's) as this replica's heartbeat from now on. Returns at once:
   * PGDC_OK, or PGDC_ERR_CONFIG for a member the backend cannot hold.
   *
   * members_list: call sink once per known member (this replica included
   * once it has published), then return PGDC_OK; PGDC_ERR_UNAVAILABLE with a
   * message when the backend did not answer by deadline_ns.
   *
   * transfer: hand the leadership to `to`. PGDC_OK: the handover write
   * succeeded. PGDC_ERR_CONFLICT: not leading, or the backend refused `to`
   * (the message says why); nothing was handed over. PGDC_ERR_UNAVAILABLE:
   * failed or unknown by deadline_ns.
   */
  int32_t (*member_publish)(pgdc_instance* instance, const pgdc_member* self, pgdc_errbuf err);
  int32_t (*members_list)(pgdc_instance* instance, pgdc_member_sink sink, void* sink_ctx,
                          int64_t deadline_ns, pgdc_errbuf err);
  int32_t (*transfer)(pgdc_instance* instance, pgdc_str to, int64_t deadline_ns, pgdc_errbuf err);
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
 * PGDC_ENTRY_SYMBOL; the only symbol a plugin exports. In C:
 *   PGDC_VISIBLE const pgdc_plugin_descriptor* pgdog_control_plugin_v1(void);
 * (C++: the PGDC_PLUGIN macro of plugin.hpp emits it.) */
typedef const pgdc_plugin_descriptor* (*pgdc_entry_fn)(void);

/* Default visibility, for the entry point of a plugin built with hidden
 * visibility (pgdog_control_add_plugin does that). */
#if defined(__GNUC__) || defined(__clang__)
#define PGDC_VISIBLE __attribute__((visibility("default")))
#else
#define PGDC_VISIBLE
#endif

/*
 * Layout pins: the offsets and sizes every ABI 1 plugin and host on x86_64
 * (LP64, System V) agree on, checked wherever this header is compiled (C11,
 * C++11 or newer). A plugin built before a change here would be misread:
 * only appending to a size-prefixed struct in a minor version is allowed,
 * and then only that struct's size pin changes. Other targets are not
 * pinned (their natural alignment gives the same layout on LP64).
 */
#if defined(__x86_64__) && defined(__LP64__)
#if defined(__cplusplus) && __cplusplus >= 201103L
#define PGDC_PIN(expr) static_assert(expr, "plugin ABI layout: " #expr)
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define PGDC_PIN(expr) _Static_assert(expr, "plugin ABI layout: " #expr)
#endif
#endif
#ifdef PGDC_PIN
PGDC_PIN(sizeof(pgdc_str) == 16);
PGDC_PIN(offsetof(pgdc_str, data) == 0);
PGDC_PIN(offsetof(pgdc_str, len) == 8);

PGDC_PIN(sizeof(pgdc_errbuf) == 16);
PGDC_PIN(offsetof(pgdc_errbuf, buf) == 0);
PGDC_PIN(offsetof(pgdc_errbuf, cap) == 8);

PGDC_PIN(sizeof(pgdc_leadership) == 72); /* 1.0: 56; 1.1 appended holder_address */
PGDC_PIN(offsetof(pgdc_leadership, size) == 0);
PGDC_PIN(offsetof(pgdc_leadership, role) == 4);
PGDC_PIN(offsetof(pgdc_leadership, holder) == 8);
PGDC_PIN(offsetof(pgdc_leadership, epoch_scope) == 24);
PGDC_PIN(offsetof(pgdc_leadership, epoch) == 40);
PGDC_PIN(offsetof(pgdc_leadership, valid_until_ns) == 48);
PGDC_PIN(offsetof(pgdc_leadership, holder_address) == 56);

PGDC_PIN(sizeof(pgdc_host) == 64);
PGDC_PIN(offsetof(pgdc_host, size) == 0);
PGDC_PIN(offsetof(pgdc_host, abi_major) == 4);
PGDC_PIN(offsetof(pgdc_host, abi_minor) == 6);
PGDC_PIN(offsetof(pgdc_host, ctx) == 8);
PGDC_PIN(offsetof(pgdc_host, log) == 16);
PGDC_PIN(offsetof(pgdc_host, monotonic_now_ns) == 24);
PGDC_PIN(offsetof(pgdc_host, on_leadership) == 32);
PGDC_PIN(offsetof(pgdc_host, report_progress) == 40);
PGDC_PIN(offsetof(pgdc_host, metric_define) == 48);
PGDC_PIN(offsetof(pgdc_host, metric_record) == 56);

PGDC_PIN(sizeof(pgdc_vtable) == 80); /* 1.2: 40; 1.3: 56 (state_read, state_write);
                                        1.4 appended member_publish, members_list, transfer */
PGDC_PIN(offsetof(pgdc_vtable, size) == 0);
PGDC_PIN(offsetof(pgdc_vtable, create) == 8);
PGDC_PIN(offsetof(pgdc_vtable, start) == 16);
PGDC_PIN(offsetof(pgdc_vtable, stop) == 24);
PGDC_PIN(offsetof(pgdc_vtable, destroy) == 32);
PGDC_PIN(offsetof(pgdc_vtable, state_read) == 40);
PGDC_PIN(offsetof(pgdc_vtable, state_write) == 48);
PGDC_PIN(offsetof(pgdc_vtable, member_publish) == 56);
PGDC_PIN(offsetof(pgdc_vtable, members_list) == 64);
PGDC_PIN(offsetof(pgdc_vtable, transfer) == 72);

PGDC_PIN(sizeof(pgdc_member) == 88);
PGDC_PIN(offsetof(pgdc_member, size) == 0);
PGDC_PIN(offsetof(pgdc_member, eligible) == 4);
PGDC_PIN(offsetof(pgdc_member, identity) == 8);
PGDC_PIN(offsetof(pgdc_member, address) == 24);
PGDC_PIN(offsetof(pgdc_member, version) == 40);
PGDC_PIN(offsetof(pgdc_member, backend) == 56);
PGDC_PIN(offsetof(pgdc_member, heartbeat_age_ms) == 72);
PGDC_PIN(offsetof(pgdc_member, stale) == 80);
PGDC_PIN(offsetof(pgdc_member, reserved) == 84);

PGDC_PIN(sizeof(pgdc_plugin_descriptor) == 48);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, magic) == 0);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, size) == 4);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, abi_major) == 8);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, abi_minor) == 10);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, name) == 16);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, version) == 24);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, description) == 32);
PGDC_PIN(offsetof(pgdc_plugin_descriptor, vtable) == 40);
#undef PGDC_PIN
#endif

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* PGDOG_CONTROL_PLUGIN_H */
