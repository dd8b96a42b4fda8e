/* telemetry_setup.c: a telemetry instance as a scenario configures it
 * (envelope tags, redaction rules, the HMAC key from the environment) and
 * its sink from a user's `PATH | - | off` choice: shared by every front end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry_events.h"

#define MAX_TAGS 64

int itd_tel_create_for(const struct itd_scenario *s, const struct itd_tel_options *o,
		       struct itd_tel **out, char *err, size_t cap)
{
	const struct itd_telemetry_def *td = &s->telemetry;
	const char *tk[MAX_TAGS], *tv[MAX_TAGS];
	struct itd_tel_redact rd[MAX_TAGS];
	*out = NULL;
	if (td->n_tags > MAX_TAGS || td->n_redact > MAX_TAGS) {
		snprintf(err, cap, "telemetry: at most %d tags and %d redaction rules", MAX_TAGS,
			 MAX_TAGS);
		return ITD_ECONFIG;
	}
	for (size_t i = 0; i < td->n_tags; i++) {
		tk[i] = td->tags[i].key;
		tv[i] = td->tags[i].value;
	}
	bool need_key = false;
	for (size_t i = 0; i < td->n_redact; i++) {
		rd[i].path = td->redact[i].path;
		rd[i].hmac = td->redact[i].how == ITD_REDACT_HMAC;
		need_key |= rd[i].hmac;
	}
	const char *key = NULL;
	if (need_key) {
		key = td->hmac_key_env ? getenv(td->hmac_key_env) : NULL;
		if (!key || !*key) {
			if (td->hmac_key_env)
				snprintf(err, cap,
					 "telemetry.redact uses hmac but the key variable $%s is not set",
					 td->hmac_key_env);
			else
				snprintf(err, cap, "telemetry.redact uses hmac but telemetry.hmac_key_env"
						   " names no key variable");
			return ITD_ECONFIG;
		}
	}
	struct itd_tel_config cfg = {
		.run_id = o->run_id, .tag_keys = tk, .tag_values = tv, .n_tags = td->n_tags,
		.redact = rd, .n_redact = td->n_redact,
		.hmac_key = (const uint8_t *)key, .hmac_key_len = key ? strlen(key) : 0,
		.policy = o->policy, .flush_every_tick = o->flush_every_tick,
		.hold_ticks = o->hold_ticks};
	int rc = itd_tel_create(&cfg, out);
	if (rc)
		snprintf(err, cap, "telemetry: %s", itd_err_msg(rc));
	return rc;
}

int itd_tel_open_sink(struct itd_tel *t, const char *where, const char *run_id, bool append,
		      char *err, size_t cap)
{
	const struct itd_sink_ops *ops;
	void *ctx;
	int rc;
	const char *name = "file";
	uint64_t held = 0;
	err[0] = '\0';
	if (where && !strcmp(where, "-")) {
		rc = itd_sink_stdout_open(&ops, &ctx);
		name = "stdout";
	} else {
		char path[4096];
		itd_tel_file_path(where, run_id, path, sizeof path);
		rc = itd_sink_file_open(path, !append, &ops, &ctx, err, cap);
		if (!rc && append)
			held = itd_sink_file_resume(ctx, run_id);
	}
	if (!rc)
		rc = itd_tel_add_sink(t, name, ops, ctx);
	if (!rc && held)
		itd_tel_skip_through(t, name, held);
	if (rc && !err[0])
		snprintf(err, cap, "%s", itd_err_msg(rc));
	return rc;
}
