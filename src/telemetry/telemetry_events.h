/* telemetry_events.h: the engine's events as telemetry: an engine observer
 * that encodes each event's payload (the event catalogue, docs/events.md)
 * into the telemetry envelope. */
#ifndef ITD_TELEMETRY_EVENTS_H
#define ITD_TELEMETRY_EVENTS_H

#include "engine/engine.h"
#include "telemetry/telemetry.h"

/* Fill *obs so the engine reports into t.  t must outlive the engine's
 * use of the observer. */
void itd_tel_observer(struct itd_tel *t, struct itd_observer *obs);

/* Write the engine.tick frame's payload members (state, policy, execution,
 * safety, state_hash) into an open object; shared with the API's state
 * view. */
void itd_tel_write_frame(struct itd_jw *w, const struct itd_engine *e);

/* One event's payload as a standalone JSON object (what the event's
 * telemetry line carries under "payload", with t's redaction applied; t
 * may be NULL for none; redacted_fields only when a rule fired), into buf.  For intent.executed, pre_effect (may
 * be NULL) is the state frame just before the effect: "changes" then lists
 * each field the execution changed, before and after.  Used for the audit
 * chain's entries.  Returns 0, or ITD_ELIMIT if cap is too small. */
int itd_tel_payload(struct itd_tel *t, const struct itd_engine *e, const struct itd_event *ev,
		    const struct itd_value *pre_effect, char *buf, size_t cap, size_t *len_out);

/* How a front end wants its telemetry. */
struct itd_tel_options {
	const char *run_id;          /* envelope run_id */
	enum itd_tel_policy policy;  /* drop-oldest or block */
	bool flush_every_tick;       /* paced runs: events appear promptly */
	bool hold_ticks;             /* a tick's events reach sinks only at its end */
};

/* Create telemetry configured by the scenario's telemetry section (tags,
 * redaction; an hmac rule needs its key in the environment variable that
 * telemetry.hmac_key_env names).  Returns 0, or ITD_ECONFIG / ITD_ENOMEM
 * with a message in err. */
int itd_tel_create_for(const struct itd_scenario *s, const struct itd_tel_options *o,
		       struct itd_tel **out, char *err, size_t cap);
/* Attach the sink a user chose: "-" for stdout, a file path, or NULL for
 * logs/telemetry/RUN_ID.jsonl (created; truncated, or appended to when a
 * resumed run continues its file).  ("off" is the caller's business:
 * attach nothing.)  Returns 0 or an error with err. */
int itd_tel_open_sink(struct itd_tel *t, const char *where, const char *run_id, bool append,
		      char *err, size_t cap);

#endif
