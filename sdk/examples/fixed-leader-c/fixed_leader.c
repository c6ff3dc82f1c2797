/* example-fixed-leader: a coordination plugin in C11, using nothing but the
 * C ABI in pgdog_control/plugin.h (no C++ helpers, no libraries).
 *
 * The leader is named in the configuration: the replica whose identity is
 * options.leader leads, for as long as it runs; every other replica follows
 * and reports that leader (and options.leader_address, where it serves).
 * There is no store and no failover: this suits a primary and standbys
 * switched by hand. Like noop, leadership here comes from configuration,
 * not from a conditional write (plugin.h, contract item 1), so it is only as
 * safe as the configuration: give exactly one replica the leader's identity.
 *
 * Terms: the scope is "fixed:<leader>" and the one term in it has epoch 1.
 * Nobody else can ever hold the leadership in that scope, so that term
 * never breaks (contract item 4); naming another leader starts a new scope.
 *
 *   leader.backend: /path/to/example-fixed-leader.so
 *   leader.options: {leader: pgdog-control-0, leader_address: "10.0.0.5:8080"}
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <pgdog_control/plugin.h>

#include "config_json.h"

#define NAME "example-fixed-leader"
#define FIELD_CAP 256 /* identities and addresses: at most 255 bytes */

/* The instance plugin.h keeps opaque: defined here, by the plugin. */
struct pgdc_instance {
  const pgdc_host* host;
  char identity[FIELD_CAP];       /* this replica */
  char address[FIELD_CAP];        /* its advertise_address; may be empty */
  char leader[FIELD_CAP];         /* options.leader */
  char leader_address[FIELD_CAP]; /* options.leader_address; may be empty */
  char scope[FIELD_CAP + 8];      /* "fixed:<leader>" */
};

static pgdc_str str(const char* s) {
  pgdc_str out = {s, strlen(s)};
  return out;
}

/* Writes a one-line message into err (truncated, always NUL-terminated). */
static void fail(pgdc_errbuf err, const char* format, ...) {
  if (err.buf == NULL || err.cap == 0) return;
  va_list args;
  va_start(args, format);
  vsnprintf(err.buf, err.cap, format, args);
  va_end(args);
}

/* Reads member `key` of `object` as a string into out. Returns 1 when read,
 * 0 when absent and optional; writes the error and returns -1 otherwise. */
static int read_string(pgdc_str object, const char* key, const char* where, int required,
                       char out[FIELD_CAP], pgdc_errbuf err) {
  pgdc_str value;
  out[0] = '\0';
  if (!cj_member(object, key, &value)) {
    if (!required) return 0;
    fail(err, NAME ": %s%s is required (a non-empty string)", where, key);
    return -1;
  }
  if (!cj_string(value, out, FIELD_CAP) || (required && out[0] == '\0')) {
    fail(err, NAME ": %s%s must be a %sstring of at most %d bytes", where, key,
         required ? "non-empty " : "", FIELD_CAP - 1);
    return -1;
  }
  return 1;
}

/* options: only the keys this plugin knows, so a typo fails `--check`. */
static int check_option_keys(pgdc_str options, pgdc_errbuf err) {
  size_t cursor = 0;
  pgdc_str key;
  pgdc_str value;
  char name[FIELD_CAP];
  while (cj_next(options, &cursor, &key, &value)) {
    if (!cj_string(key, name, sizeof name)) strcpy(name, "(a long key)");
    if (strcmp(name, "leader") != 0 && strcmp(name, "leader_address") != 0) {
      fail(err, NAME ": options.%s: unknown option; known options: leader, leader_address", name);
      return 0;
    }
  }
  return 1;
}

static int32_t fl_create(const pgdc_host* host, pgdc_str config, pgdc_instance** out,
                         pgdc_errbuf err) {
  struct pgdc_instance c;
  pgdc_str options;
  memset(&c, 0, sizeof c);
  c.host = host;
  if (!cj_valid(config) || !cj_is_object(config)) {
    fail(err, NAME ": the host config is not a JSON object");
    return PGDC_ERR_CONFIG;
  }
  /* Top-level keys this plugin does not read are ignored: a later host
   * may add some (plugin.h, pgdc_vtable.create). */
  if (read_string(config, "identity", "", 1, c.identity, err) < 0 ||
      read_string(config, "advertise_address", "", 0, c.address, err) < 0) {
    return PGDC_ERR_CONFIG;
  }
  if (!cj_member(config, "options", &options) || !cj_is_object(options)) {
    fail(err, NAME ": options must be a map with leader (leader.options)");
    return PGDC_ERR_CONFIG;
  }
  if (!check_option_keys(options, err) ||
      read_string(options, "leader", "options.", 1, c.leader, err) < 0 ||
      read_string(options, "leader_address", "options.", 0, c.leader_address, err) < 0) {
    return PGDC_ERR_CONFIG;
  }
  snprintf(c.scope, sizeof c.scope, "fixed:%s", c.leader);

  pgdc_instance* instance = malloc(sizeof *instance);
  if (instance == NULL) {
    fail(err, NAME ": out of memory");
    return PGDC_ERR_INTERNAL;
  }
  *instance = c;
  /* create() may log (on this thread): say what was configured. */
  char line[3 * FIELD_CAP];
  snprintf(line, sizeof line, NAME ": the leader is \"%s\"; this replica (\"%s\") %s", c.leader,
           c.identity, strcmp(c.leader, c.identity) == 0 ? "leads" : "follows");
  host->log(host->ctx, PGDC_LOG_INFO, str(line));
  *out = instance;
  return PGDC_OK;
}

/* Reports at once: this replica leads forever, or follows the leader. */
static int32_t fl_start(pgdc_instance* self, pgdc_errbuf err) {
  (void)err;
  pgdc_leadership l;
  memset(&l, 0, sizeof l);
  l.size = sizeof l;
  l.epoch_scope = str(self->scope);
  if (strcmp(self->leader, self->identity) == 0) {
    l.role = PGDC_ROLE_LEADER;
    l.holder = str(self->identity);
    l.holder_address = str(self->address); /* a leader reports its own */
    l.epoch = 1;
    l.valid_until_ns = PGDC_NEVER;
  } else {
    l.role = PGDC_ROLE_FOLLOWER;
    l.holder = str(self->leader);
    l.holder_address = str(self->leader_address); /* empty when not configured */
    l.epoch = 0;                                  /* a follower holds no term */
    l.valid_until_ns = 0;
  }
  self->host->on_leadership(self->host->ctx, &l);
  return PGDC_OK;
}

/* Nothing is held outside this process, so there is nothing to release:
 * PGDC_OK whether or not release was asked. No host call after this. */
static int32_t fl_stop(pgdc_instance* self, int32_t release, int64_t deadline_ns, pgdc_errbuf err) {
  (void)self;
  (void)release;
  (void)deadline_ns;
  (void)err;
  return PGDC_OK;
}

static void fl_destroy(pgdc_instance* self) { free(self); }

static const pgdc_vtable kVtable = {
    .size = sizeof(pgdc_vtable),
    .create = fl_create,
    .start = fl_start,
    .stop = fl_stop,
    .destroy = fl_destroy,
};

static const pgdc_plugin_descriptor kDescriptor = {
    .magic = PGDC_PLUGIN_MAGIC,
    .size = sizeof(pgdc_plugin_descriptor),
    .abi_major = PGDC_ABI_MAJOR,
    .abi_minor = PGDC_ABI_MINOR,
    .name = NAME,
    .version = "1.0.0",
    .description = "Example in C: the leader is named in the configuration",
    .vtable = &kVtable,
};

/* The one exported symbol (PGDC_ENTRY_SYMBOL). */
PGDC_VISIBLE const pgdc_plugin_descriptor* pgdog_control_plugin_v1(void);
PGDC_VISIBLE const pgdc_plugin_descriptor* pgdog_control_plugin_v1(void) { return &kDescriptor; }
