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
	{"lines", 'l', NULL, "print one readable line per tick", false},
	{"quiet", 'q', NULL, "no progress bar and no summary", false},
	{NULL, 0, NULL, NULL, false},
};

static const struct itd_opt validate_opts[] = {
	SCENARIO_OPTS,
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
	{"validate", "[FILE...]", "Check scenario files (or --scenario NAME) and report every "
				  "error as FILE:LINE:COL: message.", validate_opts,
	 itd_cmd_validate},
	{"scenarios", NULL, "List the built-in scenarios.", scenarios_opts, itd_cmd_scenarios},
	{"telemetry", "summarize FILE", "Summarize a telemetry JSONL file: events by name, "
					"intent outcomes, latency percentiles, block reasons.",
	 telemetry_opts, itd_cmd_telemetry},
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
