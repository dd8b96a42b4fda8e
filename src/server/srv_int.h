/* srv_int.h: what the server's files share.  One concept per file:
 *
 *   srv_core.c     create/run/destroy: wires engine, telemetry, stream,
 *                  metrics, auth and the HTTP daemon; the tick thread with
 *                  pause/resume/step; graceful shutdown
 *   srv_http.c     the libmicrohttpd daemon: limits and timeouts, TLS,
 *                  body collection, routing by srv_routes, role checks,
 *                  JSON error bodies, per-route request counting
 *   srv_routes.c   the route table (method, path, role, metrics name, handler)
 *   srv_auth.c     tokens: file, environment, generated admin token; roles;
 *                  constant-time checks
 *   srv_json.c     request bodies (the submission parser) and intent
 *                  records as JSON, with their story
 *   srv_api.c      intents: submit (validation), list, get, cancel
 *   srv_api_state.c state, recent events, console
 *   srv_api_scenario.c the scenario's definition and the caller's identity,
 *                  for the dashboard's panels and forms
 *   srv_web.c      the dashboard: the page and its embedded assets
 *   srv_stream_ring.c the ring of recent events (a telemetry sink)
 *   srv_stream_sse.c  the SSE stream: resume by Last-Event-ID, gap
 *                  markers, filters, slow clients cut off
 *   srv_metrics.c  Prometheus exposition
 *   srv_durable.c  answers parked (connection suspended) until their input
 *                  is durable: one waiter thread resumes them
 *
 * Threads: the tick thread runs the engine holding state_lock for writing
 * during each tick; HTTP threads hold it for reading while they look at
 * the engine (never while they wait on a client).  Submissions, cancels
 * and console commands go through the engine's thread-safe intake.  With
 * --data a submission's answer waits for its journal record to be durable
 * without holding an HTTP thread (srv_durable.c). */
#ifndef ITD_SRV_INT_H
#define ITD_SRV_INT_H

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>

#include "engine/engine.h"
#include "server.h"
#include "store/store.h"
#include "telemetry/telemetry_events.h"

/* ------------------------------------------------------------- roles */

enum srv_role {
	SRV_OPEN = 0,      /* no token needed */
	SRV_VIEWER,        /* read */
	SRV_OPERATOR,      /* + submit, cancel */
	SRV_ADMIN,         /* + console */
};

/* "viewer", "operator", "admin" ("open" for SRV_OPEN). */
const char *srv_role_name(enum srv_role r);
/* Parse a role name ("open" included); -1 if unknown. */
int srv_role_parse(const char *name);

/* -------------------------------------------------------------- auth */

struct srv_token {
	char name[ITD_ACTOR_LEN];  /* who, as telemetry reports it */
	enum srv_role role;        /* what it may do */
	uint8_t digest[32];        /* SHA-256 of the secret (the secret is not kept) */
};

struct srv_auth {
	struct srv_token *tokens;  /* configured tokens */
	size_t n;
	char generated_path[512];  /* where a generated admin token was written, "" none */
};

/* Tokens from cfg->tokens_file, then INTENTD_ADMIN_TOKEN /
 * INTENTD_OPERATOR_TOKEN / INTENTD_VIEWER_TOKEN (named admin, operator,
 * viewer); with none at all, generate an admin token (32 random bytes,
 * hex), store it mode 0600 in the data directory (or a private runtime
 * directory: $XDG_RUNTIME_DIR/intentd, else /tmp/intentd-UID, mode 0700)
 * and remember the path.  A tokens file is YAML:
 *   tokens:
 *     - { name: alice, role: operator, token: "..." }       # or token_env: VAR
 * Errors (ITD_ECONFIG with FILE:LINE:COL in err, ITD_EIO) leave a empty. */
int srv_auth_init(struct srv_auth *a, const struct itd_server_config *cfg, char *err, size_t cap);
void srv_auth_fini(struct srv_auth *a);
/* The token an Authorization header value ("Bearer SECRET") names, or
 * NULL.  Compares digests in constant time and always against every
 * token, so timing reveals nothing about which or how much matched. */
const struct srv_token *srv_auth_check(const struct srv_auth *a, const char *header);

/* ------------------------------------------------ requests, responses */

struct itd_server;
struct srv_route;

struct srv_req {
	struct itd_server *srv;          /* the server */
	struct MHD_Connection *conn;     /* the connection (headers, query) */
	const struct srv_route *route;   /* the matched route */
	const char *method;              /* "GET", "POST" */
	const char *path;                /* the URL path, without the query */
	char id[64];                     /* the {id} path parameter, "" if none */
	const char *body;                /* request body (NUL-terminated), or "" */
	size_t body_len;                 /* its length */
	const struct srv_token *who;     /* the caller's token; NULL on open routes */
};

/* A query parameter or request header, or NULL. */
const char *srv_query(const struct srv_req *r, const char *key);
const char *srv_header(const struct srv_req *r, const char *name);

struct srv_resp {
	unsigned status;                 /* HTTP status */
	char *body;                      /* owned (itd_malloc), freed by srv_http */
	size_t len;                      /* its length */
	const char *content_type;        /* NULL: application/json */
	char retry_after[16];            /* Retry-After value, "" for none */
	struct MHD_Response *raw;        /* a handler-built response (streams);
					    when set, body is ignored */
	uint64_t durable_ticket;         /* send only once this journal ticket is
					    durable, else 503 (0: send now) */
	char durable_id[ITD_ID_LEN];     /* the intent it acknowledges, for the 503 */
};

/* {"error":{"code":CODE,"message":MSG,"details":DETAILS}}; takes
 * ownership of details (may be NULL).  Returns 0 (or ITD_ENOMEM, with a
 * fixed 500 body). */
int srv_error(struct srv_resp *out, unsigned status, const char *code, cJSON *details,
	      const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* The unformatted text of j as the body; takes ownership of j.  A NULL j
 * (building it ran out of memory) answers 500 with a fixed body. */
int srv_json(struct srv_resp *out, unsigned status, cJSON *j);
/* A copy of text as the body with the given content type. */
int srv_text(struct srv_resp *out, unsigned status, const char *content_type, const char *text,
	     size_t len);

struct srv_route {
	const char *method;              /* "GET", "POST" */
	const char *pattern;             /* "/api/v1/intents/{id}/cancel" */
	enum srv_role role;              /* least role allowed (SRV_OPEN: no token) */
	const char *name;                /* label for metrics, e.g. "intents_submit" */
	int (*handler)(struct srv_req *r, struct srv_resp *out);
};

extern const struct srv_route srv_routes[];
extern const size_t srv_n_routes;

/* Handlers (srv_api.c, srv_api_state.c, srv_stream_sse.c, srv_metrics.c,
 * srv_http.c for health). */
int srv_h_submit(struct srv_req *r, struct srv_resp *out);
int srv_h_list(struct srv_req *r, struct srv_resp *out);
int srv_h_get(struct srv_req *r, struct srv_resp *out);
int srv_h_story(struct srv_req *r, struct srv_resp *out); /* srv_api_story.c */
int srv_h_submit_batch(struct srv_req *r, struct srv_resp *out); /* srv_api_batch.c */
int srv_h_cancel(struct srv_req *r, struct srv_resp *out);
int srv_h_state(struct srv_req *r, struct srv_resp *out);
int srv_h_events(struct srv_req *r, struct srv_resp *out);
int srv_h_console(struct srv_req *r, struct srv_resp *out);
int srv_h_stream(struct srv_req *r, struct srv_resp *out);
int srv_h_metrics(struct srv_req *r, struct srv_resp *out);
int srv_h_healthz(struct srv_req *r, struct srv_resp *out);
int srv_h_readyz(struct srv_req *r, struct srv_resp *out);
/* GET /api/v1/scenario: the scenario's fields, modes, domains, intent
 * types (parameters, goal rule), critical domains and safety rules;
 * GET /api/v1/whoami: the caller's token name and role. */
int srv_h_scenario(struct srv_req *r, struct srv_resp *out);  /* srv_api_scenario.c */
int srv_h_whoami(struct srv_req *r, struct srv_resp *out);    /* srv_api_scenario.c */
/* A state field's definition (name, type, unit, initial value, limits,
 * thresholds, values), as /api/v1/scenario and /api/v1/state give it. */
cJSON *srv_json_field(const struct itd_field *f);             /* srv_api_scenario.c */
/* GET / (index.html) and GET /assets/{name}: the embedded dashboard, with
 * its Content-Security-Policy and ETag (304 on If-None-Match). */
int srv_h_web_index(struct srv_req *r, struct srv_resp *out); /* srv_web.c */
int srv_h_web_asset(struct srv_req *r, struct srv_resp *out); /* srv_web.c */

/* ------------------------------------------------------------ stream */

struct srv_stream;

/* The ring of the last `ring` events and the SSE clients.  It is fed as a
 * telemetry sink (whole JSONL lines, on the sink's own thread). */
int srv_stream_create(struct itd_server *s, size_t ring, size_t client_buffer,
		      struct srv_stream **out);
/* The sink to attach to the telemetry instance (ctx is the stream; its
 * close() does not free the stream). */
const struct itd_sink_ops *srv_stream_sink(void);
/* Copy the events with seq > after_seq, at most limit, as a JSON array
 * text into a new buffer (*out, *len; caller frees with itd_free); *first
 * and *last receive the ring's oldest and newest seq.  Returns 0 or
 * ITD_ENOMEM. */
int srv_stream_recent(struct srv_stream *st, uint64_t after_seq, size_t limit, char **out,
		      size_t *len, uint64_t *first, uint64_t *last);
/* Refill the ring after a restart: one line of the telemetry file (ctx
 * is the stream); lines whose seq the ring holds already are skipped.
 * srv_stream_arena_bytes says how much of the file's tail can fit. */
void srv_stream_preload(void *ctx, const char *line, size_t n);
size_t srv_stream_arena_bytes(const struct srv_stream *st);
/* The last seq the ring holds or has been told of (0: none). */
uint64_t srv_stream_last_seq(struct srv_stream *st);
/* The run continues after `seq` (a recovered journal): a client resuming
 * from there has missed nothing even if the ring holds no event yet. */
void srv_stream_resume_at(struct srv_stream *st, uint64_t seq);
/* End every stream (shutdown): clients get a final event and are closed. */
void srv_stream_close_all(struct srv_stream *st);
void srv_stream_destroy(struct srv_stream *st);

struct srv_stream_stats {
	uint64_t clients;        /* connected now */
	uint64_t clients_total;  /* ever connected */
	uint64_t cut_off;        /* disconnected for falling behind */
	uint64_t gaps;           /* gap markers sent */
	uint64_t events;         /* events received from telemetry */
};
void srv_stream_stats(struct srv_stream *st, struct srv_stream_stats *out);

/* -------------------------------------------------------- durability */

struct srv_durable;

/* One answer parked until its input is durable.  It lives in the request's
 * context (srv_http.c), which MHD frees only after the connection was
 * resumed, so it outlives its time in the waiter's list. */
struct srv_durable_wait {
	struct srv_durable_wait *prev, *next; /* in the parked list (ascending ticket) */
	struct MHD_Connection *conn;          /* the suspended connection */
	uint64_t ticket;                      /* the journal ticket it waits for */
	uint64_t deadline_ns;                 /* 503 after this (monotonic) */
	int result;                           /* set before the resume: 0 durable,
						 ITD_EIO, ITD_EAGAIN (timed out) */
	bool linked;                          /* in the parked list */
};

/* hold() parked the answer: the connection is suspended until the waiter
 * resumes it with w->result set. */
#define SRV_DURABLE_PARKED 1

/* Start the waiter thread for store st.  0 or ITD_ENOMEM/ITD_EINTERNAL. */
int srv_durable_create(struct itd_store *st, struct srv_durable **out);
/* Answer every parked response (202 if durable within a short grace, else
 * 503), stop the thread and wait (bounded) until those answers are sent;
 * from then on hold() waits inline.  Call before the daemon stops: MHD must
 * not hold suspended connections then.  NULL and a second call are
 * no-ops. */
void srv_durable_stop(struct srv_durable *d);
/* Stop, then free (after the daemon has stopped); NULL is a no-op. */
void srv_durable_destroy(struct srv_durable *d);
/* From an HTTP thread in MHD's access handler: is ticket durable?  0 (yes:
 * answer now), ITD_EIO (the store failed) or ITD_EAGAIN (timed out): answer
 * 503; or SRV_DURABLE_PARKED: conn was suspended and w (caller-owned,
 * unused until then) parked; the access handler is called again once the
 * waiter set w->result and resumed conn.  While stopping, it waits inline
 * (briefly) instead of parking. */
int srv_durable_hold(struct srv_durable *d, struct srv_durable_wait *w,
		     struct MHD_Connection *conn, uint64_t ticket);
/* The request of a parked w completed (MHD's completion callback, answered
 * or not): the waiter forgets it.  Once per parked request; d NULL is a
 * no-op. */
void srv_durable_release(struct srv_durable *d, struct srv_durable_wait *w);
/* Replace out's prepared answer (freed) by the 503 store_unavailable for a
 * wait that ended with rc. */
int srv_durable_refuse(struct srv_resp *out, int rc);

/* Idempotent duplicates: the engine tells a duplicate only the original's
 * id, not its ticket, so submissions with a key record theirs here.  Call
 * enter before itd_engine_submit and leave after it with its result, its
 * receipt ticket and what enter returned (d or key NULL: no-ops).  leave
 * returns, for a duplicate (rc ITD_EEXISTS), a ticket at least the
 * original's when the original was accepted by this process and not since
 * recovered (0 when it came from the journal: it is durable); it may wait
 * (at most a second) for same-key submissions still in itd_engine_submit.
 * Otherwise 0.  A returned ticket a failed commit lost answers 503: the
 * original may be lost with it. */
uint64_t srv_durable_key_enter(struct srv_durable *d, const char *key);
uint64_t srv_durable_key_leave(struct srv_durable *d, const char *key, int rc, uint64_t ticket,
			       uint64_t entered);
/* Which bucket a key's submissions are noted in (keys sharing one wait
 * for each other's tickets). */
uint32_t srv_durable_key_bucket(const char *key);
/* The store was repaired and the engine rebuilt from what is durable (call
 * before intake reopens): a duplicate answered by the engine before this
 * may have found an original the rebuild no longer has. */
void srv_durable_repaired(struct srv_durable *d);

struct srv_durable_stats {
	uint64_t waiting;        /* parked now */
	uint64_t waiting_max;    /* most parked at once */
	uint64_t parked;         /* ever parked */
	uint64_t durable;        /* resumed durable (sent as prepared) */
	uint64_t failed;         /* resumed with a store error (503) */
	uint64_t timed_out;      /* resumed after the deadline or at shutdown (503) */
	uint64_t inline_waits;   /* waited on an HTTP thread (while stopping) */
};
void srv_durable_stats(struct srv_durable *d, struct srv_durable_stats *out);

/* ----------------------------------------------------------- metrics */

struct srv_metrics;

int srv_metrics_create(struct srv_metrics **out);
void srv_metrics_destroy(struct srv_metrics *m);
/* From the tick thread: one engine event / one finished tick taking ns. */
void srv_metrics_event(struct srv_metrics *m, const struct itd_event *ev);
void srv_metrics_tick(struct srv_metrics *m, uint64_t ns);
/* From HTTP threads: a request to `route` (NULL: no route matched)
 * answered with `status`. */
void srv_metrics_request(struct srv_metrics *m, const struct srv_route *route, unsigned status);

/* ------------------------------------------------------------ server */

struct itd_server {
	struct itd_server_config cfg;    /* as given (strings borrowed from the caller) */
	char url[128];                   /* "http://127.0.0.1:5050" */
	char run_dir[512];               /* data dir, or the private runtime dir */
	struct itd_engine *engine;       /* the kernel */
	pthread_rwlock_t state_lock;     /* tick: write; HTTP readers: read */
	struct itd_tel *tel;             /* telemetry (file/stdout sink + stream sink) */
	struct itd_observer obs;         /* telemetry's observer, wrapped for metrics */
	struct srv_auth auth;            /* tokens */
	struct srv_stream *stream;       /* live events */
	struct srv_metrics *metrics;     /* Prometheus counters */
	struct MHD_Daemon *mhd;          /* HTTP */
	struct itd_store *store;         /* with --data: the journal, else NULL */
	struct srv_durable *durable;     /* with a store: parked answers (srv_http.c
					    creates and destroys it) */
	bool replaying;                  /* recovery: the observer stays silent */
	bool replay_emit;                /* ... except for the last ticks, whose
					    events are re-emitted (open_store) */
	bool store_failed;               /* a tick could not be made durable */
	uint16_t port;                   /* the port actually bound */
	uint64_t tick_start_ns;          /* when the current tick began */

	/* Loop control (srv_core.c), under loop_lock. */
	pthread_mutex_t loop_lock;
	pthread_cond_t loop_cond;        /* wakes a paused loop */
	bool paused;                     /* the loop holds between ticks */
	uint64_t steps;                  /* ticks to run while paused */
	bool stopping;                   /* shutting down */
	bool ready;                      /* /readyz: loop running, sinks open */
};

/* Loop control for the console (srv_core.c): queue the command as an
 * input (so it is reported at its tick) and act on the loop. */
/* Loop control through the intake (journaled like any input): *ticket
 * gets the command's durability ticket (0 without a store). */
int srv_loop_pause(struct itd_server *s, const char *actor, uint64_t *ticket);
int srv_loop_resume(struct itd_server *s, const char *actor, uint64_t *ticket);
int srv_loop_step(struct itd_server *s, uint64_t n, const char *actor, uint64_t *ticket);
bool srv_loop_paused(struct itd_server *s);

/* Start/stop the HTTP daemon (srv_http.c). */
int srv_http_start(struct itd_server *s, char *err, size_t cap);
void srv_http_stop(struct itd_server *s);

/* --------------------------------------------------------- srv_json.c */

/* The caller's token name (for attribution), or NULL on open routes. */
const char *srv_actor(const struct srv_req *r);
/* A decimal number: digits only, no sign, no overflow. */
bool srv_parse_u64(const char *s, uint64_t *out);
/* The sequence number of an intent id, full ("i-000042") or short
 * ("i-42"); false for anything else, "i-0" included. */
bool srv_parse_id(const char *id, uint64_t *seq_out);
/* Answer 400 invalid_query for query parameter `param`: details
 * {"param": param, "expected": expected} plus "valid" when given (an array,
 * owned by the call).  The one shape of every query refusal. */
int srv_bad_query(struct srv_resp *out, const char *param, const char *expected, cJSON *valid);

/* Why a request was refused: HTTP status, error code, message and details
 * for srv_error.  Start from {0}; srv_bad_fini (or srv_bad_reply) frees. */
struct srv_bad {
	unsigned status;                 /* 400 unless set otherwise */
	const char *code;                /* "malformed_json", "invalid_field", ... */
	char msg[256];                   /* human text */
	cJSON *details;                  /* owned, or NULL */
};

/* Set b (replacing earlier details; takes ownership of details) to a 400
 * with code and message.  Returns ITD_EINVAL, for `return srv_bad_set(...)`. */
int srv_bad_set(struct srv_bad *b, const char *code, cJSON *details, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* 400 invalid_field with details {"field": field, "expected": expected}. */
int srv_bad_type(struct srv_bad *b, const char *field, const char *expected);
/* Answer with b through srv_error (b's details move into the body). */
int srv_bad_reply(struct srv_resp *out, struct srv_bad *b);
void srv_bad_fini(struct srv_bad *b);

/* Parse a request body that must be one JSON object (whitespace around it
 * allowed).  An empty body gives *out = NULL and 0 when optional.  Returns
 * 0 with *out owned by the caller (cJSON_Delete), or ITD_EINVAL with bad
 * filled (malformed_json, invalid_body). */
int srv_body_object(const char *body, size_t len, bool optional, cJSON **out,
		    struct srv_bad *bad);
/* Refuse a member of obj not among allowed (unknown_field, details
 * {"unknown":[...],"allowed":[...]}) or given twice (duplicate_field).
 * `where` prefixes names in messages ("" or "goal.").  0, ITD_EINVAL or
 * ITD_ENOMEM. */
int srv_check_keys(const cJSON *obj, const char *const *allowed, size_t n_allowed,
		   const char *where, struct srv_bad *bad);

/* A submission body, parsed and checked against the scenario. */
struct srv_submit {
	struct itd_submission sub;                     /* for itd_engine_submit (actor
							  left NULL); its strings point
							  into root */
	struct itd_param_value params[ITD_MAX_PARAMS]; /* sub.params */
	cJSON *root;                                   /* the parsed body */
};

/* Parse and validate POST /api/v1/intents (a pure function of its inputs):
 * every field typed and ranged, the type known, the goal and parameters as
 * the type declares them, source ground|playbook|schedule.  body_hash is
 * the hash of a canonical form (fixed key order, defaults filled), so key
 * order and spacing do not matter to idempotency.  Returns 0 (release with
 * srv_submit_fini), ITD_EINVAL with bad filled (bad zeroed by the caller),
 * or ITD_ENOMEM.  srv_submit_fini is safe after a failure too. */
int srv_submit_parse(const struct itd_scenario *s, const char *body, size_t len,
		     struct srv_submit *sb, struct srv_bad *bad);
void srv_submit_fini(struct srv_submit *sb);
/* The same checks on an object already parsed (borrowed: sb->root stays
 * NULL and sb's strings point into root, which must outlive sb). */
int srv_submit_check(const struct itd_scenario *s, const cJSON *root, struct srv_submit *sb,
		     struct srv_bad *bad);

/* Hand a checked submission to the engine as the caller (r's token name
 * is its actor), with its idempotency key marked in flight for the
 * durability waits: the engine's code, its receipt and message, and in
 * *dup_ticket the ticket a duplicate's answer must wait for. */
int srv_submit_engine(struct srv_req *r, struct srv_submit *sb, struct itd_receipt *rcpt,
		      char *msg, size_t cap, uint64_t *dup_ticket);

/* How a refused submission is answered, alone (POST /api/v1/intents) or
 * as an item of a batch: the engine's code rc and message msg give the
 * HTTP status, the error code, its details (NULL or a new object the
 * caller owns: the conflicting intent's id, or which of queue and table
 * is full; id is the receipt's) and the Retry-After seconds (0: none). */
struct srv_refusal {
	int status;                 /* 400, 409, 429, 503 or 500 */
	const char *code;           /* "invalid_submission", ... */
	cJSON *details;             /* or NULL */
	int retry_after;            /* seconds, or 0 */
};
void srv_submit_refusal(int rc, const char *msg, const char *id, struct srv_refusal *out);

/* Append item to an array / add it to an object as key, taking ownership:
 * when the container is NULL or adding fails (out of memory) the item is
 * freed, so building JSON never leaks on allocation failure. */
void srv_jpush(cJSON *arr, cJSON *item);
void srv_jadd(cJSON *obj, const char *key, cJSON *item);
/* A value as JSON (null for no value); NULL when out of memory. */
cJSON *srv_json_value(const struct itd_value *v);
/* An array of the n strings. */
cJSON *srv_json_names(char *const *names, size_t n);
/* An intent as JSON: the summary (id, type, source, status, priority,
 * created_tick, counters, verdict, rule, actor), and with `full` also goal,
 * params, deadline, key, score, last_verdict, history, history_total and
 * the explanation.  The caller holds state_lock for reading.  NULL when
 * out of memory. */
cJSON *srv_json_intent(const struct itd_engine *e, const struct itd_intent *in, bool full);
/* The intent's story in a sentence or five (receipt, blocks, executions,
 * outcome) into buf; returns its length.  Caller holds state_lock. */
size_t srv_intent_story(const struct itd_engine *e, const struct itd_intent *in, char *buf,
			size_t cap);

#endif
