/* store_journal.h: the durable journal (SPEC §8): inputs, ticks and snapshots
 * appended from any thread into a bounded queue, committed to SQLite by one
 * writer thread in group commits, acknowledged by ticket. */
#ifndef ITD_STORE_JOURNAL_H
#define ITD_STORE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

/* The on-disk format this build writes and reads (meta key format_version). */
#define ITD_JOURNAL_FORMAT 4
/* The database file inside the data directory. */
#define ITD_JOURNAL_DB "intentd.db"
/* Default byte budget of the append queue. */
#define ITD_JOURNAL_QUEUE_DEFAULT (16u << 20)

/* What a data directory was created for.  Stored at creation; on reopen the
 * scenario's SHA-256 must match.  scenario_text NULL skips the check (the
 * offline tools, which take the scenario from the directory). */
struct itd_journal_meta {
	const char *scenario_name;         /* for messages ("spacecraft") */
	const void *scenario_text;         /* the scenario source bytes, or NULL */
	size_t scenario_len;               /* its length */
	uint64_t seed;                     /* the run seed */
	double rate;                       /* ticks per second (0: unpaced) */
};

struct itd_journal_config {
	const char *dir;                   /* data directory (created 0700 if missing) */
	bool create;                       /* create the directory and database if missing */
	bool readonly;                     /* offline tools: read only, no writer thread
					      (appends refuse with ITD_EIO); safe beside
					      a live server on the same directory */
	struct itd_journal_meta meta;      /* what this run is */
	size_t queue_bytes;                /* append queue budget; 0: ITD_JOURNAL_QUEUE_DEFAULT */
	int busy_timeout_ms;               /* SQLite busy timeout; 0: 5000 */
	const char *vfs;                   /* SQLite VFS name (tests); NULL: the default */
	const uint8_t *audit_sk;           /* Ed25519 secret key (64 bytes) to sign
					      audit checkpoints with, or NULL */
	uint64_t audit_every;              /* with audit_sk: a checkpoint after every
					      N entries (0: 1000) */
	uint64_t linger_ms;                /* while only idle ticks (no audit notes)
					      and snapshots are queued and nobody
					      waits for them (no input, no
					      itd_journal_wait), commit them at most
					      this long after the oldest, with whatever
					      joins them (0: at once).  Their telemetry
					      waits that much longer; an idle paced run
					      writes and syncs that much less often */
	uint64_t keep_snapshots;           /* after writing a snapshot, delete all but
					      the newest N (0: keep every one).
					      Snapshots are derived from the journal,
					      which is never pruned: nothing is lost */
};

/* One input as it arrived (the engine's intake, in arrival order). */
struct itd_journal_input {
	uint64_t arrival;                  /* arrival number; strictly increasing */
	uint32_t kind;                     /* the engine's input kind */
	uint64_t seq;                      /* SUBMIT: the reserved intent seq, else 0 */
	int64_t wall_ms;                   /* wall time of arrival */
	const char *actor;                 /* who asked, or NULL */
	const void *data;                  /* the serialized input (may be NULL if len 0) */
	size_t len;                        /* its length */
	bool control;                      /* an operator's control (cancel, console):
					      not refused to make room or for a
					      writer that is behind, as submissions are */
};

/* One tick's record: what it consumed and what it produced. */
struct itd_journal_tick {
	uint64_t tick;                     /* tick number; strictly increasing */
	uint64_t last_arrival;             /* last arrival this tick applied */
	uint64_t state_hash;               /* state hash at its end */
	uint64_t tel_seq;                  /* telemetry seq at its end */
	uint64_t slip_ns;                  /* how late it started (its engine.slip
					      event is replayed from this) */
	int64_t time_ms;                   /* its time (a paced run's wall clock),
					      replayed with it; INT64_MIN: not
					      known (format 2) */
	uint64_t tel_start;                /* telemetry seq before its first event:
					      events between ticks (telemetry.delayed,
					      store.*) are not the tick's, and its
					      events replay with the seqs they had;
					      UINT64_MAX: not known (format 2) */
	const uint64_t *auto_seqs;         /* seqs created on the tick thread, in order */
	uint32_t n_auto_seqs;              /* how many */
	const void *notes;                 /* the tick's audit notes (itd_journal_note_put), */
	size_t notes_len;                  /* chained and committed with the tick record */
};

/* One audit note: a decision the tick made, before it is chained.  The
 * writer appends it to the audit chain (store_audit.h) in the same
 * transaction as its tick, and, when it names an intent with a status,
 * updates that intent's row in the `intent` table (the offline queries'
 * index).  NULL strings mean "". */
struct itd_journal_note {
	int64_t time_ms;                   /* the tick's time */
	uint64_t seq;                      /* the intent's seq, or 0 */
	const char *kind;                  /* the event ("intent.blocked"); required */
	const char *subject;               /* the intent id, or NULL */
	const char *actor;                 /* who caused it, or NULL */
	const char *type;                  /* the intent's type name, or NULL */
	const char *status;                /* the intent's status after it, or NULL */
	const void *data;                  /* the payload (JSON), len bytes */
	size_t len;
};

/* Append note n to a tick's note buffer buf (cap bytes, *used in use).
 * Returns 0, ITD_EFULL if it does not fit (nothing written), ITD_ELIMIT
 * if a field is longer than the audit chain allows, ITD_EINVAL without a
 * kind. */
int itd_journal_note_put(uint8_t *buf, size_t cap, size_t *used, const struct itd_journal_note *n);

struct itd_journal_stats {
	uint64_t commits;                  /* transactions committed */
	uint64_t records;                  /* records committed */
	uint64_t bytes;                    /* queue bytes committed (record framing included) */
	uint64_t failures;                 /* commits (or checkpoints) that failed */
	uint64_t full;                     /* appends refused with ITD_EFULL */
	uint64_t max_batch;                /* most records in one commit */
	uint64_t durable_ticket;           /* highest ticket known durable */
	uint64_t snapshots_pruned;         /* older snapshots deleted (keep_snapshots) */
};

struct itd_journal;

/* Open (or create) the journal in cfg->dir: DIR/intentd.db in WAL mode with
 * synchronous=FULL.  A new database gets the schema and cfg->meta; an
 * existing one must carry ITD_JOURNAL_FORMAT and the same scenario (SHA-256
 * of its text), and pass PRAGMA quick_check.  Starts the writer thread.
 * Errors (message in err, *out NULL): ITD_EINVAL (bad config),
 * ITD_ENOTFOUND (no database and !create), ITD_ECONFIG (format or scenario
 * mismatch; both scenario names in err), ITD_EVERIFY (corrupt or not a
 * database), ITD_EIO (file system or SQLite failure), ITD_ENOMEM,
 * ITD_EINTERNAL (thread). */
int itd_journal_open(const struct itd_journal_config *cfg, struct itd_journal **out,
		     char *err, size_t cap);

/* Drain (commit everything queued), stop the writer and close.  Returns 0,
 * or ITD_EIO if the journal had failed or the final commit failed (what was
 * not durable then is lost, and was never reported durable).  NULL: no-op. */
int itd_journal_close(struct itd_journal *j);

/* Append an input, a tick record or a snapshot.  Any thread; never blocks
 * on I/O: the record is copied into the queue (the caller keeps its
 * buffers) and *ticket_out names it for itd_journal_wait().  Records commit
 * in append order.  Errors (*ticket_out 0): ITD_EFULL (queue budget
 * exhausted, or for a submission also: a quarter kept for tick records, a
 * tick record waiting for room, or the writer more than 20 ms behind with
 * over 256 KiB queued: answer 429 and retry later), ITD_EIO (the journal has
 * failed; see itd_journal_status), ITD_EINVAL (arrival or tick not above
 * the last one appended, NULL data with a length), ITD_ELIMIT (the record
 * is larger than the whole queue).  A snapshot replaces an earlier one of
 * the same tick; its checksum is computed here. */
int itd_journal_input(struct itd_journal *j, const struct itd_journal_input *rec,
		      uint64_t *ticket_out);
int itd_journal_tick(struct itd_journal *j, const struct itd_journal_tick *rec,
		     uint64_t *ticket_out);
int itd_journal_snapshot(struct itd_journal *j, uint64_t tick, const void *data, size_t len,
			 uint64_t *ticket_out);

/* As itd_journal_snapshot, without copying the bytes into the queue: the
 * writer reads them from `data` when it commits, so the caller must keep
 * them unchanged until itd_journal_wait(ticket, 0) reports the ticket
 * durable or failed.  For snapshots larger than is worth copying on the
 * tick thread. */
int itd_journal_snapshot_ref(struct itd_journal *j, uint64_t tick, const void *data, size_t len,
			     uint64_t *ticket_out);

/* Wait until `ticket` is durable (committed and fsync'd).  timeout_ms < 0
 * waits forever, 0 just looks.  Returns 0, ITD_EAGAIN (timed out), or
 * ITD_EIO (the commit carrying it failed, or the journal failed before it:
 * it is not durable and never will be reported so). */
int itd_journal_wait(struct itd_journal *j, uint64_t ticket, int64_t timeout_ms);
/* The same, until deadline_ns on CLOCK_MONOTONIC (itd_clock_mono_ns); a
 * deadline already past just looks.  Unlike itd_journal_wait it does not
 * hurry a lingering writer (linger_ms): for a loop that only looks whether
 * its tick is durable before the next is due. */
int itd_journal_wait_until(struct itd_journal *j, uint64_t ticket, uint64_t deadline_ns);

/* Health: 0, or ITD_EIO with the reason the journal failed in why. */
int itd_journal_status(struct itd_journal *j, char *why, size_t cap);

/* After a failure: stop the writer, close the database, open it again,
 * run the integrity check, reload the last tick and arrival, restart the
 * writer and accept appends again.  Also valid on a healthy journal (it
 * drains first).  Errors as itd_journal_open; on error the journal stays
 * failed and reopen may be retried. */
int itd_journal_reopen(struct itd_journal *j, char *err, size_t cap);

/* Counters since open (thread-safe snapshot). */
void itd_journal_stats(struct itd_journal *j, struct itd_journal_stats *out);

/* The last durable tick and arrival (0 if none): from the database at open,
 * then advanced by each commit.  Either pointer may be NULL. */
void itd_journal_last(struct itd_journal *j, uint64_t *last_tick_out,
		      uint64_t *last_arrival_out);

/* ------------------------------------------------------------ reading back */

/* Callbacks get records whose pointers are valid only during the call.  A
 * nonzero return stops the walk and is returned by the reader. */
typedef int (*itd_journal_input_fn)(void *ctx, const struct itd_journal_input *rec);
typedef int (*itd_journal_tick_fn)(void *ctx, const struct itd_journal_tick *rec);
/* A snapshot that failed its checksum (or could not be read) and was skipped. */
typedef void (*itd_journal_corrupt_fn)(void *ctx, uint64_t tick, const char *why);

/* The readers use their own read-only connection (safe while the writer
 * runs; they see what was committed when they start).  Errors: ITD_EIO or
 * ITD_EVERIFY (database unreadable), ITD_ENOMEM, or the callback's code. */

/* Every input with arrival > after_arrival, in arrival order. */
int itd_journal_read_inputs(struct itd_journal *j, uint64_t after_arrival,
			    itd_journal_input_fn fn, void *ctx);
/* Every tick record with tick > after_tick, in tick order. */
int itd_journal_read_ticks(struct itd_journal *j, uint64_t after_tick,
			   itd_journal_tick_fn fn, void *ctx);
/* The newest snapshot at or before `tick` whose checksum verifies:
 * *tick_out, and a copy of its bytes the caller frees with itd_free
 * (*data_out; NULL when len is 0).  Snapshots that fail are reported to
 * corrupt (may be NULL) and skipped.  ITD_ENOTFOUND if there is no valid
 * snapshot; OUT params zeroed on error. */
int itd_journal_snapshot_at_most(struct itd_journal *j, uint64_t tick, uint64_t *tick_out,
				 void **data_out, size_t *len_out, itd_journal_corrupt_fn corrupt,
				 void *ctx);

/* The last tick whose record's telemetry seq is at most `seq` (0: none)
 * and the telemetry seq the journal's last tick ends at (0: no tick).  It
 * reads the tick records after `seq` backwards from the end. */
int itd_journal_tick_at_seq(struct itd_journal *j, uint64_t seq, uint64_t *tick_out,
			    uint64_t *end_seq_out);

/* The oldest snapshot at or after tick `from` whose checksum verifies
 * (others are skipped), as itd_journal_snapshot_at_most.  ITD_ENOTFOUND if
 * there is none. */
int itd_journal_snapshot_from(struct itd_journal *j, uint64_t from, uint64_t *tick_out,
			      void **data_out, size_t *len_out);

/* Without opening the journal (nor upgrading an older format): the last
 * tick journaled in dir and whether any input was; zero and false when
 * there is no journal or it cannot be read (opening it then says why). */
void itd_journal_peek(const char *dir, uint64_t *last_tick_out, bool *inputs_out);

/* Upgrade the journal in dir to ITD_JOURNAL_FORMAT, as a server or sim
 * opening it would, without running anything (store_journal_upgrade.c).
 * *from_out is the format it had (ITD_JOURNAL_FORMAT: nothing to do).
 * ITD_ENOTFOUND (no journal), ITD_EVERIFY (not a journal, or damaged),
 * ITD_ECONFIG (a format this build cannot upgrade), ITD_EIO, with err. */
int itd_journal_upgrade(const char *dir, int64_t *from_out, char *err, size_t cap);

/* What the journal was opened for: the scenario text it recorded (NUL
 * terminated, itd_malloc'd: the caller frees), the seed and the rate.
 * ITD_ENOTFOUND if no scenario text was recorded. */
int itd_journal_read_meta(struct itd_journal *j, char **text_out, size_t *len_out,
			  uint64_t *seed_out, double *rate_out);

#endif
