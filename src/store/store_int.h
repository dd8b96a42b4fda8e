/* store_int.h: the store facade's private state, shared by store.c (open,
 * journal hooks, recovery) and store_observe.c (the audit observer). */
#ifndef ITD_STORE_INT_H
#define ITD_STORE_INT_H

#include "store.h"
#include "store_journal.h"

struct itd_store {
	struct itd_journal *j;         /* the journal */
	struct itd_engine *e;          /* the engine attached, or NULL */
	char *dir;                     /* the data directory (itd_store_open) */
	uint64_t (*tel_seq)(void *ctx);/* the telemetry seq provider, or NULL */
	void *tel_ctx;                 /* its argument */
	uint64_t tick_ticket;          /* the last tick record's ticket (tick thread) */
	uint64_t tel_start;            /* this tick's telemetry seq before its first
					  event (UINT64_MAX: no event yet) */
	itd_store_replay_fn on_replay; /* told of each tick a recovery re-runs, or NULL */
	void *replay_ctx;              /* its argument */
	uint64_t since_have;           /* itd_store_replay_since: the sinks hold
					  events up to this seq (0: not set) */
	uint64_t since_reach;          /* and events within this many seqs of the
					  journal's end are emitted again */

	/* Snapshots (tick thread). */
	uint64_t snap_every;           /* a snapshot every N ticks; 0: none */
	bool batch;                    /* a batch run: wait for a buffer rather than skip */
	void *snap_buf[2];             /* two buffers of snap_cap bytes */
	size_t snap_cap;               /* itd_engine_snapshot_bound */
	uint64_t snap_ticket[2];       /* each buffer's last snapshot ticket (0: free) */
	int snap_next;                 /* the buffer to try first */
	uint64_t snap_taken;           /* snapshots handed to the journal */
	uint64_t snap_skipped;         /* snapshots skipped (no free buffer, error) */
	bool snap_nomem;               /* no memory for the buffers: none are taken */

	/* The audit observer (tick thread only). */
	struct itd_observer next;      /* where events go on to */
	itd_store_payload_fn payload;  /* encodes a payload, or NULL: no observer */
	void *payload_ctx;             /* its argument */
	struct itd_value *pre;         /* the state before this tick's effect */
	size_t n_pre;                  /* slots in pre */
	char *pbuf;                    /* one payload (ITD_AUDIT_MAX_DATA bytes) */
	uint8_t *notes;                /* this tick's notes */
	size_t notes_cap, notes_used;  /* its size and fill */
	uint64_t notes_dropped;        /* notes this tick that did not fit */
	uint64_t notes_lost;           /* all such notes (read by other threads) */
};

/* store_observe.c: the overflow note (if any) closing the tick's notes. */
void itd_store_notes_close(struct itd_store *st, uint64_t tick, int64_t time_ms);

#endif
