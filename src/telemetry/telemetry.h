/* telemetry.h: structured JSONL telemetry (SPEC §7): the envelope, a
 * hand-written JSON writer that never allocates per event, redaction before
 * any sink sees an event, and sinks fed through bounded buffers by their own
 * threads so a slow sink never blocks the tick.
 *
 * Envelope (one line per event, keys in this order):
 *   {"schema_version":"1.0","timestamp":"...Z","source":"policy",
 *    "run_id":"spacecraft-s1","cycle":1,"seq":17,"event":"intent.blocked",
 *    "payload":{...,"redacted_fields":[...]},"tags":{...}}
 *
 * Use from the tick thread:
 *   struct itd_jw *w = itd_tel_begin(t, "intent.blocked", "policy", cycle, ts_ms);
 *   itd_jw_key(w, "intent_id"); itd_jw_str(w, id); ...
 *   itd_tel_end(t);
 *   ...
 *   itd_tel_tick_end(t, cycle, ts_ms);   // once per tick, after its events
 */
#ifndef ITD_TELEMETRY_H
#define ITD_TELEMETRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core.h"

/* ------------------------------------------------------------ JSON writer */

/* Writes JSON text into a caller-provided buffer.  Commas between members
 * and elements are inserted automatically.  If the buffer would overflow,
 * the writer stops writing and sets `overflow` (the caller discards or
 * reports the event); it never writes past cap.  With redaction rules
 * attached it tracks the key path below the payload and replaces matching
 * values (see itd_tel_config.redact). */
struct itd_jw;

void itd_jw_obj_begin(struct itd_jw *w);
void itd_jw_obj_end(struct itd_jw *w);
void itd_jw_arr_begin(struct itd_jw *w);
void itd_jw_arr_end(struct itd_jw *w);
/* An object key (a NUL-terminated literal or name; escaped as needed). */
void itd_jw_key(struct itd_jw *w, const char *key);
void itd_jw_str(struct itd_jw *w, const char *s);            /* NULL writes null */
void itd_jw_strn(struct itd_jw *w, const char *s, size_t n);
/* A number: integral values as integers, others with up to 17 significant
 * digits, shortest form that round-trips; non-finite values as null. */
void itd_jw_num(struct itd_jw *w, double v);
void itd_jw_i64(struct itd_jw *w, int64_t v);
void itd_jw_u64(struct itd_jw *w, uint64_t v);
void itd_jw_bool(struct itd_jw *w, bool v);
void itd_jw_null(struct itd_jw *w);
/* A key given as a string literal that needs no escaping: its quoted form
 * and colon are built at compile time, so writing it is one copy (no
 * strlen, no escape scan).  Use through ITD_JW_K* below. */
void itd_jw_key_lit(struct itd_jw *w, const char *quoted, size_t n);
#define ITD_JW_KEY(w, lit) itd_jw_key_lit((w), "\"" lit "\":", sizeof(lit) + 2)
#define ITD_JW_KSTR(w, lit, v) (ITD_JW_KEY(w, lit), itd_jw_str((w), (v)))
#define ITD_JW_KNUM(w, lit, v) (ITD_JW_KEY(w, lit), itd_jw_num((w), (v)))
#define ITD_JW_KU64(w, lit, v) (ITD_JW_KEY(w, lit), itd_jw_u64((w), (v)))
#define ITD_JW_KBOOL(w, lit, v) (ITD_JW_KEY(w, lit), itd_jw_bool((w), (v)))

/* Key + value shorthands. */
void itd_jw_kstr(struct itd_jw *w, const char *key, const char *s);
void itd_jw_knum(struct itd_jw *w, const char *key, double v);
void itd_jw_ku64(struct itd_jw *w, const char *key, uint64_t v);
void itd_jw_ki64(struct itd_jw *w, const char *key, int64_t v);
void itd_jw_kbool(struct itd_jw *w, const char *key, bool v);

/* A standalone writer over a caller's buffer of cap bytes (tests, benches,
 * JSON built outside an event); no redaction.  itd_jw_create returns NULL
 * when out of memory; the buffer stays the caller's.  itd_jw_reset
 * repositions a writer on a (new) buffer and clears its state. */
struct itd_jw *itd_jw_create(char *buf, size_t cap);
void itd_jw_reset(struct itd_jw *w, char *buf, size_t cap);
/* Bytes written since the last create/reset (not NUL-terminated). */
size_t itd_jw_len(const struct itd_jw *w);
/* True once a write did not fit; the text is then incomplete. */
bool itd_jw_overflowed(const struct itd_jw *w);
void itd_jw_destroy(struct itd_jw *w);

/* ------------------------------------------------------------------ sinks */

/* A sink receives whole lines (batches of complete JSONL events) on its
 * own thread.  write() returns 0 or a negative error (counted, reported as
 * telemetry.delayed with the error; the sink keeps being fed). */
struct itd_sink_ops {
	const char *kind;                                  /* "file", "stdout", ... */
	int (*write)(void *ctx, const char *data, size_t len);
	int (*flush)(void *ctx);                           /* may be NULL */
	void (*close)(void *ctx);                          /* may be NULL; frees ctx */
};

/* Built-in sinks.  The file sink creates missing parent directories and
 * appends (or truncates, `truncate`) the file; "-" is not a path, use the
 * stdout sink.  Return 0 and fill *ops and *ctx, or a negative error with a
 * message in err (cap bytes). */
int itd_sink_file_open(const char *path, bool truncate, const struct itd_sink_ops **ops,
		       void **ctx, char *err, size_t cap);
int itd_sink_stdout_open(const struct itd_sink_ops **ops, void **ctx);
/* A run resumed from its journal appends to its file again and re-emits
 * the events of the ticks it replays, with the seqs they had: the last
 * seq of run_id's events the file already holds (0: none), for
 * itd_tel_skip_through.  ctx is from itd_sink_file_open, not yet attached. */
uint64_t itd_sink_file_resume(void *ctx, const char *run_id);

/* The file telemetry goes to: `where`, or logs/telemetry/RUN_ID.jsonl. */
void itd_tel_file_path(const char *where, const char *run_id, char *buf, size_t cap);
/* Call fn with each complete line of run_id's events in the last
 * max_bytes of the file at path, oldest first (a restarted server refills
 * its live stream).  0 (also for a missing file), ITD_EIO or ITD_ENOMEM. */
int itd_tel_file_tail(const char *path, const char *run_id, size_t max_bytes,
		      void (*fn)(void *ctx, const char *line, size_t n), void *ctx);

/* ------------------------------------------------------------- telemetry */

enum itd_tel_policy {
	ITD_TEL_DROP_OLDEST, /* default: never block the tick; drop oldest, counted */
	ITD_TEL_BLOCK,       /* batch runs: wait for the sinks, never drop */
};

struct itd_tel_redact {
	const char *path;    /* "payload.params.operator" (dot path from the envelope root) */
	bool hmac;           /* false: "REDACTED"; true: "hmac-sha256:<hex>" */
};

struct itd_tel_config {
	const char *run_id;          /* envelope run_id (copied) */
	const char *const *tag_keys; /* envelope tags, n_tags pairs (copied) */
	const char *const *tag_values;
	size_t n_tags;
	const struct itd_tel_redact *redact; /* redaction rules (copied) */
	size_t n_redact;
	const uint8_t *hmac_key;     /* key for hmac rules (copied) */
	size_t hmac_key_len;
	enum itd_tel_policy policy;  /* drop-oldest or block */
	size_t buffer_bytes;         /* total buffer per telemetry instance; 0: 8 MiB */
	size_t max_event_bytes;      /* largest event; 0: 64 KiB */
	bool flush_every_tick;       /* paced runs: hand partial buffers to sinks at
					each tick end so events appear promptly */
	bool hold_ticks;             /* hand a tick's events to sinks only once
					the front end releases the tick
					(itd_tel_tick_mark, itd_tel_release), even
					when a buffer fills before: a front end
					that first makes the tick durable, so
					nothing is reported twice */
};

struct itd_tel;

/* Create a telemetry instance (no sinks yet).  Returns 0 and *out, or
 * ITD_ENOMEM / ITD_EINVAL. */
int itd_tel_create(const struct itd_tel_config *cfg, struct itd_tel **out);
/* Attach a sink (takes ownership of ctx; close() is called at destroy) and
 * start its writer thread.  `name` labels its drop counts ("file", ...). */
int itd_tel_add_sink(struct itd_tel *t, const char *name, const struct itd_sink_ops *ops,
		     void *ctx);
/* Begin an event: assigns the next seq, writes the envelope up to the
 * payload's opening brace and returns the writer positioned inside the
 * payload object.  `event` and `source` must be static strings. */
struct itd_jw *itd_tel_begin(struct itd_tel *t, const char *event, const char *source,
			     uint64_t cycle, int64_t ts_ms);
/* Finish the event begun last: appends payload.redacted_fields, closes the
 * payload, writes the tags and the newline, and commits the line to the
 * buffer.  An event that overflowed max_event_bytes is replaced by a
 * telemetry.truncated event naming it (its seq is kept). */
void itd_tel_end(struct itd_tel *t);
/* Once per tick after its events: emits telemetry.delayed if any sink
 * dropped events or failed writes since the last report (with per-sink
 * dropped counts, lag in bytes and events), and hands the buffered events
 * to the sinks when the buffer chunk is full or flush_every_tick is set. */
void itd_tel_tick_end(struct itd_tel *t, uint64_t cycle, int64_t ts_ms);
/* With hold_ticks, instead of itd_tel_tick_end: end the tick (its
 * telemetry.delayed report included) but keep its events from the sinks
 * until itd_tel_release names a cycle at or after it.  Without hold_ticks
 * it is itd_tel_tick_end. */
void itd_tel_tick_mark(struct itd_tel *t, uint64_t cycle, int64_t ts_ms);
/* Hand the sinks the events of every tick marked with a cycle <= through,
 * and whatever was emitted between those ticks. */
void itd_tel_release(struct itd_tel *t, uint64_t through);
/* Hand the sinks everything emitted so far, marked or not (without
 * waiting for them, as itd_tel_drain does). */
void itd_tel_release_all(struct itd_tel *t);
/* Whether so much is held (half the buffer, or half the marks) that the
 * front end should wait for what it holds them for before the next tick:
 * past that, events would reach the sinks before their release. */
bool itd_tel_hold_pressed(const struct itd_tel *t);
/* Hand everything buffered to the sinks and wait until they have written
 * and flushed it (used at the end of a run and before shutdown). */
void itd_tel_drain(struct itd_tel *t);
/* Drain, stop the sink threads, close the sinks, free.  NULL is a no-op. */
void itd_tel_destroy(struct itd_tel *t);

struct itd_tel_sink_stats {
	const char *name;        /* sink name */
	uint64_t events;         /* events handed to the sink */
	uint64_t dropped;        /* events dropped for it (drop-oldest) */
	uint64_t write_errors;   /* failed writes */
	uint64_t bytes;          /* bytes written */
};

/* The sink named `sink` does not get the events up to seq (re-emitted
 * events of a resumed run that it holds already, or, on stdout, cannot
 * tell whether it printed); they count as handed to it. */
void itd_tel_skip_through(struct itd_tel *t, const char *sink, uint64_t seq);

/* Change the policy (from the emitting thread): a server re-emitting a
 * recovered run's events waits for its sinks rather than drop them. */
void itd_tel_set_policy(struct itd_tel *t, enum itd_tel_policy policy);

/* Continue the sequence after `seq` (a run resumed from its journal):
 * the next event gets seq + 1.  Call before the first event. */
void itd_tel_set_seq(struct itd_tel *t, uint64_t seq);

/* Counters: events emitted (== last seq) and, per sink, what it got. */
uint64_t itd_tel_events(const struct itd_tel *t);
size_t itd_tel_n_sinks(const struct itd_tel *t);
void itd_tel_sink_stats(const struct itd_tel *t, size_t i, struct itd_tel_sink_stats *out);

/* ------------------------------------------------------------- summarize */

/* `intentd telemetry summarize FILE`: read JSONL from in, write a report to
 * out (human text, or JSON with as_json): events by name, intent outcomes
 * (completed, failed, expired, cancelled, rejected, still active), the
 * received->executed latency percentiles (p50/p90/p99/max, in ticks and ms,
 * from execution.latency events), blocked reasons with counts, seq gaps and
 * malformed lines (with line numbers).  Returns 0, or ITD_EPARSE if no line
 * was valid JSON, or ITD_EIO. */
int itd_tel_summarize(FILE *in, const char *name, FILE *out, bool as_json);

#endif
