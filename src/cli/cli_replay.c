/* cli_replay.c: `intentd replay --data DIR [--from-snapshot] [--verify]`:
 * re-run a store's journal offline, tick by tick (from tick 0, or from the
 * newest valid snapshot), and compare every tick's state hash with the
 * recorded one (exit 3 at the first divergence). */
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "engine/engine.h"
#include "store/store.h"

#define SET_MARK "\n--set "

/* Split a store's identity (scenario text, then "\n--set PATH=VALUE" per
 * override; identity is a private copy, cut in place) and load the
 * scenario it describes. */
static int load_identity(char *identity, size_t len, struct itd_scenario **out)
{
	char *mark = strstr(identity, SET_MARK);
	size_t text_len = mark ? (size_t)(mark - identity) : len;
	struct itd_override ovr[64];
	size_t n = 0;
	for (char *p = mark; p && n < 64;) {
		char *kv = p + strlen(SET_MARK);
		char *next = strstr(kv, SET_MARK);
		if (next)
			*next = '\0';
		char *eq = strchr(kv, '=');
		if (eq) {
			*eq = '\0';
			ovr[n].path = kv;
			ovr[n].value = eq + 1;
			n++;
		}
		p = next; /* the copy stays split: each value ends at its NUL */
	}
	struct itd_diags d = {0};
	int rc = itd_scenario_load_text(identity, text_len, "store:scenario", ovr, n, out, &d);
	itd_diags_print(&d, stderr);
	itd_diags_fini(&d);
	return rc;
}

static int print_diff(void *ctx, const char *field, const struct itd_value *recorded,
		      const struct itd_value *replayed)
{
	char a[128], b[128];
	itd_value_format(recorded, a, sizeof a);
	itd_value_format(replayed, b, sizeof b);
	fprintf(stderr, "  %-16s recorded %s, replayed %s\n", field, a, b);
	++*(unsigned *)ctx;
	return 0;
}

/* After a divergence: which fields it changed, compared at the first
 * snapshot after it. */
static void report_fields(struct itd_store *st, const struct itd_scenario *s, uint64_t seed,
			  uint64_t tick)
{
	struct itd_engine *fresh = NULL, *scratch = NULL;
	struct itd_engine_config ec = {.scn = s, .seed = seed, .clock = ITD_CLOCK_SIM};
	char err[512];
	uint64_t snap = 0;
	unsigned n = 0;
	if (itd_engine_create(&ec, &fresh) || itd_engine_create(&ec, &scratch)) {
		fprintf(stderr, "  (out of memory comparing fields)\n");
	} else if (itd_store_divergence(st, fresh, scratch, tick, print_diff, &n, &snap, err,
					sizeof err)) {
		fprintf(stderr, "  fields: %s\n", err);
	} else if (!n) {
		fprintf(stderr, "  no state field differs at the snapshot of tick %llu: the "
				"difference is in what the hash covers between them\n",
			(unsigned long long)snap);
	} else {
		fprintf(stderr, "  (%u field%s differ%s at the snapshot of tick %llu, the first after "
				"the divergence)\n",
			n, n == 1 ? "" : "s", n == 1 ? "s" : "", (unsigned long long)snap);
	}
	itd_engine_destroy(fresh);
	itd_engine_destroy(scratch);
}

int itd_cmd_replay(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	if (!dir || c->n_pos) {
		itd_cli_usage(c->cmd, stderr);
		return ITD_EXIT_USAGE;
	}
	bool quiet = itd_cli_opt(c, "quiet") != NULL;
	struct itd_store *st = NULL;
	struct itd_scenario *s = NULL;
	struct itd_engine *e = NULL;
	char *identity = NULL;
	size_t len = 0;
	uint64_t seed = 0;
	double rate = 0;
	char err[1024];
	int rc = itd_store_open_existing(dir, &st, &identity, &len, &seed, &rate, err, sizeof err);
	if (rc) {
		fprintf(stderr, "intentd replay: %s\n", err);
		rc = rc == ITD_ENOMEM ? ITD_EXIT_RUNTIME : ITD_EXIT_USAGE;
		goto out;
	}
	/* The scenario comes from the store: overrides are part of the run. */
	char *work = itd_strdup(identity);
	if (!work || load_identity(work, len, &s)) {
		fprintf(stderr, "intentd replay: the scenario recorded in %s does not load\n", dir);
		itd_free(work);
		rc = ITD_EXIT_RUNTIME;
		goto out;
	}
	struct itd_engine_config ec = {.scn = s, .seed = seed, .clock = ITD_CLOCK_SIM,
				       .rate_hz = rate};
	if (itd_engine_create(&ec, &e)) {
		itd_free(work);
		fprintf(stderr, "intentd replay: out of memory\n");
		rc = ITD_EXIT_RUNTIME;
		goto out;
	}
	struct itd_store_recovery rec;
	bool from_snap = itd_cli_opt(c, "from-snapshot") != NULL;
	uint64_t t0 = itd_clock_mono_ns();
	rc = itd_store_recover(st, e, from_snap, &rec, err, sizeof err);
	if (rec.snapshots_bad)
		fprintf(stderr, "intentd replay: %s (%llu skipped)\n", rec.note,
			(unsigned long long)rec.snapshots_bad);
	double secs = (double)(itd_clock_mono_ns() - t0) / 1e9;
	itd_free(work);
	if (rc == ITD_EVERIFY) {
		fprintf(stderr, "intentd replay: %s\n", err);
		if (rec.diverged_tick)
			report_fields(st, s, seed, rec.diverged_tick);
		rc = ITD_EXIT_VERIFY;
		goto out;
	}
	if (rc) {
		fprintf(stderr, "intentd replay: %s\n", err);
		rc = ITD_EXIT_RUNTIME;
		goto out;
	}
	if (!quiet && from_snap)
		printf("replay: from the snapshot of tick %llu%s\n",
		       (unsigned long long)rec.snapshot_tick,
		       rec.snapshot_tick ? "" : " (none usable: from the start)");
	if (!quiet)
		printf("replay: %llu ticks re-run in %.3f s, every state hash matches; "
		       "%llu intents, final state_hash %016llx, mode %s\n",
		       (unsigned long long)rec.ticks, secs,
		       (unsigned long long)itd_engine_intents_c(e)->n,
		       (unsigned long long)itd_engine_state_hash(e), itd_engine_mode(e));
	rc = ITD_EXIT_OK;
out:
	itd_engine_destroy(e);
	itd_scenario_destroy(s);
	itd_free(identity);
	itd_store_close(st);
	return rc;
}
