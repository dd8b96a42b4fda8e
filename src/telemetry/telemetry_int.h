/* telemetry_int.h: private to src/telemetry: the JSON writer's state, the
 * redaction trie it consults, and the telemetry instance with its chunked
 * buffer and sink threads.  Nothing outside this folder includes it. */
#ifndef ITD_TELEMETRY_INT_H
#define ITD_TELEMETRY_INT_H

#include <pthread.h>

#include "telemetry/telemetry.h"

#if defined(__GNUC__)
#define TEL_LIKELY(x) __builtin_expect(!!(x), 1)
#define TEL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define TEL_LIKELY(x) (x)
#define TEL_UNLIKELY(x) (x)
#endif

/* ------------------------------------------------------------ JSON writer */

/* Nesting the redaction tracker follows; deeper containers are written
 * normally but no rule can match below this depth. */
#define TEL_JW_MAX_DEPTH 63

/* Text of "hmac-sha256:" + 64 hex digits, quoted. */
#define TEL_HMAC_PREFIX "hmac-sha256:"
#define TEL_REDACT_MAX_TEXT (2 + sizeof(TEL_HMAC_PREFIX) - 1 + 2 * ITD_SHA256_LEN)

struct tel_redactor;

enum tel_red_state {
	TEL_RED_NONE,   /* no redaction under way */
	TEL_RED_ARMED,  /* the next value belongs to a matching key */
	TEL_RED_INSIDE, /* inside a redacted object or array */
};

struct itd_jw {
	char *p;                    /* next byte to write */
	char *end;                  /* one past the last writable byte; == p after overflow */
	char *buf;                  /* start of the text written since reset */
	bool comma;                 /* the next member or element needs a comma first */
	bool overflow;              /* ran out of room; later writes are ignored */
	uint8_t red_state;          /* enum tel_red_state */
	/* Redaction tracking; untouched while rd is NULL. */
	struct tel_redactor *rd;    /* rules, or NULL: no path tracking at all */
	uint32_t depth;             /* containers open below the writer's root */
	uint32_t red_depth;         /* depth outside the redacted container */
	uint32_t red_rule;          /* index of the matching rule */
	char *red_start;            /* first byte of the redacted value's text */
	const void *pending;        /* trie node of the last key (its value's node) */
	const void *node[TEL_JW_MAX_DEPTH + 1]; /* trie node of each open container */
	uint64_t is_arr;            /* bit d: container at depth d is an array */
};

/* Format a double as JSON (number or null) into p, which must have room
 * for TEL_NUM_MAX bytes; returns the new end.  Deterministic. */
#define TEL_NUM_MAX 32
/* tel_resume.c: an event line's envelope seq (false: none), and whether
 * it is an event of run_id. */
bool tel_line_seq(const char *line, size_t n, uint64_t *seq);
bool tel_line_of_run(const char *line, size_t n, const char *run_id);
/* Advance *data and *len past the whole lines whose seq is <= through; false
 * once a later one is found (nothing more to skip, ever: seqs grow). */
bool tel_skip_lines(const char **data, size_t *len, uint64_t through);

char *tel_dtoa(char *p, double v);
/* Decimal digits of v into p (room for 20 bytes); returns the new end. */
char *tel_utoa(char *p, uint64_t v);

/* Position w on [buf, buf + cap) with no rules: an empty root. */
void tel_jw_init(struct itd_jw *w, char *buf, size_t cap);
/* Copy n raw bytes (already valid JSON text). */
void tel_jw_raw(struct itd_jw *w, const char *s, size_t n);
/* Write s as a JSON string without the comma/redaction logic (envelope). */
void tel_jw_rawstr(struct itd_jw *w, const char *s, size_t n);

/* -------------------------------------------------------------- redaction */

/* Build the rule trie from the configuration.  Rules must start with
 * "payload." and have non-empty components; ITD_EINVAL otherwise. */
int tel_redactor_create(const struct itd_tel_redact *rules, size_t n, const uint8_t *key,
			size_t key_len, struct tel_redactor **out);
void tel_redactor_destroy(struct tel_redactor *rd);
/* Start tracking a new payload: the writer's root is the payload object. */
void tel_redact_begin(struct itd_jw *w, struct tel_redactor *rd);
/* Bytes the redacted_fields member may need at most (with its comma). */
size_t tel_redact_fields_max(const struct tel_redactor *rd);
/* Append ,"redacted_fields":[...] (comma only if the payload has members). */
void tel_redact_write_fields(struct itd_jw *w, const struct tel_redactor *rd);
/* How many rules fired in the event being written (0 without rules). */
size_t tel_redact_hits(const struct tel_redactor *rd);
/* Writer hooks, called only while w->rd != NULL (or red_state != NONE). */
void tel_red_key(struct itd_jw *w, const char *key, size_t n);
void tel_red_push(struct itd_jw *w, bool is_arr);
void tel_red_pop(struct itd_jw *w);
void tel_red_finish(struct itd_jw *w);

/* ------------------------------------------------------------ the buffer */

struct tel_chunk {
	char *data;                 /* chunk_bytes of storage */
	size_t len;                 /* committed bytes: whole lines (tick thread) */
	uint64_t n_events;          /* events in those bytes (tick thread) */
	size_t pub_len;             /* bytes handed to the sinks (under mu) */
	uint64_t pub_events;        /* events in them (under mu) */
	bool closed;                /* full: nothing more will be published */
	uint64_t serial;            /* order of acquisition, to find the oldest */
	unsigned refs;              /* sinks whose queue holds it */
	struct tel_chunk *next_free; /* free-list link */
};

struct tel_sink {
	struct itd_tel *t;          /* owner */
	char *name;                 /* label in stats and telemetry.delayed */
	const struct itd_sink_ops *ops; /* callbacks */
	void *ctx;                  /* callbacks' state (owned) */
	pthread_t thread;           /* writer thread */
	pthread_cond_t cond;        /* work queued, drain requested, or stop */
	struct tel_chunk **q;       /* ring of queued chunks, n_chunks slots */
	size_t q_head;              /* index of the oldest queued chunk */
	size_t q_len;               /* queued chunks */
	size_t off;                 /* bytes of the head chunk already written */
	uint64_t ev_off;            /* events of the head chunk already written */
	bool writing;               /* inside write() on the head chunk */
	uint64_t skip_through;      /* events up to this seq are not written
				       (a resumed run's re-emitted events the
				       sink has, or cannot tell it has) */
	uint64_t lag_events;        /* published events not yet written */
	uint64_t lag_bytes;         /* published bytes not yet written */
	uint64_t flushed_gen;       /* last drain generation flushed */
	/* Counters, under the mutex. */
	uint64_t events;            /* events handed to write() */
	uint64_t bytes;             /* bytes written successfully */
	uint64_t dropped;           /* events dropped for this sink */
	uint64_t write_errors;      /* failed write() calls */
	int last_error;             /* last write() error code, 0 if none */
	/* Tick-thread only: what the last telemetry.delayed reported. */
	uint64_t rep_dropped;       /* dropped at the last report */
	uint64_t rep_errors;        /* write_errors at the last report */
	/* Tick-thread only: counters snapshotted for the report being written. */
	uint64_t snap_dropped;      /* dropped */
	uint64_t snap_errors;       /* write_errors */
	uint64_t snap_lag_events;   /* lag_events */
	uint64_t snap_lag_bytes;    /* lag_bytes */
	int snap_last_error;        /* last_error */
};

struct itd_tel {
	/* Configuration, fixed after create. */
	enum itd_tel_policy policy;  /* drop-oldest or block */
	bool flush_every_tick;       /* publish partial chunks at each tick end */
	bool hold_ticks;             /* full chunks wait for the tick end too */
	struct tel_chunk **held;     /* full chunks held until the tick end, or
					until released (n_chunks, oldest first) */
	size_t n_held;               /* how many */
	struct tel_mark *marks;      /* ticks ended but not yet released, oldest
					first (hold_ticks; tel_hold.c) */
	size_t marks_cap;            /* ring size */
	size_t m_head, m_len;        /* the oldest and how many */
	size_t max_event;            /* largest event line, bytes */
	size_t chunk_bytes;          /* bytes per chunk */
	size_t n_chunks;             /* chunks allocated */
	char *runid_part;            /* ,"run_id":"...","cycle": */
	size_t runid_part_len;       /* its length */
	char *suffix;                /* },"tags":{...}}\n */
	size_t suffix_len;           /* its length */
	size_t reserve;              /* bytes kept free for the event trailer */
	struct tel_redactor *rd;     /* redaction rules, or NULL */
	/* Tick-thread state. */
	struct itd_jw w;             /* the writer of the current event */
	struct tel_chunk *cur;       /* chunk being filled, or NULL */
	uint64_t seq;                /* last seq assigned */
	bool in_event;               /* between begin and end */
	const char *ev_name;         /* current event's name (for truncation) */
	const char *ev_source;       /* its source */
	uint64_t ev_cycle;           /* its cycle */
	int64_t ev_ts;               /* its stamp */
	bool ts_valid;               /* ts_str holds the stamp of ts_ms */
	int64_t ts_ms;               /* stamp of ts_str */
	char ts_str[ITD_ISO_LEN + 1]; /* cached ISO stamp */
	uint64_t n_lost;             /* events too large even to report as truncated */
	/* Shared with the sink threads, under mu. */
	pthread_mutex_t mu;          /* guards everything below */
	pthread_cond_t free_cond;    /* a chunk went back to the free list */
	pthread_cond_t drain_cond;   /* a sink finished a drain generation */
	char *arena;                 /* storage of all chunks */
	struct tel_chunk *chunks;    /* n_chunks chunk headers */
	struct tel_chunk *free;      /* free list */
	uint64_t serial;             /* last chunk serial */
	uint64_t drain_gen;          /* current drain generation */
	bool stop;                   /* sink threads must exit once idle */
	struct tel_sink **sinks;     /* attached sinks */
	size_t n_sinks;              /* how many */
};

/* Where a tick's events end in the buffer (itd_tel_tick_mark): in the chunk
 * of this serial, at len bytes and events events; len SIZE_MAX: the whole
 * of that chunk (it filled up at the tick's last event). */
struct tel_mark {
	uint64_t cycle;
	uint64_t serial;
	size_t len;
	uint64_t events;
};

/* tel_core.c: emit telemetry.delayed if a sink's drop or error count moved
 * since the last report (at each tick end). */
void tel_report_delays(struct itd_tel *t, uint64_t cycle, int64_t ts_ms);

/* tel_hold.c: holding ticks' events back until released. */
int tel_hold_init(struct itd_tel *t);
void tel_hold_fini(struct itd_tel *t);
/* Hand every held chunk to the sinks and forget the marks. */
void tel_hold_release_all(struct itd_tel *t);

/* Allocate the chunks (create) and free them (destroy). */
int tel_buf_init(struct itd_tel *t, size_t buffer_bytes);
void tel_buf_fini(struct itd_tel *t);
/* A chunk to fill, already queued to every sink: from the free list, by
 * dropping the oldest queued chunk (drop policy) or by waiting for one
 * (block policy).  Never NULL. */
struct tel_chunk *tel_buf_acquire(struct itd_tel *t);
/* Hand c's committed lines to the sinks; `close` when c is full (it goes
 * back to the free list once every sink has written or dropped it). */
void tel_buf_publish(struct itd_tel *t, struct tel_chunk *c, bool close);
/* Hand c's lines to the sinks up to len bytes holding `events` events,
 * without closing it (a released tick's end inside it). */
void tel_buf_publish_to(struct itd_tel *t, struct tel_chunk *c, size_t len, uint64_t events);
/* Start a sink's thread and attach it (tick thread, no chunk current). */
int tel_buf_add_sink(struct itd_tel *t, const char *name, const struct itd_sink_ops *ops,
		     void *ctx);
/* Wait until every sink has written and flushed all that was published. */
void tel_buf_wait_drained(struct itd_tel *t);
/* Stop and join the sink threads, close the sinks and free them. */
void tel_buf_stop_sinks(struct itd_tel *t);

#endif
