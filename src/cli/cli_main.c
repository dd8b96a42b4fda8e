/* cli_main.c: the subcommand table and dispatch; `intentd --help` lists
 * the table. */
#include <stdio.h>
#include <string.h>

#include "cli_int.h"

#define SCENARIO_OPTS                                                                   \
	{"scenario", 0, "NAME", "a built-in scenario (default: spacecraft)", false},    \
	{"config", 'c', "FILE", "a scenario file instead of a built-in", false},        \
	{"set", 0, "PATH=VALUE", "override a scenario value, e.g. state.battery.initial=24", \
	 true}

#define AUDIT_OPTS                                                                      \
	{"snapshot-every", 0, "N", "with --data: snapshot the state every N ticks (default "   \
				   "10000; 0: never), so recovery replays only what follows", \
	 false},                                                                        \
	{"keep-snapshots", 0, "N", "with --data: keep the newest N snapshots, deleting older "  \
				   "ones as new ones are written (default 8; 0: keep all)",      \
	 false},                                                                        \
	{"audit-key", 0, "FILE", "sign audit chain checkpoints with this Ed25519 secret key "   \
				 "(make one with `intentd audit keygen`)", false},              \
	{"audit-every", 0, "N", "with --audit-key: a signed checkpoint every N entries "        \
				"(default 1000)", false}

static const struct itd_opt sim_opts[] = {
	SCENARIO_OPTS,
	{"cycles", 'n', "N", "ticks to run (default 400; 0 = until interrupted)", false},
	{"seed", 0, "S", "run seed (default: the scenario's)", false},
	{"clock", 0, "sim|real", "sim: as fast as possible, deterministic stamps (default);"
				 " real: paced at the rate", false},
	{"rate", 0, "HZ", "tick rate (default: the scenario's)", false},
	{"telemetry", 't', "PATH|-|off", "where events go (default logs/telemetry/RUN_ID.jsonl;"
					 " - = stdout)", false},
	{"telemetry-policy", 0, "block|drop", "when a sink falls behind: wait (default with"
					      " --clock sim) or drop oldest (default with real)",
	 false},
	{"run-id", 0, "ID", "the envelope's run_id (default SCENARIO-sSEED)", false},
	{"data", 'd', "DIR", "journal the run into an empty data directory (check it with "
			    "`intentd replay --data DIR`)", false},
	AUDIT_OPTS,
	{"lines", 'l', NULL, "print one readable line per tick", false},
	{"quiet", 'q', NULL, "no progress bar and no summary", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt serve_opts[] = {
	SCENARIO_OPTS,
	{"listen", 0, "HOST:PORT", "where to serve HTTP (default 127.0.0.1:5050; port 0: any free)",
	 false},
	{"rate", 0, "HZ", "tick rate (default: the scenario's)", false},
	{"seed", 0, "S", "run seed (default: the scenario's)", false},
	{"data", 'd', "DIR", "data directory: the durable store (a restart continues the run), "
			    "admin token, snapshots", false},
	AUDIT_OPTS,
	{"tokens", 0, "FILE", "bearer tokens with roles (YAML, mode 0600)", false},
	{"tls-cert", 0, "FILE", "serve HTTPS with this PEM certificate", false},
	{"tls-key", 0, "FILE", "and this PEM private key", false},
	{"telemetry", 't', "PATH|-|off", "where events go besides the live stream (default "
					 "logs/telemetry/RUN_ID.jsonl)", false},
	{"run-id", 0, "ID", "the envelope's run_id (default SCENARIO-sSEED)", false},
	{"stream-ring", 0, "N", "events kept for resuming streams (default 65536)", false},
	{"stream-client-buffer", 0, "BYTES", "how far a stream client may lag before it is cut "
					    "off (default 1 MiB)", false},
	{"max-body", 0, "BYTES", "largest request body (default 65536)", false},
	{"timeout", 0, "S", "idle connection timeout in seconds (default 30)", false},
	{"max-conns", 0, "N", "simultaneous connections (default 4096)", false},
	{"commit-interval", 0, "MS", "with --data: while no submission waits, commit ticks at "
				     "most every MS milliseconds (default 100; 0: each at once); "
				     "their telemetry waits as long", false},
	{"metrics-open", 0, NULL, "serve /metrics without a token", false},
	{"realtime", 0, NULL, "run the tick thread with real-time priority (SCHED_FIFO; needs "
			      "privilege)", false},
	{"quiet", 'q', NULL, "print only the listening address and token path", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt validate_opts[] = {
	SCENARIO_OPTS,
	{"quiet", 'q', NULL, "print only errors", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt replay_opts[] = {
	{"data", 'd', "DIR", "the data directory of a run (required)", false},
	{"verify", 0, NULL, "compare every tick's state hash (always done; exit 3 on a "
			    "divergence)", false},
	{"from-snapshot", 0, NULL, "start from the newest valid snapshot instead of tick 0 "
				   "(what a restart does)", false},
	{"quiet", 'q', NULL, "print only errors", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt audit_opts[] = {
	{"data", 'd', "DIR", "the data directory whose chain to verify or export", false},
	{"from", 0, "INDEX", "export: start at this entry (default 1)", false},
	{"public-key", 0, "FILE", "verify: check checkpoint signatures with this Ed25519 public "
				  "key", false},
	{"checkpoint-every", 0, "N", "verify, with --public-key: a checkpoint must follow every "
				     "N entries (default 1000; 0: do not require them)", false},
	{"head", 0, "INDEX:HASH", "verify: the chain must reach this entry with this hash (a "
				  "head printed by an earlier verify: catches truncation)", false},
	{"quiet", 'q', NULL, "print only errors", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt upgrade_opts[] = {
	{"data", 'd', "DIR", "the data directory to upgrade (required)", false},
	{"quiet", 'q', NULL, "print only errors", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt scenarios_opts[] = {
	{"show", 0, "NAME", "print a built-in scenario's YAML (to start your own)", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt telemetry_opts[] = {
	{"json", 0, NULL, "print the summary as JSON", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_cmd commands[] = {
	{"sim", NULL, "Run a scenario in batch (or paced with --clock real) and report "
		      "telemetry.", sim_opts, itd_cmd_sim},
	{"serve", NULL, "Run a scenario live: real-time ticks, HTTP API with roles, live event "
			"stream, console and Prometheus metrics.", serve_opts, itd_cmd_serve},
	{"replay", NULL, "Re-run a data directory's journal offline and check every tick's state "
			 "hash (exit 3 on a divergence).", replay_opts, itd_cmd_replay},
	{"audit", "verify|export|keygen [SECRET PUBLIC]",
	 "Verify a data directory's tamper-evident audit chain (exit 3 names the first bad "
	 "entry), export its entries as JSON lines, or make a key pair to sign its "
	 "checkpoints.", audit_opts, itd_cmd_audit},
	{"upgrade", NULL, "Upgrade a data directory written by an older build to this build's "
			  "store format, in place, so the offline commands can read it.",
	 upgrade_opts, itd_cmd_upgrade},
	{"validate", "[FILE...]", "Check scenario files (or --scenario NAME) and report every "
				  "error as FILE:LINE:COL: message.", validate_opts,
	 itd_cmd_validate},
	{"scenarios", NULL, "List the built-in scenarios.", scenarios_opts, itd_cmd_scenarios},
	{"telemetry", "summarize FILE", "Summarize a telemetry JSONL file: events by name, "
					"intent outcomes, latency percentiles, block reasons.",
	 telemetry_opts, itd_cmd_telemetry},
	{"submit", "TYPE", "Submit an intent to a running server.", itd_submit_opts, itd_cmd_submit},
	{"intents", NULL, "List a running server's intents.", itd_intents_opts, itd_cmd_intents},
	{"explain", "ID", "Tell an intent's story: history, verdicts, explanation.", itd_explain_opts,
	 itd_cmd_explain},
	{"cancel", "ID", "Cancel an intent.", itd_cancel_opts, itd_cmd_cancel},
	{"console", "CMD [ARGS]", "Console: pause | resume | step [N] | set FIELD VALUE | snapshot | status.",
	 itd_console_opts, itd_cmd_console},
	{"version", NULL, "Print the version.", NULL, itd_cmd_version},
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
	fprintf(f, "usage: intentd COMMAND [options]\n\n"
		   "intentd keeps intent durably, gates it through explainable policy and\n"
		   "safety rules, applies at most one state mutation per tick, and reports\n"
		   "everything as JSONL telemetry.\n\ncommands:\n");
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'intentd COMMAND --help' describes a command's options.\n"
		   "Exit status: 0 success, 1 runtime failure, 2 usage or configuration error,\n"
		   "3 verification failure.\n");
}

int itd_cli_main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return ITD_EXIT_USAGE;
	}
	const char *name = argv[1];
	if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
		usage(stdout);
		return ITD_EXIT_OK;
	}
	if (!strcmp(name, "--version"))
		name = "version";
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name))
			continue;
		struct itd_cmd_ctx c;
		int rc = itd_cli_parse(&commands[i], argc - 2, argv + 2, &c);
		if (rc == 0)
			rc = commands[i].run(&c);
		else if (rc < 0)
			rc = ITD_EXIT_OK; /* --help */
		itd_cli_ctx_fini(&c);
		return rc;
	}
	fprintf(stderr, "intentd: unknown command '%s'\n\n", name);
	usage(stderr);
	return ITD_EXIT_USAGE;
}
