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
};

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

/* Recover: replay the journal into `e` (a fresh engine whose observer is
 * silent during the replay), checking every tick's state hash.  Inputs
 * accepted after the last journaled tick are queued for the next one.
 * *ticks_out and *tel_seq_out receive the number of ticks replayed and the
 * telemetry seq at the end of the last one.  ITD_EVERIFY (with the tick in
 * err) if the replay diverges. */
int itd_store_recover(struct itd_store *st, struct itd_engine *e, uint64_t *ticks_out,
		      uint64_t *tel_seq_out, char *err, size_t cap);

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

/* Wait until ticket (from a receipt) is durable; 0, ITD_EAGAIN (timeout),
 * ITD_EIO (the store failed: nothing pending is durable). */
int itd_store_wait(struct itd_store *st, uint64_t ticket, int64_t timeout_ms);
/* Wait until the last tick journaled is durable (same results). */
int itd_store_wait_tick(struct itd_store *st, int64_t timeout_ms);

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

/* Verify the store's audit chain (store_audit.h: itd_audit_verify_with):
 * 0 if intact, ITD_EVERIFY with the first bad entry in *out, or an I/O
 * error. */
struct itd_audit_verify_opts;
struct itd_audit_report;
int itd_store_audit_verify(struct itd_store *st, const struct itd_audit_verify_opts *opts,
			   struct itd_audit_report *out);

/* Drain what is queued, close; NULL is a no-op.  Returns 0 or ITD_EIO if
 * something queued could not be made durable. */
int itd_store_close(struct itd_store *st);

#endif
