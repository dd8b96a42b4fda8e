/* store_journal_int.h: the journal's private state and record framing,
 * shared by store_journal.c (queue, writer, tickets), store_journal_db.c
 * (SQLite: open, schema, batch write) and store_journal_read.c (readers). */
#ifndef ITD_STORE_JOURNAL_INT_H
#define ITD_STORE_JOURNAL_INT_H

#include <pthread.h>
#include <sqlite3.h>

#include "store_audit.h"
#include "store_journal.h"

/* Records sit in the byte ring back to back, each starting with a header
 * and padded to JREC_ALIGN.  A header that would not fit before the end of
 * the ring is implied: the reader skips to offset 0 when fewer than
 * sizeof(struct jrec_hdr) bytes remain, or at a JREC_PAD record. */
#define JREC_ALIGN 8u

enum jrec_type {
	JREC_PAD = 1,                      /* skip to the ring's start */
	JREC_INPUT,                        /* struct jrec_input + actor + data */
	JREC_TICK,                         /* struct jrec_tick + n_auto u64 LE + notes */
	JREC_SNAPSHOT,                     /* struct jrec_snap + data */
};

struct jrec_hdr {
	uint32_t size;                     /* whole record, header and padding included */
	uint32_t type;                     /* enum jrec_type */
	uint64_t ticket;                   /* its ticket (0 for PAD) */
};

struct jrec_input {
	uint64_t arrival;                  /* arrival number */
	uint64_t seq;                      /* reserved seq or 0 */
	int64_t wall_ms;                   /* wall time */
	uint32_t kind;                     /* input kind */
	uint32_t actor_len;                /* actor bytes that follow (UINT32_MAX: NULL actor) */
	uint64_t len;                      /* data bytes after the actor */
};

struct jrec_tick {
	uint64_t tick;                     /* tick number */
	uint64_t last_arrival;             /* last arrival applied */
	uint64_t state_hash;               /* state hash */
	uint64_t tel_seq;                  /* telemetry seq */
	uint64_t slip_ns;                  /* how late the tick started */
	int64_t time_ms;                   /* its time (INT64_MIN: not known) */
	uint64_t tel_start;                /* telemetry seq before its first event
					      (UINT64_MAX: not known) */
	uint64_t n_auto;                   /* u64 LE seqs that follow */
	uint64_t notes_len;                /* note bytes after the seqs */
	uint64_t notes_ref;                /* nonzero: the notes are not in the ring
					      but at this address (a tick too big
					      for the queue, itd_journal_tick) */
};

/* A note in a tick's note bytes: this header, then kind, subject, actor,
 * type, status and data back to back, padded to JREC_ALIGN. */
struct jnote {
	int64_t time_ms;                   /* the tick's time */
	uint64_t seq;                      /* intent seq or 0 */
	uint32_t len[6];                   /* kind, subject, actor, type, status, data */
};

struct jrec_snap {
	uint64_t tick;                     /* tick of the snapshot */
	uint64_t len;                      /* data bytes that follow */
	uint64_t checksum;                 /* itd_hash64(data, len, JSNAP_SEED) */
	uint64_t ref;                      /* nonzero: the data is not in the ring but at
					      this address (itd_journal_snapshot_ref) */
};

/* Seed of the snapshot checksum ("itd-snap"). */
#define JSNAP_SEED UINT64_C(0x697464736e617000)

/* An input block being built (store_journal_block.c has the layout). */
struct jblock {
	uint8_t *buf;                      /* the encoded records */
	size_t len, cap;                   /* bytes used, allocated */
	uint64_t first, last, n;           /* first and last arrival, records */
};
/* A block is written out once it holds this much (a batch larger than
 * this spans several rows). */
#define JBLOCK_FLUSH_BYTES (1u << 20)

/* Append one input (arrivals strictly increasing); grows the buffer. */
int itd_jblock_add(struct jblock *b, uint64_t arrival, uint64_t seq, int64_t wall_ms,
		   uint32_t kind, const char *actor, size_t actor_len, const void *data, size_t len);
/* Empty the block (its buffer is kept). */
void itd_jblock_reset(struct jblock *b);
void itd_jblock_free(struct jblock *b);
/* Check a stored block against its row (first and last arrival, count),
 * then call fn for each record with arrival > after.  ITD_EVERIFY if the
 * block does not decode exactly (before any callback), else fn's code. */
int itd_jblock_walk(const uint8_t *data, size_t len, uint64_t first, uint64_t last, uint64_t n,
		    uint64_t after, itd_journal_input_fn fn, void *ctx);

/* A range of tickets a failure discarded: waiting on one reports ITD_EIO
 * even after a reopen has made later tickets durable. */
struct jlost {
	uint64_t lo, hi;                   /* inclusive range */
};
#define JLOST_MAX 16

/* What one commit carried, for publishing. */
struct jbatch {
	size_t start;                      /* ring offset of its first byte */
	size_t bytes;                      /* ring bytes it spans (padding included) */
	uint64_t last_ticket;              /* its last ticket */
	uint64_t records;                  /* records in it */
	uint64_t last_arrival;             /* highest arrival in it (0: none) */
	uint64_t last_tick;                /* highest tick in it (0: none) */
	uint64_t snaps_pruned;             /* older snapshots it deleted */
};

struct itd_journal {
	char *dir;                         /* data directory */
	char *path;                        /* DIR/intentd.db */
	char *vfs;                         /* SQLite VFS name, or NULL */
	char *scenario_name;               /* for mismatch messages */
	uint8_t sha[ITD_SHA256_LEN];       /* scenario SHA-256 */
	bool have_sha;                     /* sha is set (meta check wanted) */
	struct itd_journal_meta meta;      /* seed and rate (pointers unused after open) */
	int busy_ms;                       /* busy timeout */
	bool readonly;                     /* opened for reading only */
	bool full_check;                   /* db_open: always run the integrity check */
	bool check_pending;                /* db_open left the check to the checker thread */
	pthread_t checker;                 /* the background integrity check */
	bool checker_running;              /* started and not joined */
	sqlite3 *check_db;                 /* its connection (guarded by lock), to interrupt */
	bool check_failed;                 /* it found damage: the writer fails the journal */
	char check_why[256];               /* what it found */

	/* Owned by whoever runs the writer loop (the writer thread, or open
	 * and reopen while no writer runs). */
	sqlite3 *db;                       /* the writing connection */
	sqlite3_stmt *st_input;            /* INSERT INTO input_block */
	struct jblock iblock;              /* the batch's inputs, as they are written */
	sqlite3_stmt *st_tick;             /* INSERT INTO tick */
	sqlite3_stmt *st_snap;             /* INSERT OR REPLACE INTO snapshot */
	sqlite3_stmt *st_snap_prune;       /* DELETE all but the newest keep_snapshots */
	uint64_t keep_snapshots;           /* see itd_journal_config */
	sqlite3_stmt *st_begin;            /* BEGIN */
	sqlite3_stmt *st_commit;           /* COMMIT */
	sqlite3_stmt *st_rollback;         /* ROLLBACK */
	sqlite3_stmt *st_intent;           /* upsert INTO intent */
	sqlite3_stmt *st_intent_link;      /* add an audit block to an intent's row */
	struct jnote_ref *latest;          /* write_notes: each intent's last note of
					      the tick (writer only; grown as needed) */
	size_t latest_cap;
	struct itd_audit_store ast;        /* the audit table's statements */
	struct itd_audit_chain chain;      /* the audit chain's tail (and signer) */
	int wal_frames;                    /* WAL size after the last commit (wal hook) */

	pthread_t writer;                  /* the writer thread */
	bool writer_running;               /* writer was started and not joined */

	pthread_mutex_t lock;              /* guards everything below */
	pthread_cond_t work;               /* writer: records queued, or stop */
	pthread_cond_t done;               /* waiters: durable or failed moved */
	uint8_t *ring;                     /* the queue: cap bytes, allocated at open */
	size_t cap;                        /* ring size (multiple of JREC_ALIGN) */
	size_t head;                       /* next write offset */
	size_t tail;                       /* oldest uncommitted byte */
	size_t used;                       /* bytes between tail and head, gaps included */
	uint64_t next_ticket;              /* the next ticket handed out */
	uint64_t durable;                  /* highest durable ticket */
	uint64_t q_arrival, q_tick;        /* last arrival / tick appended */
	uint64_t d_arrival, d_tick;        /* last arrival / tick durable */
	bool stop;                         /* close or reopen asked the writer to finish */
	bool closing;                      /* close or reopen under way: refuse appends */
	bool sync_ready;                   /* lock and condvars initialised */
	bool failed;                       /* a commit failed: refuse until reopen */
	int holding_inputs;                /* a tick record waits for room: inputs
					      are refused (ITD_EFULL) meanwhile */
	uint64_t oldest_ns;                /* when the oldest record not yet durable
					      was appended (valid while used) */
	uint64_t after_take_ns;            /* when the first record after the writer's
					      batch was appended (valid while
					      after_take) */
	bool after_take;                   /* records came after the batch in flight */
	bool urgent;                       /* an input is queued and not yet taken */
	unsigned hurry;                    /* waits that want the next commit now */
	uint64_t linger_ns;                /* see itd_journal_config.linger_ms */
	char why[256];                     /* why it failed */
	struct jlost lost[JLOST_MAX];      /* most recent discarded ticket ranges */
	unsigned n_lost;                   /* ranges ever recorded (index mod JLOST_MAX) */
	struct itd_journal_stats stats;    /* counters */
};

/* store_journal_db.c.  All return ITD_* codes and write a message to err. */
/* Run sql on db; on failure "PATH: sql: sqlite's message" in err. */
int itd_journal_db_exec(struct itd_journal *j, sqlite3 *db, const char *sql, char *err,
			size_t cap);
/* Record an SQLite failure in err ("PATH: what: sqlite's message") and map
 * its code. */
int itd_journal_db_fail(struct itd_journal *j, sqlite3 *db, int src, const char *what, char *err,
			size_t cap);
/* Write the block b as a row of input_block (st prepared with
 * ITD_JOURNAL_INSERT_BLOCK) and empty it: an SQLite code. */
#define ITD_JOURNAL_INSERT_BLOCK \
	"INSERT INTO input_block(first, last, n, data) VALUES(?1, ?2, ?3, ?4)"
int itd_journal_put_block(sqlite3_stmt *st, struct jblock *b);
/* Upgrade a journal of an older format (2 or 3) to ITD_JOURNAL_FORMAT
 * (store_journal_upgrade.c). */
int itd_journal_db_upgrade(struct itd_journal *j, sqlite3 *db, int64_t format, char *err,
			   size_t cap);

/* Open j->path on j->db (creating schema and meta when new and `create`),
 * check it, prepare the statements and report the last durable tick and
 * arrival.  On error everything it opened is closed again. */
int itd_journal_db_open(struct itd_journal *j, bool create, uint64_t *last_tick_out,
			uint64_t *last_arrival_out, char *err, size_t cap);
/* Finalize the statements and close j->db (NULL-safe). */
void itd_journal_db_close(struct itd_journal *j);
/* Write the batch's records (in the ring) in one transaction and commit;
 * fills in b->records, b->last_arrival and b->last_tick. */
int itd_journal_db_write(struct itd_journal *j, struct jbatch *b, char *err, size_t cap);
/* Checkpoint the WAL if it has grown; SQLITE_BUSY is not an error. */
int itd_journal_db_checkpoint(struct itd_journal *j, char *err, size_t cap);
/* Databases up to this size are checked (PRAGMA quick_check) before open
 * returns; larger ones in the background (the check reads the whole file). */
#define ITD_JOURNAL_SYNC_CHECK_BYTES (64u << 20)
/* Run PRAGMA quick_check on db: 0, or ITD_EVERIFY with what it found. */
int itd_journal_db_integrity(struct itd_journal *j, sqlite3 *db, char *err, size_t cap);
/* Open a read-only connection on j's database. */
int itd_journal_db_reader(struct itd_journal *j, sqlite3 **out);
/* The condition of the partial index intent_live: an intent that is not
 * (yet) in a terminal status.  Queries repeat it word for word so that
 * SQLite knows the index covers them.  Comparisons, not NOT IN: an IN list
 * costs every insert a temporary table. */
#define ITD_STORE_LIVE_TERM \
	"(status <> 'completed' AND status <> 'failed' AND status <> 'cancelled'" \
	" AND status <> 'expired' AND status <> 'denied')"

/* The seq an audit subject names ("i-000042": 42), or 0 if it names none. */
uint64_t itd_journal_subject_seq(const char *s, size_t len);
/* itd_journal_read_inputs on an open connection (store_journal_read.c). */
int itd_journal_db_inputs(sqlite3 *db, uint64_t after_arrival, itd_journal_input_fn fn,
			  void *ctx);
/* An SQLite result code as an ITD_* code. */
int itd_journal_sqlite_rc(int rc);

/* Round n up to the record alignment. */
static inline size_t jrec_align(size_t n)
{
	return (n + JREC_ALIGN - 1) & ~(size_t)(JREC_ALIGN - 1);
}

#endif
