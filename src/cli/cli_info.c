/* cli_info.c: `intentd validate`, `intentd scenarios`, `intentd version`
 * and `intentd telemetry summarize`. */
#include <sodium.h>
#include <string.h>
#include <yaml.h>

#include "cli_int.h"
#include "telemetry/telemetry.h"

static void describe(const struct itd_scenario *s, const char *what)
{
	printf("%s: ok (scenario %s: %zu state fields, %zu modes, %zu intent types, %zu safety "
	       "rules, %zu initial intents)\n",
	       what, s->name, s->n_fields, s->n_modes, s->n_types, s->n_safety, s->n_intents);
}

int itd_cmd_validate(struct itd_cmd_ctx *c)
{
	bool quiet = itd_cli_opt(c, "quiet") != NULL;
	if (!c->n_pos) {
		struct itd_scenario *s;
		int rc = itd_cli_load_scenario(c, &s);
		if (rc)
			return rc;
		if (!quiet)
			describe(s, itd_cli_opt(c, "config") ? itd_cli_opt(c, "config") : s->file);
		itd_scenario_destroy(s);
		return ITD_EXIT_OK;
	}
	if (itd_cli_opt(c, "scenario") || itd_cli_opt(c, "config")) {
		fprintf(stderr, "intentd validate: give FILE arguments or --scenario/--config, not both\n");
		return ITD_EXIT_USAGE;
	}
	int worst = ITD_EXIT_OK;
	for (size_t i = 0; i < c->n_pos; i++) {
		struct itd_scenario *s;
		int rc = itd_cli_load(c, NULL, c->pos[i], &s);
		if (rc) {
			worst = rc > worst ? rc : worst;
			continue;
		}
		if (!quiet)
			describe(s, c->pos[i]);
		itd_scenario_destroy(s);
	}
	return worst;
}

int itd_cmd_scenarios(struct itd_cmd_ctx *c)
{
	const struct itd_embedded *b = itd_scenario_builtins();
	const char *show = itd_cli_opt(c, "show");
	if (show) {
		size_t len = strlen(show);
		for (; b->name; b++) {
			if (!strncmp(b->name, show, len) && !strcmp(b->name + len, ".yaml")) {
				fwrite(b->data, 1, b->size, stdout);
				return ITD_EXIT_OK;
			}
		}
		fprintf(stderr, "intentd scenarios: unknown scenario '%s'\n", show);
		return ITD_EXIT_USAGE;
	}
	for (; b->name; b++) {
		char name[128];
		snprintf(name, sizeof name, "%.*s", (int)(strcspn(b->name, ".")), b->name);
		struct itd_scenario *s = NULL;
		struct itd_diags d = {0};
		if (itd_scenario_load_builtin(name, NULL, 0, &s, &d) == ITD_OK) {
			printf("%-16s %.0f Hz, %zu state fields, %zu intent types  %s\n", name,
			       s->rate_hz, s->n_fields, s->n_types,
			       s->description ? s->description : "");
		} else {
			printf("%-16s (does not load: run 'intentd validate --scenario %s')\n", name,
			       name);
		}
		itd_scenario_destroy(s);
		itd_diags_fini(&d);
	}
	return ITD_EXIT_OK;
}

int itd_cmd_version(struct itd_cmd_ctx *c)
{
	(void)c;
	printf("intentd %s (libyaml %s, libsodium %s)\n", ITD_VERSION, yaml_get_version_string(),
	       sodium_version_string());
	return ITD_EXIT_OK;
}

int itd_cmd_telemetry(struct itd_cmd_ctx *c)
{
	if (c->n_pos != 2 || strcmp(c->pos[0], "summarize")) {
		itd_cli_usage(c->cmd, stderr);
		return ITD_EXIT_USAGE;
	}
	const char *path = c->pos[1];
	FILE *in = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!in) {
		fprintf(stderr, "intentd telemetry summarize: cannot open '%s': %m\n", path);
		return ITD_EXIT_USAGE;
	}
	int rc = itd_tel_summarize(in, path, stdout, itd_cli_opt(c, "json") != NULL);
	if (in != stdin)
		fclose(in);
	if (rc == ITD_EPARSE) {
		fprintf(stderr, "intentd telemetry summarize: '%s' holds no telemetry events\n", path);
		return ITD_EXIT_USAGE;
	}
	return rc ? ITD_EXIT_RUNTIME : ITD_EXIT_OK;
}
