/* server.h: `intentd serve`: the loop paced in real time on its own thread,
 * an HTTP API with roles and bearer tokens (libmicrohttpd), a resumable
 * live event stream (Server-Sent Events), a console and Prometheus metrics
 * (SPEC §9).  The server talks to the engine only through its intake and
 * observer interfaces, like every other front end. */
#ifndef ITD_SERVER_H
#define ITD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scenario/scenario.h"

struct itd_server_config {
	const struct itd_scenario *scn; /* definitions (borrowed, outlive the server) */
	uint64_t seed;                  /* run seed */
	double rate_hz;                 /* tick rate; <= 0: the scenario's */
	const char *run_id;             /* envelope run_id (copied) */
	const char *listen;             /* "HOST:PORT"; default "127.0.0.1:5050";
					   port 0 picks a free one */
	const char *data_dir;           /* --data DIR, or NULL */
	const char *tokens_file;        /* YAML token list, or NULL */
	const char *tls_cert, *tls_key; /* PEM files for HTTPS, or NULL */
	const char *telemetry;          /* file path, "-" (stdout), "off", or NULL
					   for logs/telemetry/RUN_ID.jsonl */
	size_t stream_ring;             /* events kept for resuming streams; 0: 65536 */
	size_t client_buffer;           /* bytes a stream client may lag; 0: 1 MiB */
	size_t max_body;                /* request body limit; 0: 64 KiB */
	unsigned timeout_s;             /* idle/header timeout per connection; 0: 30 */
	unsigned max_conns;             /* simultaneous connections; 0: 4096 */
	bool metrics_open;              /* /metrics without a token */
	bool realtime;                  /* run the tick thread SCHED_FIFO (needs
					   privilege; refused loudly without) */
	const void *identity;           /* with data_dir: what defines the scenario
					   (its text and overrides); a data dir of
					   another scenario is refused */
	size_t identity_len;            /* its length */
	const char *audit_key;          /* with data_dir: Ed25519 secret key file to
					   sign audit checkpoints, or NULL */
	uint64_t audit_every;           /* a checkpoint every N entries; 0: 1000 */
	uint64_t snapshot_every;        /* a snapshot every N ticks; 0: the store's
					   default, UINT64_MAX: none */
	uint64_t keep_snapshots;        /* snapshots kept; 0: the store's default,
					   UINT64_MAX: every one */
	uint64_t commit_interval_ms;    /* while no input waits, commit ticks at
					   most this long after the oldest (0: each
					   at once; `serve` defaults to
					   ITD_SERVER_COMMIT_INTERVAL_MS) */
	bool quiet;                     /* no banner on stderr */
};

struct itd_server;

/* `intentd serve --data`'s default commit interval: an idle 100 Hz loop
 * commits about 10 times a second instead of 100 (a tenth of the disk
 * writes and syncs), and its telemetry reaches the stream within 0.1 s,
 * the dashboard's own render interval. */
#define ITD_SERVER_COMMIT_INTERVAL_MS 100

/* An itd_store_story_fn that appends each audit entry of an intent's story
 * to ctx, a cJSON array, as {index, tick, time_ms, event, actor, payload}
 * (the shape of GET /api/v1/intents/{id}/story; the CLI's offline explain
 * uses it too).  0 or ITD_ENOMEM. */
struct itd_store_story_entry;
int itd_server_story_add(void *ctx, const struct itd_store_story_entry *e);

/* Build the server (engine, telemetry, tokens, HTTP daemon listening, loop
 * not yet running).  Returns 0, or a negative error with a message in err:
 * ITD_ECONFIG (bad tokens file, TLS files, listen address), ITD_EIO
 * (cannot listen or write the token file), ITD_ENOMEM. */
int itd_server_create(const struct itd_server_config *cfg, struct itd_server **out, char *err,
		      size_t cap);
/* Run the tick loop until *stop becomes true (from a signal handler), then
 * shut down gracefully: finish the tick, flush telemetry, end streams and
 * close clients.  Returns 0 or a negative error. */
int itd_server_run(struct itd_server *s, const volatile int *stop);
/* The base URL ("http://127.0.0.1:5050") and where the generated admin
 * token was stored (NULL when tokens were configured). */
const char *itd_server_url(const struct itd_server *s);
const char *itd_server_token_path(const struct itd_server *s);
/* Free; NULL is a no-op. */
void itd_server_destroy(struct itd_server *s);

#endif
