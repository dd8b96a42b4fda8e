/* intent.h: durable intent records (SPEC §4): deterministic ids, the
 * lifecycle state machine, per-intent transition history, the archive
 * (terminal intents are kept, never deleted), idempotency keys, deadlines
 * and retry backoff.  The lifecycle diagram and its transition table are at
 * the top of intent_lifecycle.c.
 *
 * Storage is fixed at creation from the scenario's capacities: the record
 * pool, the history pool and each intent's expression frame are allocated
 * once, so creating, transitioning and archiving intents on the tick never
 * allocates.  An intent's id is "i-" followed by its zero-padded sequence
 * number; a map finds its record by sequence number.  When every record is
 * in use, the record of the intent that became terminal first is reused:
 * that intent has been reported (telemetry, and the store when there is
 * one) and leaves memory, counted in n_evicted.  An active intent is never
 * displaced: with every record active, creation fails with ITD_EFULL. */
#ifndef ITD_INTENT_H
#define ITD_INTENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <pthread.h>

#include "core/core.h"
#include "expr/expr.h"
#include "scenario/scenario.h"

enum itd_status {
	ITD_ST_RECEIVED = 0,      /* accepted, not yet queued */
	ITD_ST_QUEUED,            /* waiting to be selected */
	ITD_ST_BLOCKED,           /* selected and blocked by a safety rule; still active */
	ITD_ST_AUTHORIZED,        /* passed the gate this tick */
	ITD_ST_EXECUTING,         /* its effect is being applied this tick */
	ITD_ST_BACKOFF,           /* failed; waiting for its retry tick */
	ITD_ST_AWAITING_APPROVAL, /* needs a human decision */
	ITD_ST_COMPLETED,         /* terminal: completion condition met */
	ITD_ST_FAILED,            /* terminal: failed with no retry left */
	ITD_ST_CANCELLED,         /* terminal: cancelled */
	ITD_ST_EXPIRED,           /* terminal: deadline passed */
	ITD_ST_DENIED,            /* terminal: approval denied */
	ITD_ST_COUNT
};

/* Lower-case name as in telemetry and the API ("queued"); "?" if invalid. */
const char *itd_status_name(enum itd_status s);
/* Parse a status name; -1 if unknown. */
int itd_status_parse(const char *name);
/* True for completed, failed, cancelled, expired and denied. */
bool itd_status_terminal(enum itd_status s);

enum itd_source {
	ITD_SRC_GROUND = 0,  /* operator, API, CLI, scenario file */
	ITD_SRC_AUTONOMOUS,  /* injected by the system's own rules */
	ITD_SRC_PLAYBOOK,    /* a playbook */
	ITD_SRC_SCHEDULE,    /* a schedule */
	ITD_SRC_COUNT
};

const char *itd_source_name(enum itd_source s);
int itd_source_parse(const char *name);

enum itd_verdict {
	ITD_VERDICT_NONE = 0,  /* not yet evaluated by the gate */
	ITD_VERDICT_AUTHORIZED,
	ITD_VERDICT_BLOCKED,
	ITD_VERDICT_DEFERRED,  /* not selected, or waiting (backoff) */
	ITD_VERDICT_DENIED,
};

const char *itd_verdict_name(enum itd_verdict v);

/* One lifecycle transition.  Reasons are static strings or strings owned by
 * the scenario (rule ids), so recording one never allocates. */
struct itd_transition {
	uint64_t tick;          /* tick at which it happened */
	uint8_t from, to;       /* enum itd_status */
	const char *reason;     /* e.g. "safe_mode_mission_blocked", "submitted" */
};

#define ITD_ID_LEN 24          /* "i-" + up to 20 digits + NUL */
#define ITD_EXPLAIN_LEN 256    /* a verdict's explanation */
#define ITD_KEY_LEN 64         /* idempotency key (bytes, incl. NUL) */
#define ITD_PARAM_BYTES 256    /* string parameter storage per intent */

struct itd_intent {
	char id[ITD_ID_LEN];         /* "i-000001" */
	uint64_t seq;                /* sequence number (1-based) */
	uint32_t type;               /* index into scenario types */
	enum itd_source source;      /* who asked */
	enum itd_status status;      /* lifecycle state */
	double priority;             /* as submitted */
	struct itd_goal goal;        /* optional goal */
	uint64_t created_tick;       /* tick it was applied at */
	uint64_t deadline_tick;      /* expires after this tick; 0 = never */
	uint64_t retry_tick;         /* BACKOFF: queued again at this tick */
	int64_t received_ms;         /* wall/sim time of receipt (latency) */
	uint64_t evaluations;        /* ticks it was scored */
	uint64_t blocked_ticks;      /* ticks it was picked and blocked */
	uint64_t executions;         /* effects applied */
	uint64_t attempts;           /* execution attempts (incl. failed) */
	double score;                /* last score (own + adjustment) */
	enum itd_verdict verdict;    /* last verdict */
	const char *verdict_rule;    /* rule id of the last block, or NULL */
	char explain[ITD_EXPLAIN_LEN]; /* explanation of the last verdict change */
	uint64_t verdict_tick;       /* tick of the last verdict change */
	uint64_t reported_tick;      /* last tick a block was reported (flood control) */
	uint64_t first_exec_tick;    /* first execution (0: none yet) */
	char key[ITD_KEY_LEN];       /* idempotency key, "" if none */
	uint64_t body_hash;          /* hash of the submission body (idempotency) */
	struct itd_transition *hist; /* history ring (history_per_intent entries) */
	uint64_t n_hist;             /* transitions ever recorded (may exceed the ring) */
	struct itd_value *frame;     /* this intent's expression slots */
	char params[ITD_PARAM_BYTES];/* storage for string parameter values */
	uint32_t params_used;        /* bytes of params in use */
	uint64_t frame_gen;          /* state generation its vars were computed at */
	char actor[32];              /* who submitted it (a token's name), "" if unknown */
};

/* A request to create an intent (from a submission, the scenario file, or
 * autonomy).  Borrowed: the table copies what it keeps. */
struct itd_intent_spec {
	uint64_t seq;                  /* a sequence number from
					  itd_intents_reserve (then `reserved`),
					  or 0 for the next one */
	bool reserved;                 /* seq was reserved: its capacity and key
					  are already accounted for */
	uint32_t type;                 /* intent type index */
	enum itd_source source;        /* who asked */
	double priority;               /* priority */
	struct itd_goal goal;          /* optional goal */
	const struct itd_param_value *params; /* given parameters */
	size_t n_params;
	uint64_t deadline_ticks;       /* 0: the type's default */
	const char *idempotency_key;   /* NULL or "" for none */
	uint64_t body_hash;            /* hash of the body for idempotency */
	int64_t received_ms;           /* receipt time */
	const char *actor;             /* who asked, or NULL (copied, cut to 31 bytes) */
};

/* An idempotency key and the intent holding it. */
struct itd_key_entry {
	uint64_t seq;                /* holder; 0 = empty slot */
	uint64_t body_hash;          /* hash of the body it was submitted with */
	char key[ITD_KEY_LEN];       /* the key */
};

/* The intent table: every intent of a run, active and archived.  Only
 * the tick thread creates and transitions intents; other threads may only
 * reserve (itd_intents_reserve), which touches nothing but the members
 * under `lock`.  A member added here must also be added to
 * itd_intents_swap and, if it is state, to the snapshot
 * (intent_snapshot.c). */
struct itd_intents {
	const struct itd_scenario *scn; /* definitions (borrowed) */
	struct itd_intent *rec;      /* record pool */
	uint64_t n;                  /* intents ever created */
	uint64_t last_seq;           /* highest sequence number created */
	uint64_t cap;                /* pool capacity (max_intents) */
	uint64_t n_evicted;          /* terminal intents whose record was reused */
	uint32_t *free;              /* never-used records (a stack) */
	uint32_t n_free;
	uint32_t *done;              /* terminal records, oldest first (a ring) */
	uint32_t done_head, n_done;
	uint32_t *by_seq;            /* open-addressing map seq -> record index + 1 */
	uint64_t n_map;              /* map size (power of two, >= 2 cap) */
	uint32_t *active;            /* record indices of non-terminal intents, by seq */
	uint32_t n_active;
	uint32_t n_deferred;         /* intents that ended while deactivation was
					deferred: still in `active` (see
					itd_intents_defer) */
	bool deferring;              /* itd_intents_defer is in effect */
	struct itd_transition *hist_pool; /* cap * hist_cap transitions */
	uint32_t hist_cap;           /* per intent */
	struct itd_value *frame_pool;/* cap * n_intent_slots values */
	/* Shared with submitting threads, under `lock`: */
	pthread_mutex_t lock;        /* guards the members below */
	bool lock_ready;             /* lock was initialised */
	uint64_t next_seq;           /* last sequence number handed out */
	uint64_t reserved;           /* reserved and not yet created */
	uint64_t n_live;             /* active intents (n_active, as others see it) */
	struct itd_key_entry *keys;  /* idempotency index (open addressing) */
	uint64_t *forced;            /* replay: what the next unreserved creations do
					(an id, or 0: refused) */
	size_t n_forced, i_forced, cap_forced; /* queued, consumed, room */
	bool forcing;                /* replaying: unreserved creations follow
					`forced`, as they went originally */
	uint64_t *attempts;          /* this tick's unreserved creations: the id
					each took, or 0 if refused (journaled) */
	size_t n_attempts;           /* how many (at most cap_forced) */
	uint64_t n_keys_cap;         /* power of two */
	uint64_t by_status[ITD_ST_COUNT]; /* current count of intents per status */
	uint64_t n_rejected;         /* creations refused (full, invalid) */
	uint64_t gen;                /* state generation: whoever changes the
					global state bumps it, so refreshes can
					skip vars computed against the same state */
};

/* Allocate a table sized from the scenario (max_intents,
 * history_per_intent).  Returns 0, ITD_ENOMEM. */
int itd_intents_init(struct itd_intents *t, const struct itd_scenario *scn);
void itd_intents_fini(struct itd_intents *t);

/* Check a spec against the scenario (type, goal use and metric, params
 * declared/required/typed, string param sizes, key length).  Returns 0 or
 * ITD_EINVAL with a precise message in msg. */
int itd_intents_validate(const struct itd_intents *t, const struct itd_intent_spec *spec,
			 char *msg, size_t cap);

/* Look up an idempotency key: returns the intent holding it or NULL (also
 * while its holder is reserved but not yet created). */
struct itd_intent *itd_intents_by_key(struct itd_intents *t, const char *key);

/* Reserve a sequence number for an intent to be created at a later tick
 * (thread-safe).  Capacity is reserved with it, so creating it then
 * cannot fail for lack of room.  With an idempotency key the key is
 * registered now: the same key with the same body_hash gives ITD_EEXISTS
 * and the holder's seq in *seq_out; with a different body ITD_ECONFLICT
 * (holder in *seq_out).  ITD_EFULL when active intents and reservations
 * fill the table. */
int itd_intents_reserve(struct itd_intents *t, const char *key, uint64_t body_hash,
			uint64_t *seq_out);
/* Replay: reserve the given seq (as it was reserved when first accepted),
 * with its key; the counter moves past it.  Same results as
 * itd_intents_reserve. */
int itd_intents_reserve_as(struct itd_intents *t, uint64_t seq, const char *key,
			   uint64_t body_hash);
/* Replay: what the next creations without a reservation must do, in order
 * (an id to take, or 0 to be refused), as the attempts log of the original
 * tick recorded them; replaces what is left of the previous list.  From
 * then on such creations follow the list only: the original may have
 * refused one because its room was held by submissions still waiting,
 * and the replay must refuse it too.  ITD_ELIMIT beyond the room for one
 * tick's own creations. */
int itd_intents_force_seqs(struct itd_intents *t, const uint64_t *seqs, size_t n);
/* End replay mode after the tick it was given for: later creations take
 * ids and room as live ones do. */
void itd_intents_forcing_end(struct itd_intents *t);
/* Start a new tick's attempts log (t->attempts, t->n_attempts). */
void itd_intents_attempts_reset(struct itd_intents *t);
/* Return a reservation that will not be created (drops its key). */
void itd_intents_unreserve(struct itd_intents *t, uint64_t seq, const char *key);

/* Create an intent at `tick` (status RECEIVED with its first history
 * entry, then QUEUED).  If the spec carries an idempotency key already held
 * by an intent: same body hash -> *out is the original and ITD_EEXISTS is
 * returned; different body -> ITD_ECONFLICT.  ITD_EFULL when the pool is
 * exhausted, ITD_EINVAL for a spec that fails validation (msg says why).
 * Never allocates. */
int itd_intents_create(struct itd_intents *t, const struct itd_intent_spec *spec, uint64_t tick,
		       struct itd_intent **out, char *msg, size_t cap);

/* Note that `in` became terminal (called by itd_intent_transition), so
 * its record may be reused once every other record is taken. */
void itd_intents_archived(struct itd_intents *t, const struct itd_intent *in);

/* Lookups: by id ("i-000042"), by sequence number; NULL if absent or
 * evicted from memory. */
struct itd_intent *itd_intents_get(struct itd_intents *t, const char *id);
struct itd_intent *itd_intents_at(struct itd_intents *t, uint64_t seq);
/* The i-th active intent in creation order (0 <= i < n_active). */
static inline struct itd_intent *itd_intents_active(struct itd_intents *t, uint32_t i)
{
	return &t->rec[t->active[i]];
}
/* First active intent of a type, or NULL. */
struct itd_intent *itd_intents_active_of_type(struct itd_intents *t, uint32_t type);

/* Move an intent to `to` at `tick` with a reason (static or scenario-owned
 * string), recording the transition.  Returns ITD_ESTATE (and changes
 * nothing) if the lifecycle does not allow it.  A move to a terminal state
 * archives the intent (it leaves the active list, the record stays). */
int itd_intent_transition(struct itd_intents *t, struct itd_intent *in, enum itd_status to,
			  uint64_t tick, const char *reason);
/* Many intents ending in one pass (a tick settling the goals met): with
 * deferral on, one that ends stays in the active list, in place, until
 * itd_intents_undefer removes every ended one in a single pass; each
 * removal alone costs a search and a move of the list.  Meanwhile the
 * active list may hold ended intents: only a walk that expects them (by
 * index, from the end) may run in between. */
void itd_intents_defer(struct itd_intents *t);
void itd_intents_undefer(struct itd_intents *t);
/* True if the lifecycle allows from -> to. */
bool itd_intent_can(enum itd_status from, enum itd_status to);

/* Transitions still held in memory (the ring keeps the most recent
 * history_per_intent; n_hist counts them all, telemetry has every one),
 * and the k-th of them, oldest first (0 <= k < n_held). */
uint64_t itd_intent_n_held(const struct itd_intents *t, const struct itd_intent *in);
const struct itd_transition *itd_intent_hist(const struct itd_intents *t,
					     const struct itd_intent *in, uint64_t k);

/* Backoff in ticks before attempt number `attempt` (2 = first retry), from
 * the type's retry policy and the `retry` RNG stream. */
uint64_t itd_intent_backoff(const struct itd_retry *p, uint64_t attempt, struct itd_rng *rng);

/* Refresh the intent's dynamic expression slots (counters, age,
 * goal.value) and evaluate its type's vars, against the global frame at
 * `tick`.  Vars are recomputed only if t->gen moved since the last refresh
 * of this intent.  Returns 0 or ITD_ERANGE if a var is not finite (then
 * the var keeps its previous value). */
int itd_intent_refresh(struct itd_intents *t, struct itd_intent *in,
		       const struct itd_value *global, uint64_t tick);

/* A string parameter's value stored in the intent, or NULL. */
const struct itd_value *itd_intent_param(const struct itd_intents *t,
					 const struct itd_intent *in, uint32_t param);

/* ----------------------------------------------------------- snapshots */

/* The table's part of an engine snapshot (intent_snapshot.c): every held
 * record (fields, history, expression frame), the free stack, the
 * eviction order, the active list, the seq map, the idempotency keys and
 * the counters shared with submitters, as little-endian bytes without a
 * pointer: history reasons become indices into the caller's reason table,
 * frame strings the record's own id or parameter bytes, or an index into
 * the scenario's strings (itd_snap_str_find).  What is not in it: a
 * replay's forced-seqs list and the tick's attempts log, which live only
 * within one tick. */

/* The strings history entries point at, by index (the engine's reasons,
 * the scenario's rule ids, interned cancel reasons). */
struct itd_snap_reasons {
	/* The index of reason r, pointer identity first, then content;
	 * false if r is none of them. */
	bool (*find)(void *ctx, const char *r, uint32_t *idx_out);
	/* The reason with index i, or NULL if there is none. */
	const char *(*at)(void *ctx, uint32_t i);
	void *ctx; /* passed to both */
};

/* The largest encoding of a table sized like t. */
size_t itd_intents_snap_bound(const struct itd_intents *t);
/* Encode the table into buf (cap bytes) between ticks; the caller holds
 * t->lock so the reservations and keys are a consistent cut.  Never
 * allocates.  Returns 0 with *len_out set; ITD_ELIMIT if it does not fit;
 * ITD_ESTATE if a history reason or a frame string is none the snapshot
 * can name (see itd_snap_str_find). */
int itd_intents_snap_save(const struct itd_intents *t, const struct itd_snap_reasons *rs,
			  uint8_t *buf, size_t cap, size_t *len_out);
/* Decode into t, which must be fresh from itd_intents_init for the same
 * scenario and private to the caller.  Every index, length and count is
 * checked, and so is the consistency of the records with the free stack,
 * the active list, the eviction order, the seq map and the key index.
 * Returns 0; ITD_EINVAL (t is then only fit for itd_intents_fini);
 * ITD_ENOMEM. */
int itd_intents_snap_load(struct itd_intents *t, const struct itd_snap_reasons *rs,
			  const uint8_t *buf, size_t len);
/* Exchange the contents of two tables of one scenario, all but their
 * locks (the caller holds both, or owns them). */
void itd_intents_swap(struct itd_intents *a, struct itd_intents *b);
/* Empty the table in place, exactly as itd_intents_init left it; never
 * allocates (the caller holds t->lock). */
void itd_intents_reset(struct itd_intents *t);

/* Snapshot bytes, shared by the engine's and the table's parts:
 * little-endian integers, doubles as their bits, short strings as a
 * length byte and their bytes.  The writer stops at its end (`over`), the
 * reader at the first shortfall or bad value (`bad`; what it returns is
 * then zero), so callers check once at the end. */
struct itd_snap_wr {
	uint8_t *p, *end; /* room left */
	bool over;        /* something did not fit */
};
struct itd_snap_rd {
	const uint8_t *p, *end; /* bytes left */
	bool bad;               /* ran out or met a bad value */
};
/* The timestamps (ms) a snapshot may hold: far beyond any clock, and near
 * enough to zero that the difference of two cannot overflow. */
#define ITD_SNAP_MS_LIMIT (INT64_C(1) << 62)
void itd_snap_put(struct itd_snap_wr *w, const void *src, size_t n);
void itd_snap_put_uint(struct itd_snap_wr *w, uint64_t v, size_t bytes);
void itd_snap_put_f64(struct itd_snap_wr *w, double d);
/* At most max (< 256) bytes of s. */
void itd_snap_put_str(struct itd_snap_wr *w, const char *s, size_t max);
void itd_snap_get(struct itd_snap_rd *r, void *dst, size_t n);
uint64_t itd_snap_get_uint(struct itd_snap_rd *r, size_t bytes);
double itd_snap_get_f64(struct itd_snap_rd *r);
/* Into dst (cap bytes, NUL-terminated); too long or holding a NUL is bad. */
void itd_snap_get_str(struct itd_snap_rd *r, char *dst, size_t cap);
/* A value: u8 type, then f64 | u8 | a string reference (u8 0 and a u32
 * scenario string index | u8 1: in's id | u8 2 and a u16 offset into in's
 * parameter bytes).  in is NULL outside an intent frame.  ITD_ESTATE if a
 * string cannot be named. */
int itd_snap_put_value(struct itd_snap_wr *w, const struct itd_scenario *s,
		       const struct itd_intent *in, const struct itd_value *v);
/* A value that must have type `want`, or be unset if none_ok (want
 * ITD_T_NONE: must be unset); in as for itd_snap_put_value, with its id
 * and parameter bytes already decoded. */
void itd_snap_get_value(struct itd_snap_rd *r, const struct itd_scenario *s,
			const struct itd_intent *in, enum itd_type want, bool none_ok,
			struct itd_value *out);

/* The scenario's strings a value may point at, by index, in a fixed
 * order: "", the source names, the modes, each field's name, initial
 * string and values, each type's name and string parameter defaults, the
 * domains, the flags and the safety rule ids.  Strings are matched by
 * content (only their bytes are ever compared or hashed), so a string
 * literal of an expression is found if its text is one of these; one that
 * is not (a free-form string field assigned a literal, say) cannot be
 * named.  find: the first index with that content; at: NULL past the end. */
bool itd_snap_str_find(const struct itd_scenario *s, const char *str, uint32_t *idx_out);
const char *itd_snap_str_at(const struct itd_scenario *s, uint32_t idx);

#endif
