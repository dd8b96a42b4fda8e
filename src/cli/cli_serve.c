/* cli_serve.c: `intentd serve`: the live runtime with its HTTP API; runs
 * until SIGINT/SIGTERM, then shuts down gracefully. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli_int.h"
#include "server/server.h"

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

/* An optional size option; returns an exit status on a bad value. */
static int size_opt(const struct itd_cmd_ctx *c, const char *name, unsigned long long lo,
		    unsigned long long hi, unsigned long long *out)
{
	const char *v = itd_cli_opt(c, name);
	return v ? itd_cli_u64(name, v, lo, hi, out) : 0;
}

int itd_cmd_serve(struct itd_cmd_ctx *c)
{
	struct itd_scenario *s = NULL;
	struct itd_server *srv = NULL;
	char *identity = NULL; /* with --data: what the run's scenario is */
	size_t id_len = 0;
	int rc;
	if (c->n_pos) {
		fprintf(stderr, "intentd serve: unexpected argument '%s'\n", c->pos[0]);
		return ITD_EXIT_USAGE;
	}
	double rate = 0;
	unsigned long long seed = 0, ring = 0, cbuf = 0, body = 0, timeout = 0, conns = 0;
	unsigned long long audit_every = 0, snap_every = 0, keep_snaps = 0,
			   commit_ms = ITD_SERVER_COMMIT_INTERVAL_MS;
	const char *v;
	if ((v = itd_cli_opt(c, "rate")) && (rc = itd_cli_double("rate", v, 1e-3, 100000, &rate)))
		return rc;
	if ((rc = size_opt(c, "stream-ring", 16, 1ull << 24, &ring)) ||
	    (rc = size_opt(c, "stream-client-buffer", 4096, 1ull << 30, &cbuf)) ||
	    (rc = size_opt(c, "max-body", 1024, 1ull << 26, &body)) ||
	    (rc = size_opt(c, "timeout", 1, 3600, &timeout)) ||
	    (rc = size_opt(c, "max-conns", 16, 1000000, &conns)) ||
	    (rc = size_opt(c, "audit-every", 1, 1ull << 40, &audit_every)) ||
	    (rc = size_opt(c, "snapshot-every", 0, 1ull << 40, &snap_every)) ||
	    (rc = size_opt(c, "keep-snapshots", 0, 1ull << 40, &keep_snaps)) ||
	    (rc = size_opt(c, "commit-interval", 0, 10000, &commit_ms)))
		return rc;
	if (itd_cli_opt(c, "audit-key") && !itd_cli_opt(c, "data")) {
		fprintf(stderr, "intentd serve: --audit-key needs --data (the audit chain lives "
				"in the data directory)\n");
		return ITD_EXIT_USAGE;
	}
	if ((rc = itd_cli_load_scenario(c, &s)))
		return rc;
	char run_id[256];
	if ((rc = itd_cli_run_identity(c, s, &seed, run_id, sizeof run_id)))
		goto out;
	bool quiet = itd_cli_opt(c, "quiet") != NULL;
	if (itd_cli_opt(c, "data"))
		identity = itd_cli_scenario_identity(c, &id_len);
	struct itd_server_config cfg = {
		.scn = s, .seed = seed, .rate_hz = rate, .run_id = run_id,
		.listen = itd_cli_opt(c, "listen"), .data_dir = itd_cli_opt(c, "data"),
		.tokens_file = itd_cli_opt(c, "tokens"), .tls_cert = itd_cli_opt(c, "tls-cert"),
		.tls_key = itd_cli_opt(c, "tls-key"), .telemetry = itd_cli_opt(c, "telemetry"),
		.stream_ring = (size_t)ring, .client_buffer = (size_t)cbuf, .max_body = (size_t)body,
		.timeout_s = (unsigned)timeout, .max_conns = (unsigned)conns,
		.metrics_open = itd_cli_opt(c, "metrics-open") != NULL, .quiet = quiet,
		.realtime = itd_cli_opt(c, "realtime") != NULL,
		.identity = identity, .identity_len = id_len,
		.audit_key = itd_cli_opt(c, "audit-key"), .audit_every = audit_every,
		.snapshot_every = itd_cli_opt(c, "snapshot-every") && !snap_every ? UINT64_MAX
										  : snap_every,
		.keep_snapshots = itd_cli_opt(c, "keep-snapshots") && !keep_snaps ? UINT64_MAX
										  : keep_snaps,
		.commit_interval_ms = commit_ms};
	char err[1024];
	rc = itd_server_create(&cfg, &srv, err, sizeof err);
	if (rc) {
		fprintf(stderr, "intentd serve: %s\n", err);
		rc = rc == ITD_ECONFIG ? ITD_EXIT_USAGE : ITD_EXIT_RUNTIME;
		goto out;
	}
	/* Every stream client is a descriptor: allow as many as we may. */
	struct rlimit rl;
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	struct sigaction sa = {.sa_handler = on_signal};
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* These two lines are the server's contract with scripts and tests. */
	fprintf(stderr, "intentd: listening on %s\n", itd_server_url(srv));
	if (itd_server_token_path(srv))
		fprintf(stderr, "intentd: admin token in %s\n", itd_server_token_path(srv));
	if (!quiet)
		fprintf(stderr, "intentd: running %s at %g Hz (API under %s/api/v1/, stop with Ctrl-C)\n",
			s->name, rate > 0 ? rate : s->rate_hz, itd_server_url(srv));
	rc = itd_server_run(srv, &stop_flag) ? ITD_EXIT_RUNTIME : ITD_EXIT_OK;
	if (!quiet)
		fprintf(stderr, "intentd: stopped\n");
out:
	itd_server_destroy(srv);
	itd_scenario_destroy(s);
	free(identity);
	return rc;
}
