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

/* The last tick and input the store holds (0, 0 for a new one). */
void itd_store_last(struct itd_store *st, uint64_t *tick_out, uint64_t *arrival_out);

/* Wait until ticket (from a receipt) is durable; 0, ITD_EAGAIN (timeout),
 * ITD_EIO (the store failed: nothing pending is durable). */
int itd_store_wait(struct itd_store *st, uint64_t ticket, int64_t timeout_ms);
/* Wait until the last tick journaled is durable (same results). */
int itd_store_wait_tick(struct itd_store *st, int64_t timeout_ms);

/* Drain what is queued, close; NULL is a no-op.  Returns 0 or ITD_EIO if
 * something queued could not be made durable. */
int itd_store_close(struct itd_store *st);

#endif
