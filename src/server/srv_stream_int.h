/* srv_stream_int.h: what the two halves of the live event stream share,
 * private to srv_stream_ring.c (the ring, fed as a telemetry sink) and
 * srv_stream_sse.c (the SSE clients, the waker, GET /api/v1/stream).
 *
 * Locking: the state of struct srv_stream and of its linked clients is
 * guarded by srv_stream.mu; functions marked "under mu" expect the caller
 * to hold it.
 * The design (ring layout, cursors, gaps, backpressure) is described at the
 * top of each .c file. */
#ifndef ITD_SRV_STREAM_INT_H
#define ITD_SRV_STREAM_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "srv_int.h"

#define ARENA_PER_EVENT 768               /* arena bytes per ring slot */
#define ARENA_MIN ((size_t)1 << 20)       /* smallest arena */
#define BLOCK_SIZE ((size_t)32 * 1024)     /* MHD's send buffer per client */
#define NS_PER_MS UINT64_C(1000000)
#define HEARTBEAT_NS (15000 * NS_PER_MS)  /* idle time before ": ping" */
#define WAKE_MIN_NS (1 * NS_PER_MS)       /* least time between wake rounds */
#define WAKE_MAX_NS (10 * NS_PER_MS)      /* ... with many clients */
#define SCAN_NS (250 * NS_PER_MS)         /* waker period without events */
#define PROBE_NS (1000 * NS_PER_MS)       /* sleeping sockets checked for EOF */
#define CUT_GRACE_NS (1000 * NS_PER_MS)   /* before a blocked socket is shut */
#define CLOSE_WAIT_NS (2000 * NS_PER_MS)  /* close_all waits for clients */
#define SNDBUF_BYTES (64 * 1024)          /* stream sockets' SO_SNDBUF (doubled by Linux) */
#define MAX_PREFIXES 16                   /* ?event= prefixes per client */
#define FILTER_LEN 64                     /* longest prefix or intent id + 1 */
#define CTL_CAP 256                       /* a client's control messages */

static const char MSG_SHUTDOWN[] = "event: shutdown\ndata: {}\n\n";
static const char MSG_PING[] = ": ping\n\n";
static const char MSG_HELLO[] = "retry: 1000\n\n";

/* An event held in the ring. */
struct ev {
	uint64_t seq;           /* envelope seq */
	uint64_t pos;           /* arena position of its SSE message */
	uint32_t len;           /* message bytes */
	uint32_t data;          /* offset of the JSON line in the message */
	uint32_t line_len;      /* JSON line bytes (without the newline) */
	uint32_t iid;           /* offset of payload.intent_id's value; 0: none */
	uint8_t name;           /* offset of the event name */
	uint8_t name_len;       /* its length */
	uint8_t iid_len;        /* intent id length */
};

struct client {
	struct client *prev, *next;       /* in srv_stream.clients */
	struct srv_stream *st;            /* the stream */
	struct MHD_Connection *conn;      /* its connection (NULL in unit tests) */
	int fd;                           /* its socket, for cutting it off */
	bool linked;                      /* in the list */
	bool suspended;                   /* the reader suspended the connection */
	bool ending;                      /* the last message is queued in ctl */
	bool cut;                         /* counted as cut off */
	bool shut;                        /* its socket was shut down */
	bool gone;                        /* the peer closed while it slept */
	uint64_t ord;                     /* next entry to consider */
	uint32_t off;                     /* bytes of entry ord already sent */
	uint64_t last_seq;                /* last seq passed (sent or filtered) */
	uint64_t allow;                   /* backlog allowance (resume catch-up) */
	uint64_t last_send_ns;            /* when bytes last went to MHD */
	uint64_t cut_ns;                  /* when it was cut off */
	char ctl[CTL_CAP];                /* pending control messages */
	size_t ctl_len, ctl_off;          /* their length, bytes already sent */
	size_t n_prefix;                  /* event name prefixes (0: all) */
	char prefix[MAX_PREFIXES][FILTER_LEN];
	uint8_t prefix_len[MAX_PREFIXES];
	char intent_id[FILTER_LEN];       /* "" : any */
	size_t intent_id_len;
};

struct srv_stream {
	struct itd_server *srv;           /* the server (NULL in unit tests) */
	pthread_mutex_t mu;               /* guards everything below */
	pthread_cond_t wake;              /* wakes the waker */
	pthread_cond_t left;              /* a client left */
	pthread_t waker;                  /* the waker thread */
	bool waker_running;               /* started and not yet joined */
	char *arena;                      /* SSE messages */
	size_t arena_cap;                 /* its bytes */
	struct ev *idx;                   /* index ring (power-of-two slots) */
	uint64_t idx_mask;                /* slots - 1 */
	size_t ring;                      /* events held at most */
	uint64_t tail, head;              /* ordinals held: [tail, head) */
	uint64_t apos;                    /* arena position of the next message */
	uint64_t last_seq;                /* newest seq appended (0: none) */
	size_t client_buffer;             /* backlog bytes a client may add */
	struct client *clients;           /* connected clients */
	bool dirty;                       /* events appended since the last wake */
	bool closing;                     /* close_all: streams are ending */
	bool stop;                        /* the waker exits */
	uint64_t closing_ns;              /* when closing began */
	struct MHD_Connection **wakelist; /* waker's resume batch */
	size_t wake_cap;                  /* its capacity */
	uint64_t bad_lines;               /* lines without seq or event */
	struct srv_stream_stats stats;    /* counters */
};

struct parse_ctx {
	struct client *c;     /* gets the prefixes */
	bool bad;             /* too many or too long */
};

/* Under mu: the index slot of ordinal ord (meaningful for ordinals in
 * [tail, head)). */
static inline struct ev *srv_stream_entry(const struct srv_stream *st, uint64_t ord)
{
	return &st->idx[ord & st->idx_mask];
}

/* Under mu: where e's SSE message starts in the arena (e->len bytes, never
 * wrapped).  Valid while e is held. */
static inline char *srv_stream_msg_at(const struct srv_stream *st, const struct ev *e)
{
	return st->arena + e->pos % st->arena_cap;
}

/* ------------------------------------------------ srv_stream_ring.c */

/* Split one JSONL envelope line (line, n bytes, no newline) into what the
 * ring indexes: *seq and its decimal digits (*digits, *n_digits), the event
 * name (*name, *name_len) and payload.intent_id (*iid, *iid_len; NULL and
 * 0 when absent, escaped or longer than 255 bytes).  The pointers point
 * into line.  Returns false for a line without a usable seq (1 to 20
 * digits) or event name (1 to 255 bytes); the OUT values are then
 * unspecified. */
bool srv_stream_parse_line(const char *line, size_t n, uint64_t *seq, const char **digits,
			   size_t *n_digits, const char **name, size_t *name_len, const char **iid,
			   size_t *iid_len);

/* Under mu: the first ordinal in [tail, head) whose seq > after, or head
 * if there is none. */
uint64_t srv_stream_ring_find(const struct srv_stream *st, uint64_t after);

/* ------------------------------------------------- srv_stream_sse.c */

/* The waker thread's body (arg is the stream), started by
 * srv_stream_create and joined by srv_stream_close_all or
 * srv_stream_destroy: it takes mu, resumes suspended clients that have
 * work, sends heartbeats, cuts off blocked clients and probes sleeping
 * sockets until st->stop is set.  Returns NULL. */
void *srv_stream_waker_main(void *arg);

/* Under mu: fill buf (max bytes) with what c should receive next (control
 * messages, then ring messages from its cursor), advancing the cursor; a
 * client too far behind gets a gap marker and cut_off and then ends.
 * Returns the bytes written, 0 for nothing now,
 * MHD_CONTENT_READER_END_OF_STREAM after the final message, or
 * MHD_CONTENT_READER_END_WITH_ERROR (peer gone, or a half-sent message
 * was evicted).  Never calls MHD. */
ssize_t srv_stream_fill(struct srv_stream *st, struct client *c, char *buf, size_t max,
			uint64_t now);

/* Under mu: true if c's reader would have anything to do at now.  Passes
 * (advances c's cursor over) events c's filters reject. */
bool srv_stream_has_work(struct srv_stream *st, struct client *c, uint64_t now);

/* Under mu: place c's cursor (after seq `after` when resume, else at the
 * live edge), queue the hello, link c into st's client list and count it.
 * c must be zeroed apart from its filters, st, conn and fd; it stays
 * linked until srv_stream_client_free (or srv_stream_destroy). */
void srv_stream_client_start(struct srv_stream *st, struct client *c, bool resume, uint64_t after,
			     uint64_t now);

/* MHD's free callback (cls is a struct client): takes mu, unlinks the
 * client if linked, wakes srv_stream_close_all, and frees it with
 * itd_free.  Must not be called with mu held. */
void srv_stream_client_free(void *cls);

/* An MHD_KeyValueIterator (cls is a struct parse_ctx): adds the
 * comma-separated prefixes of an "event" value to cls->c's filters; other
 * keys are ignored.  Sets cls->bad and returns MHD_NO if there would be
 * more than MAX_PREFIXES or one is FILTER_LEN bytes or longer. */
enum MHD_Result srv_stream_add_prefixes(void *cls, enum MHD_ValueKind kind, const char *key,
					const char *value);

/* Parse a decimal seq into *out.  Returns false (leaving *out alone) for
 * NULL, "", anything but digits, or a value that does not fit. */
bool srv_stream_parse_seq(const char *s, uint64_t *out);

#endif
