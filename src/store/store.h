/* store.h: the durable store as the front ends use it (docs/design/store.md):
 * a journal of every accepted input and every tick, recovery by exact
 * replay, and durability waits.  The engine only sees its journal hooks. */
#ifndef ITD_STORE_H
#define ITD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"

struct itd_store_config {
	const char *dir;            /* the data directory (created 0700 if missing) */
	const char *scenario_name;  /* for messages */
	const void *identity;       /* what defines the run's scenario: its text and
				       overrides (a different one is refused) */
	size_t identity_len;        /* its length */
	uint64_t seed;              /* the run seed */
	double rate;                /* tick rate */
	const char *audit_key;      /* Ed25519 secret key file (0600) to sign audit
				       checkpoints with, or NULL */
	uint64_t audit_every;       /* with audit_key: a checkpoint after every N
				       entries (0: 1000) */
	uint64_t snapshot_every;    /* a snapshot every N ticks (0: the default,
				       UINT64_MAX: never) */
	uint64_t commit_interval_ms;/* while no input waits, commit tick records at
				       most this long after the oldest (0: at
				       once); see itd_journal_config.linger_ms */
	uint64_t keep_snapshots;    /* keep the newest N snapshots (0: the default,
				       UINT64_MAX: every one) */
	bool batch;                 /* a batch run (sim): the tick thread may wait
				       for the writer rather than skip a snapshot */
};

/* Default snapshot interval, in ticks: recovery replays at most this many
 * ticks after the newest snapshot (about a tenth of a second of work). */
#define ITD_STORE_SNAPSHOT_EVERY 10000

/* Default number of snapshots kept: recovery needs only the newest that
 * verifies; a few older ones stand in should it be damaged.  Older ones are
 * deleted as new ones are written, so they take bounded room however long
 * the run (the journal they are rebuilt from is never pruned). */
#define ITD_STORE_KEEP_SNAPSHOTS 8

struct itd_store;

/* Open (or create) the store in cfg->dir.  Returns 0, or ITD_ECONFIG (the
 * directory holds another scenario's run), ITD_EVERIFY (damaged), ITD_EIO,
 * ITD_ENOMEM, with a message in err. */
int itd_store_open(const struct itd_store_config *cfg, struct itd_store **out, char *err,
		   size_t cap);

/* Open an existing store for offline tools (replay, audit): it tells what
 * run it holds: the identity (scenario text and overrides, itd_malloc'd:
 * the caller frees), seed and rate.  ITD_ENOTFOUND if DIR holds no store. */
int itd_store_open_existing(const char *dir, struct itd_store **out, char **identity_out,
			    size_t *len_out, uint64_t *seed_out, double *rate_out, char *err,
			    size_t cap);

/* What a recovery did. */
struct itd_store_recovery {
	uint64_t snapshot_tick;     /* the snapshot it started from (0: tick 0) */
	uint64_t ticks;             /* ticks re-run after it */
	uint64_t last_tick;         /* the last journaled tick (the engine's tick now) */
	uint64_t tel_seq;           /* the telemetry seq at the end of last_tick */
	uint64_t snapshots_bad;     /* snapshots skipped (checksum or format) */
	uint64_t diverged_tick;     /* ITD_EVERIFY: the first tick whose hash differs */
	char note[160];             /* the last skipped snapshot, and why */
};

/* Recover: rebuild `e` (a fresh engine whose observer is silent during the
 * replay) from the journal: with from_snapshot, start from the newest
 * snapshot that verifies (a corrupt one is reported in *out and skipped,
 * never trusted), else from tick 0; then re-run every journaled tick after
 * it, checking each tick's state hash.  Inputs accepted after the last
 * journaled tick are queued for the next one.  ITD_EVERIFY (with the tick
 * in err) if the replay diverges. */
int itd_store_recover(struct itd_store *st, struct itd_engine *e, bool from_snapshot,
		      struct itd_store_recovery *out, char *err, size_t cap);

/* Told before each tick a recovery re-runs: the tick, the telemetry seq
 * recorded before and after it, and the seq the journal ends at.  A front
 * end re-emits from here the events of the last ticks, which were durable
 * but perhaps never delivered when the process stopped. */
typedef void (*itd_store_replay_fn)(void *ctx, uint64_t tick, uint64_t seq_before,
				    uint64_t seq_after, uint64_t seq_end);
void itd_store_on_replay(struct itd_store *st, itd_store_replay_fn fn, void *ctx);

/* Before a recovery: the sinks already hold every event up to seq `have`
 * (the telemetry file's last), and the front end emits again the events
 * within `reach` seqs of the journal's end.  A recovery from a snapshot
 * then starts at the newest one whose tick's events are all at or below
 * `have`, when that lies within reach of the end: the ticks it re-runs
 * emit again every event the sinks lack, those of the ticks up to the
 * newest snapshot included (a crash can come between a tick's commit and
 * the delivery of its events).  Further back, or have 0: the newest
 * snapshot, as without this call. */
void itd_store_replay_since(struct itd_store *st, uint64_t have, uint64_t reach);

/* Which fields a divergence changed: after itd_store_recover reported
 * ITD_EVERIFY at `tick`, re-run the journal (unchecked) into `fresh` up to
 * the first valid snapshot at or after the tick, load that snapshot into
 * `scratch` (both fresh engines of the run's scenario) and call fn for
 * every state field (and "mode") whose value differs: recorded, replayed.
 * *snap_tick_out names the snapshot.  ITD_ENOTFOUND (with err) if no
 * snapshot follows the tick. */
typedef int (*itd_store_diff_fn)(void *ctx, const char *field, const struct itd_value *recorded,
				 const struct itd_value *replayed);
int itd_store_divergence(struct itd_store *st, struct itd_engine *fresh,
			 struct itd_engine *scratch, uint64_t tick, itd_store_diff_fn fn, void *ctx,
			 uint64_t *snap_tick_out, char *err, size_t cap);

/* Journal e's inputs and ticks from now on.  tel_seq (may be NULL) gives
 * the telemetry seq to record with each tick. */
void itd_store_attach(struct itd_store *st, struct itd_engine *e,
		      uint64_t (*tel_seq)(void *ctx), void *ctx);

/* ------------------------------------------------------------- audit */

/* Encodes an event's payload for the audit chain (the telemetry module's
 * itd_tel_payload has this shape; ctx is its struct itd_tel). */
typedef int (*itd_store_payload_fn)(void *ctx, const struct itd_engine *e,
				    const struct itd_event *ev, const struct itd_value *pre_effect,
				    char *buf, size_t cap, size_t *len_out);

/* Fill *out with an observer that passes every event on to `next` (may be
 * NULL) and records every decision (intake, verdict change, execution with
 * the state change it made, lifecycle end, console command; the list is in
 * store_observe.c) as an audit note of its tick: the notes are chained
 * and committed in the tick record's transaction.  Call after
 * itd_store_attach; install *out as the engine's observer.  Returns 0 or
 * ITD_ENOMEM. */
int itd_store_observer(struct itd_store *st, const struct itd_observer *next,
		       itd_store_payload_fn fn, void *fn_ctx, struct itd_observer *out);

/* Notes that did not fit a tick's note buffer (each such tick records an
 * "audit.overflow" note saying how many). */
uint64_t itd_store_notes_lost(const struct itd_store *st);

/* The last tick and input the store holds (0, 0 for a new one). */
void itd_store_last(struct itd_store *st, uint64_t *tick_out, uint64_t *arrival_out);

/* Whether dir already holds a run (a tick or an input journaled), found
 * without opening the store, so without upgrading an older format: for a
 * command that would refuse such a directory anyway. */
bool itd_store_holds_run(const char *dir, uint64_t *last_tick_out);

/* Upgrade a store written by an older build to this build's format, in
 * place and in one transaction per step, as opening it with a server or
 * sim would: for the offline tools, which read only the current format.
 * *from_out: the format it had; *to_out: this build's (equal: nothing was
 * to do).  ITD_ENOTFOUND (no store in dir), ITD_EVERIFY (not a store, or
 * damaged), ITD_ECONFIG (a format this build cannot upgrade), ITD_EIO. */
int itd_store_upgrade(const char *dir, int *from_out, int *to_out, char *err, size_t cap);

/* What the store has done since it opened, for monitoring (any thread). */
struct itd_store_stats {
	uint64_t commits;           /* transactions committed */
	uint64_t records;           /* inputs, ticks and snapshots committed */
	uint64_t bytes;             /* their queued size */
	uint64_t max_batch;         /* most records in one commit */
	uint64_t failures;          /* commits or checkpoints that failed */
	uint64_t refused;           /* appends refused for want of room (429) */
	uint64_t durable_tick;      /* the last tick known durable */
	uint64_t snapshots_taken;   /* snapshots handed to the journal */
	uint64_t snapshots_skipped; /* snapshots not taken (both buffers busy) */
	uint64_t snapshots_pruned;  /* older snapshots deleted (keep_snapshots) */
	bool snapshots_off;         /* snapshots are configured but could not be
				       set up (no memory): recovery replays further */
	uint64_t notes_lost;        /* audit notes that did not fit their tick */
};
void itd_store_stats(struct itd_store *st, struct itd_store_stats *out);

/* Wait until ticket (from a receipt) is durable; 0, ITD_EAGAIN (timeout),
 * ITD_EIO (the store failed: nothing pending is durable). */
int itd_store_wait(struct itd_store *st, uint64_t ticket, int64_t timeout_ms);
/* Wait until the last tick journaled is durable (same results). */
int itd_store_wait_tick(struct itd_store *st, int64_t timeout_ms);
/* The same, until deadline_ns on CLOCK_MONOTONIC (a deadline past: just
 * look): a paced loop waits for its tick only until the next is due. */
int itd_store_wait_tick_until(struct itd_store *st, uint64_t deadline_ns);

/* ----------------------------------------------------------- queries */

/* One intent as the store's index has it (pointers valid during the call). */
struct itd_store_intent_row {
	uint64_t seq;
	const char *id, *type, *status, *actor;
	uint64_t created_tick;      /* the tick it was received at */
	uint64_t updated_tick;      /* the tick of its last recorded decision */
};
typedef int (*itd_store_intent_fn)(void *ctx, const struct itd_store_intent_row *r);

/* Every intent the store has recorded (terminal ones included: nothing is
 * ever deleted), in seq order after after_seq, at most limit (0: all);
 * status and type (may be NULL) are comma-separated lists to filter by.
 * A nonzero return of fn stops the walk and is returned. */
int itd_store_query_intents(struct itd_store *st, const char *status, const char *type,
			    uint64_t after_seq, uint64_t limit, itd_store_intent_fn fn, void *ctx);

/* One audit entry of an intent's story. */
struct itd_store_story_entry {
	uint64_t index, tick;       /* its place in the chain, and its tick */
	int64_t time_ms;            /* the tick's time */
	const char *kind, *actor;   /* the event, and who caused it ("" if none) */
	const char *data;           /* the event's payload (JSON), len bytes */
	size_t len;
};
typedef int (*itd_store_story_fn)(void *ctx, const struct itd_store_story_entry *e);

/* Every audit entry about intent `id`, in chain order.  ITD_ENOTFOUND if
 * there is none. */
int itd_store_query_story(struct itd_store *st, const char *id, itd_store_story_fn fn,
			  void *ctx);

/* Every audit entry from index `from` on, in chain order, as stored (not
 * verified: that is itd_store_audit_verify's job).  ITD_EVERIFY if a block
 * does not decode; a nonzero return of fn stops the walk and is returned. */
struct itd_audit_entry;
typedef int (*itd_store_audit_fn)(void *ctx, const struct itd_audit_entry *e);
int itd_store_audit_walk(struct itd_store *st, uint64_t from, itd_store_audit_fn fn, void *ctx);

/* The database's own integrity check (every page: seconds for a large
 * store): 0, or ITD_EVERIFY with what is damaged in err. */
int itd_store_check(struct itd_store *st, char *err, size_t cap);

/* Verify the store's audit chain (store_audit.h: itd_audit_verify_with):
 * 0 if intact, ITD_EVERIFY with the first bad entry in *out, or an I/O
 * error. */
struct itd_audit_verify_opts;
struct itd_audit_report;
int itd_store_audit_verify(struct itd_store *st, const struct itd_audit_verify_opts *opts,
			   struct itd_audit_report *out);

/* Health: 0, or ITD_EIO with why the store failed (a commit, the
 * background integrity check) in why. */
int itd_store_status(struct itd_store *st, char *why, size_t cap);

/* After a failure: reopen the database, check every page and the audit
 * chain's tail, and accept writes again.  What the store held before the
 * failure is all there is: the caller rebuilds its engine from it
 * (itd_engine_reset, then itd_store_recover) before accepting input.
 * Errors as itd_store_open; the store stays failed and it may be retried. */
int itd_store_reopen(struct itd_store *st, char *err, size_t cap);

/* Drain what is queued, close; NULL is a no-op.  Returns 0 or ITD_EIO if
 * something queued could not be made durable. */
int itd_store_close(struct itd_store *st);

#endif
