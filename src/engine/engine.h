/* engine.h: the deterministic tick loop (SPEC §3).  Every tick runs these
 * phases in this order, with one `now` per tick:
 *
 *   1. intake     apply queued inputs in arrival order (submissions,
 *                 cancellations, state faults); retries whose backoff ended
 *                 are queued again
 *   2. dynamics   the scenario's per-tick assignments, then the mode rules
 *   3. autonomy   injection rules create missing recovery intents
 *   4. policy     score every eligible intent, select the argmax
 *   5. safety     critical override, recovery lock, safety rules on the pick
 *   6. execute    apply the authorized intent's effect (the one mutation),
 *                 check failure and completion, expire intents past deadline
 *   7. telemetry  state.updated, then the engine.tick frame
 *   8. persist    (with a store; a later module)
 *
 * The engine knows nothing of JSON, files or sockets: it reports through an
 * observer callback (the telemetry module provides one) and takes inputs
 * through a bounded, thread-safe intake queue.  The tick never allocates:
 * every capacity comes from the scenario and is fixed at creation. */
#ifndef ITD_ENGINE_H
#define ITD_ENGINE_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "intent/intent.h"
#include "policy/policy.h"
#include "scenario/scenario.h"

/* Events the engine reports (the telemetry catalogue's engine-side half). */
#define ITD_EVENTS(X)                                                   \
	X(INTENT_RECEIVED, "intent.received", "intake")                 \
	X(INTENT_REJECTED, "intent.rejected", "intake")                 \
	X(INTENT_QUEUED, "intent.queued", "intake")                     \
	X(INTENT_BLOCKED, "intent.blocked", "safety")                   \
	X(INTENT_AUTHORIZED, "intent.authorized", "safety")             \
	X(INTENT_EXECUTED, "intent.executed", "engine")                 \
	X(INTENT_COMPLETED, "intent.completed", "engine")               \
	X(INTENT_FAILED, "intent.failed", "engine")                     \
	X(INTENT_RETRY_SCHEDULED, "intent.retry_scheduled", "engine")   \
	X(INTENT_EXPIRED, "intent.expired", "engine")                   \
	X(INTENT_CANCELLED, "intent.cancelled", "intake")               \
	X(POLICY_EVALUATED, "policy.evaluated", "policy")               \
	X(SAFETY_OVERRIDE, "safety.override", "safety")                 \
	X(SAFETY_LOCK, "safety.lock", "safety")                         \
	X(STATE_UPDATED, "state.updated", "engine")                     \
	X(EXECUTION_LATENCY, "execution.latency", "engine")             \
	X(ENGINE_FAULT, "engine.fault", "engine")                       \
	X(ENGINE_TICK, "engine.tick", "engine")                         \
	X(ENGINE_SLIP, "engine.slip", "engine")                         \
	X(CONSOLE_APPLIED, "console.applied", "console")

enum itd_event_kind {
#define ITD_EV_ENUM(id, name, source) ITD_EV_##id,
	ITD_EVENTS(ITD_EV_ENUM)
#undef ITD_EV_ENUM
	ITD_EV_COUNT
};

/* Event name ("intent.blocked") and source subsystem ("safety"). */
const char *itd_event_name(enum itd_event_kind k);
const char *itd_event_source(enum itd_event_kind k);

/* One reported event.  Pointers are valid only during the callback. */
struct itd_event {
	enum itd_event_kind kind;        /* what happened */
	uint64_t tick;                   /* the tick (cycle) */
	int64_t ts_ms;                   /* the tick's time */
	const struct itd_intent *intent; /* intent events; NULL otherwise */
	const char *reason;              /* rule id, rejection reason, cause */
	const char *detail;              /* explanation, message, expression */
	uint64_t n;                      /* blocked: ticks blocked; retry: attempt;
					    latency: ticks; slip: ticks late;
					    fault: count */
	double ms;                       /* latency / slip in milliseconds */
	uint64_t at_tick;                /* retry: the tick it is queued again */
	bool suppressed_before;          /* blocked: earlier blocked ticks were
					    counted but not reported */
	const char *actor;               /* who asked (token name), or NULL */
};

struct itd_engine;

/* Receives every event, on the tick thread, in order.  tick_end() is called
 * once per tick after its events (the telemetry module flushes there). */
struct itd_observer {
	void (*event)(void *ctx, const struct itd_engine *e, const struct itd_event *ev);
	void (*tick_end)(void *ctx, const struct itd_engine *e);
	/* Optional: itd_engine_run calls it after each tick once the state
	 * lock is released, before the next tick: where a front end may wait
	 * (for the tick to be durable, say) without stalling readers. */
	void (*after_tick)(void *ctx, const struct itd_engine *e);
	void *ctx;
};

struct itd_engine_config {
	const struct itd_scenario *scn; /* definitions (borrowed; must outlive the engine) */
	uint64_t seed;                  /* run seed (RNG streams derive from it) */
	enum itd_clock_mode clock;      /* sim: deterministic stamps */
	double rate_hz;                 /* pacing for itd_engine_run in real mode;
					   <= 0: the scenario's rate */
	const struct itd_observer *obs; /* NULL: no events (fastest) */
	pthread_rwlock_t *state_lock;   /* if set, every tick runs holding it for
					   writing, so threads that hold it for
					   reading see the state between ticks */
};

/* Create an engine at tick 0 with the scenario's initial state; the
 * scenario's initial intents are applied at tick 1's intake.  Returns 0,
 * ITD_ENOMEM. */
int itd_engine_create(const struct itd_engine_config *cfg, struct itd_engine **out);
/* Free an engine; NULL is a no-op. */
void itd_engine_destroy(struct itd_engine *e);

/* Run one tick (all phases).  Returns 0. */
int itd_engine_step(struct itd_engine *e);

/* Run up to n ticks (0: until *stop becomes true).  In real-clock mode
 * ticks are paced at the rate; a tick that starts more than one period late
 * is a slip: counted and reported as engine.slip, never absorbed silently.
 * Stops early, between ticks, when *stop (may be NULL) becomes true. */
int itd_engine_run(struct itd_engine *e, uint64_t n, const volatile int *stop);

/* -------------------------------------------------------------- intake */

#define ITD_MAX_PARAMS 16

/* A submission, as validated by the caller's front end (API, CLI).
 * Borrowed; the queue copies it. */
struct itd_submission {
	uint32_t type;                     /* intent type index */
	enum itd_source source;            /* who */
	double priority;                   /* priority */
	struct itd_goal goal;              /* optional goal */
	const struct itd_param_value *params; /* at most ITD_MAX_PARAMS */
	size_t n_params;
	uint64_t deadline_ticks;           /* 0: type default */
	const char *idempotency_key;       /* NULL: none */
	uint64_t body_hash;                /* for idempotency */
	const char *actor;                 /* who asked (a token's name), or NULL */
};

/* What a submission was given. */
struct itd_receipt {
	uint64_t seq;            /* the intent's sequence number */
	char id[ITD_ID_LEN];     /* its id, "i-000042" */
	uint64_t received_tick;  /* the tick whose intake applies it */
	uint64_t arrival;        /* arrival number at the intake */
	uint64_t ticket;         /* the journal's durability ticket (0: no journal) */
};

/* Queue a submission for the next tick's intake (thread-safe).  It is
 * checked against the scenario first (msg says why if not), then given its
 * id, room in the intent table and its idempotency key at once, so what is
 * accepted here is always created at received_tick.  Returns 0 with *out
 * filled; ITD_EEXISTS: the same idempotency key with the same body was
 * accepted before (*out names the original); ITD_ECONFLICT: the key was
 * used with another body (*out names the holder); ITD_EINVAL: a bad
 * submission; ITD_EFULL: the intake queue or the intent table is full
 * (nothing was queued). */
int itd_engine_submit(struct itd_engine *e, const struct itd_submission *sub,
		      struct itd_receipt *out, char *msg, size_t cap);
/* Actor names longer than this are cut (they label telemetry). */
#define ITD_ACTOR_LEN 32

/* Queue a cancellation of intent `id` by `actor` (may be NULL); `reason`
 * must be a static string (thread-safe).  Like the other inputs below,
 * *ticket_out (may be NULL) gets the journal's durability ticket (0
 * without a journal), so a front end can answer only once it is durable. */
int itd_engine_cancel(struct itd_engine *e, const char *id, const char *reason,
		      const char *actor, uint64_t *ticket_out);
/* Queue a fault injection: set state field `field` to `v` at the next
 * intake, reported as console.applied (thread-safe). */
int itd_engine_set_field(struct itd_engine *e, uint32_t field, struct itd_value v,
			 const char *actor, uint64_t *ticket_out);

/* Console commands that go through the intake like any input, so they are
 * applied at a tick boundary and reported (console.applied) in order. */
enum itd_console_cmd {
	ITD_CONSOLE_PAUSE,    /* stop ticking after the tick that applies it */
	ITD_CONSOLE_RESUME,   /* reported when ticking resumes */
	ITD_CONSOLE_STEP,     /* reported with the first stepped tick */
	ITD_CONSOLE_SNAPSHOT, /* reported with the tick the snapshot follows */
	ITD_CONSOLE_NOTE,     /* anything else worth a line in the record */
};

const char *itd_console_name(enum itd_console_cmd c);
/* Queue a console command with its arguments (copied, at most 63 bytes)
 * and actor (thread-safe). */
int itd_engine_console(struct itd_engine *e, enum itd_console_cmd cmd, const char *args,
		       const char *actor, uint64_t *ticket_out);
/* True once a pause command has been applied and until itd_engine_resume.
 * itd_engine_run returns after the tick that applies a pause. */
bool itd_engine_paused(const struct itd_engine *e);
void itd_engine_resume(struct itd_engine *e);
/* Pause at once, without an input (the front end cannot journal one, e.g.
 * its store failed): itd_engine_run returns after the current tick. */
void itd_engine_hold(struct itd_engine *e);
/* Refuse every new input (submit, cancel, set, console) with `rc`, e.g.
 * ITD_EIO while the front end's store repairs itself; 0 accepts them
 * again.  Replayed inputs are not affected.  When it returns, no input is
 * half accepted (thread-safe). */
void itd_engine_intake_gate(struct itd_engine *e, int rc);

/* ----------------------------------------------------------- plant API */

/* An embedding program may model what expressions cannot (a physics
 * model, a real actuator) with C callbacks.  They run on the tick thread,
 * must not block, allocate or call back into the engine except through
 * itd_plant_get/itd_plant_set, and keep the run deterministic only if they
 * are deterministic themselves. */
struct itd_plant {
	/* Every tick in the dynamics phase, after the scenario's dynamics
	 * assignments and before the mode rules.  May be NULL. */
	void (*dynamics)(void *ctx, struct itd_engine *e, uint64_t tick);
	/* When an intent executes, after its type's effect assignments.
	 * Return 0, or nonzero if the execution failed: the intent then fails
	 * and its type's retry policy applies.  May be NULL. */
	int (*effect)(void *ctx, struct itd_engine *e, const struct itd_intent *in);
	void *ctx; /* passed to both */
};

/* Install (or with NULL remove) the plant callbacks; call between ticks. */
void itd_engine_set_plant(struct itd_engine *e, const struct itd_plant *p);
/* Read a state field inside a plant callback. */
struct itd_value itd_plant_get(const struct itd_engine *e, uint32_t field);
/* Write a state field inside a plant callback: the value must have the
 * field's type (ITD_EINVAL otherwise, nothing changes); numbers are clamped
 * to the field's min/max; a non-finite number is refused (ITD_ERANGE) and
 * counted as a fault. */
int itd_plant_set(struct itd_engine *e, uint32_t field, struct itd_value v);

/* --------------------------------------------------- journal and replay */

/* What a store must keep for an exact replay (docs/design/store.md): every
 * accepted input, in arrival order, and per tick the last arrival it
 * applied, its state hash and the ids the tick thread itself took
 * (autonomy, the critical override, the scenario's initial intents), since
 * those interleave with ids reserved by submitters on other threads. */
/* What an input is, for a journal's own index (the encoding has it all). */
enum itd_journal_kind {
	ITD_JOURNAL_SUBMIT,   /* a submission (seq: the intent it creates) */
	ITD_JOURNAL_CANCEL,   /* a cancellation */
	ITD_JOURNAL_SET,      /* a state field set by the console */
	ITD_JOURNAL_CONSOLE,  /* another console command */
};
struct itd_journal_info {
	uint64_t arrival;             /* arrival number */
	enum itd_journal_kind kind;   /* what */
	uint64_t seq;                 /* SUBMIT: the reserved seq; else 0 */
	const char *actor;            /* who asked, or NULL */
};

struct itd_journal_hooks {
	/* Every accepted input, under the intake lock, in arrival order;
	 * `data` (len bytes, valid during the call) is its encoding, which
	 * itd_engine_replay_input takes back.  Return 0 with a durability
	 * ticket, or an error: the input is then refused and nothing is
	 * queued (the submitter gets the error, e.g. ITD_EIO). */
	int (*input)(void *ctx, const struct itd_journal_info *info, const void *data,
		     size_t len, uint64_t *ticket_out);
	/* The end of every tick, on the tick thread (must not block):
	 * auto_seqs lists the tick thread's own creation attempts in order,
	 * each the id it took or 0 if it was refused. */
	void (*tick)(void *ctx, uint64_t tick, uint64_t last_arrival, uint64_t state_hash,
		     const uint64_t *auto_seqs, size_t n_auto);
	void *ctx; /* passed to both */
};

/* Install (or with NULL remove) the journal hooks; call between ticks. */
void itd_engine_set_journal(struct itd_engine *e, const struct itd_journal_hooks *h);
/* Replay: queue a journaled input (its encoding, as the input hook saw
 * it) exactly as it was first accepted: same arrival number, same id.
 * Inputs must come in arrival order.  ITD_EINVAL for an encoding that does
 * not decode against this scenario. */
int itd_engine_replay_input(struct itd_engine *e, const void *data, size_t len);
/* Replay: how the next tick's own creations went, in order (ids, 0 for a
 * refusal: the tick record's auto_seqs). */
int itd_engine_replay_seqs(struct itd_engine *e, const uint64_t *seqs, size_t n);
/* Replay: the next tick ran at time_ms (INT64_MIN: as the clock says)
 * and started slip_ns late, as its record says: its events carry the
 * times they had, and it reports engine.slip again (counted in slips). */
void itd_engine_replay_timing(struct itd_engine *e, int64_t time_ms, uint64_t slip_ns);
/* How late the tick that just ran started (0: on time), for its journal
 * record; valid from the journal's tick hook on. */
uint64_t itd_engine_tick_slip_ns(const struct itd_engine *e);

/* ----------------------------------------------------------- snapshots */

/* The engine's whole state between ticks as bytes, so a store can start
 * from a snapshot and replay only the journal after it
 * (docs/design/store.md, "Snapshots"; the layout and what is left out, and
 * why, are at the top of engine_snapshot.c).  A snapshot holds no
 * pointer: it loads into any engine created from the same scenario with
 * the same overrides, and into no other. */

/* The largest snapshot this engine can produce (it depends only on the
 * scenario's capacities). */
size_t itd_engine_snapshot_bound(const struct itd_engine *e);
/* Serialize the whole state between ticks into buf: a consistent cut
 * taken under the intake lock and the intent table's lock, so it includes
 * inputs queued but not yet applied, their reservations and idempotency
 * keys.  *arrivals_out (may be NULL) is the number of inputs ever accepted
 * at the cut: journaled inputs with a higher arrival number are not in the
 * snapshot.  Call it from the tick thread (or with the loop stopped),
 * e.g. from a tick hook; it does not take the state lock.  Never
 * allocates.  Returns 0 with *len_out set; ITD_ELIMIT if cap is too small
 * (cap >= itd_engine_snapshot_bound always suffices); ITD_ESTATE if the
 * state holds a string the snapshot cannot name (a free-form string field
 * or string var holding an expression literal that is none of the
 * scenario's strings, see itd_snap_str_find): nothing usable is written. */
int itd_engine_save(struct itd_engine *e, void *buf, size_t cap, size_t *len_out,
		    uint64_t *arrivals_out);
/* Replace the engine's whole state with a snapshot, between ticks, with
 * nobody submitting concurrently.  Everything is validated first (format
 * version, a fingerprint of the scenario so that a snapshot from another
 * scenario or other overrides is refused, every index, length and count,
 * the consistency of the intent table and the queue) and only then
 * applied, holding the state lock (if any) for writing: on error the
 * engine is unchanged.  The observer, plant, journal hooks, state lock,
 * clock and paused flag are the engine's own and are kept; nothing is
 * reported.  *arrivals_out (may be NULL): the snapshot's arrivals.
 * Returns 0; ITD_EVERIFY (another scenario, overrides or format version);
 * ITD_EINVAL (malformed or truncated); ITD_ENOMEM. */
int itd_engine_load(struct itd_engine *e, const void *buf, size_t len, uint64_t *arrivals_out);
/* Back to the state itd_engine_create produced: tick 0, nothing queued,
 * an empty intent table, counters 0, not paused, the `retry` RNG stream
 * seeded again from `seed`, which must be the run seed the engine was
 * created with (the engine does not keep it).  The observer, plant,
 * journal hooks, clock and state lock are kept.  Between ticks, with
 * nobody submitting; holds the state lock (if any) for writing. */
void itd_engine_reset(struct itd_engine *e, uint64_t seed);

/* ------------------------------------------------------------- queries */

uint64_t itd_engine_tick(const struct itd_engine *e);
/* Monotonic time (ns) at which the current tick began; measured only when
 * an observer with tick_end or after_tick is attached (0 otherwise), which
 * can time the tick with it. */
uint64_t itd_engine_tick_start_ns(const struct itd_engine *e);
/* When the next tick is due on CLOCK_MONOTONIC (itd_clock_mono_ns), in a
 * paced run (itd_engine_run with a real clock); 0 otherwise. */
uint64_t itd_engine_next_due_ns(const struct itd_engine *e);
int64_t itd_engine_now_ms(const struct itd_engine *e);
const struct itd_scenario *itd_engine_scenario(const struct itd_engine *e);
/* The global frame: state fields (by field index), then mode, then tick. */
const struct itd_value *itd_engine_state(const struct itd_engine *e);
/* The global frame as it was before this tick's phases. */
const struct itd_value *itd_engine_before(const struct itd_engine *e);
/* The current mode's name. */
const char *itd_engine_mode(const struct itd_engine *e);
/* The gate's decision of the last tick. */
const struct itd_gate *itd_engine_gate(const struct itd_engine *e);
/* The intent executed by the last tick, or NULL. */
const struct itd_intent *itd_engine_executed(const struct itd_engine *e);
/* Hash of the full state after the last tick (fields, mode, tick). */
uint64_t itd_engine_state_hash(const struct itd_engine *e);
/* The intent table (read-only use). */
struct itd_intents *itd_engine_intents(struct itd_engine *e);
const struct itd_intents *itd_engine_intents_c(const struct itd_engine *e);

struct itd_engine_stats {
	uint64_t ticks;          /* ticks run */
	uint64_t slips;          /* paced ticks that started late */
	uint64_t faults;         /* expression evaluations that were not finite */
	uint64_t executions;     /* effects applied */
	uint64_t blocks;         /* blocked ticks (all intents) */
	uint64_t rejected;       /* inputs refused at intake */
	uint64_t intake_full;    /* submissions refused because the queue was full */
	uint64_t events_suppressed; /* blocked reports held back by flood control */
};

void itd_engine_stats(const struct itd_engine *e, struct itd_engine_stats *out);

/* Blocked ticks per safety rule (index into scenario safety). */
uint64_t itd_engine_blocks_by_rule(const struct itd_engine *e, size_t rule);

#endif
