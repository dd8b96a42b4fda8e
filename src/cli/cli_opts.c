/* cli_opts.c: table-driven option parsing and the --help text generated
 * from the same tables. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli_int.h"
#include "core/core.h"

static size_t n_opts(const struct itd_cmd *cmd)
{
	size_t n = 0;
	while (cmd->opts && cmd->opts[n].name)
		n++;
	return n;
}

void itd_cli_usage(const struct itd_cmd *cmd, FILE *f)
{
	fprintf(f, "usage: intentd %s%s%s%s\n\n%s\n", cmd->name, n_opts(cmd) ? " [options]" : "",
		cmd->args ? " " : "", cmd->args ? cmd->args : "", cmd->summary);
	if (!n_opts(cmd))
		return;
	fprintf(f, "\noptions:\n");
	for (size_t i = 0; cmd->opts[i].name; i++) {
		const struct itd_opt *o = &cmd->opts[i];
		char left[64];
		snprintf(left, sizeof left, "%s%c%s--%s%s%s", o->short_name ? "-" : "",
			 o->short_name ? o->short_name : ' ', o->short_name ? ", " : " ", o->name,
			 o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-28s %s%s\n", o->short_name ? left : left + 2, o->help,
			o->repeat ? " (repeatable)" : "");
	}
}

static int find(const struct itd_cmd *cmd, const char *name, size_t len, char short_name)
{
	for (size_t i = 0; cmd->opts && cmd->opts[i].name; i++) {
		const struct itd_opt *o = &cmd->opts[i];
		if (short_name ? o->short_name == short_name
			       : strlen(o->name) == len && !strncmp(o->name, name, len))
			return (int)i;
	}
	return -1;
}

int itd_cli_parse(const struct itd_cmd *cmd, int argc, char **argv, struct itd_cmd_ctx *c)
{
	memset(c, 0, sizeof *c);
	c->cmd = cmd;
	size_t n = n_opts(cmd);
	c->vals = calloc(n ? n : 1, sizeof *c->vals);
	c->pos = calloc((size_t)argc + 1, sizeof *c->pos);
	if (!c->vals || !c->pos) {
		fprintf(stderr, "intentd: out of memory\n");
		return ITD_EXIT_RUNTIME;
	}
	bool only_pos = false;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		if (only_pos || a[0] != '-' || !a[1]) {
			c->pos[c->n_pos++] = a;
			continue;
		}
		if (!strcmp(a, "--")) {
			only_pos = true;
			continue;
		}
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			itd_cli_usage(cmd, stdout);
			return -1;
		}
		int k;
		const char *val = NULL;
		if (a[1] == '-') {
			const char *eq = strchr(a + 2, '=');
			size_t len = eq ? (size_t)(eq - (a + 2)) : strlen(a + 2);
			k = find(cmd, a + 2, len, 0);
			if (eq)
				val = eq + 1;
		} else {
			k = a[2] ? -1 : find(cmd, NULL, 0, a[1]);
		}
		if (k < 0) {
			fprintf(stderr, "intentd %s: unknown option '%s' (see 'intentd %s --help')\n",
				cmd->name, a, cmd->name);
			return ITD_EXIT_USAGE;
		}
		const struct itd_opt *o = &cmd->opts[k];
		if (o->arg && !val) {
			if (i + 1 >= argc) {
				fprintf(stderr, "intentd %s: option '--%s' needs a value (%s)\n",
					cmd->name, o->name, o->arg);
				return ITD_EXIT_USAGE;
			}
			val = argv[++i];
		} else if (!o->arg && val) {
			fprintf(stderr, "intentd %s: option '--%s' takes no value\n", cmd->name,
				o->name);
			return ITD_EXIT_USAGE;
		}
		struct itd_optval *v = &c->vals[k];
		if (v->n && !o->repeat) {
			fprintf(stderr, "intentd %s: option '--%s' given twice\n", cmd->name, o->name);
			return ITD_EXIT_USAGE;
		}
		const char **all = realloc(v->all, (v->n + 1) * sizeof *all);
		if (!all) {
			fprintf(stderr, "intentd: out of memory\n");
			return ITD_EXIT_RUNTIME;
		}
		v->all = all;
		v->all[v->n++] = val ? val : "";
		v->value = val ? val : "";
	}
	return 0;
}

void itd_cli_ctx_fini(struct itd_cmd_ctx *c)
{
	size_t n = c->cmd ? n_opts(c->cmd) : 0;
	for (size_t i = 0; c->vals && i < n; i++)
		free(c->vals[i].all);
	free(c->vals);
	free(c->pos);
	memset(c, 0, sizeof *c);
}

const struct itd_optval *itd_cli_optv(const struct itd_cmd_ctx *c, const char *name)
{
	int k = find(c->cmd, name, strlen(name), 0);
	return k < 0 ? NULL : &c->vals[k];
}

const char *itd_cli_opt(const struct itd_cmd_ctx *c, const char *name)
{
	const struct itd_optval *v = itd_cli_optv(c, name);
	return v ? v->value : NULL;
}

int itd_cli_u64(const char *opt, const char *s, unsigned long long lo, unsigned long long hi,
		unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (!*s || *end || errno || s[0] == '-' || v < lo || v > hi) {
		fprintf(stderr, "intentd: --%s: expected a whole number in [%llu, %llu], got '%s'\n",
			opt, lo, hi, s);
		return ITD_EXIT_USAGE;
	}
	*out = v;
	return 0;
}

int itd_cli_double(const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v) || v < lo || v > hi) {
		fprintf(stderr, "intentd: --%s: expected a number in [%g, %g], got '%s'\n", opt, lo,
			hi, s);
		return ITD_EXIT_USAGE;
	}
	*out = v;
	return 0;
}

int itd_cli_load_scenario(const struct itd_cmd_ctx *c, struct itd_scenario **out)
{
	const char *name = itd_cli_opt(c, "scenario");
	const char *file = itd_cli_opt(c, "config");
	if (name && file) {
		fprintf(stderr, "intentd %s: give --scenario or --config, not both\n", c->cmd->name);
		return ITD_EXIT_USAGE;
	}
	return itd_cli_load(c, name, file, out);
}

int itd_cli_load(const struct itd_cmd_ctx *c, const char *name, const char *file,
		 struct itd_scenario **out)
{
	const struct itd_optval *sets = itd_cli_optv(c, "set");
	size_t n_ovr = sets ? sets->n : 0;
	struct itd_override *ovr = calloc(n_ovr ? n_ovr : 1, sizeof *ovr);
	char **paths = calloc(n_ovr ? n_ovr : 1, sizeof *paths);
	int rc = ITD_EXIT_USAGE;
	if (!ovr || !paths) {
		fprintf(stderr, "intentd: out of memory\n");
		rc = ITD_EXIT_RUNTIME;
		goto out;
	}
	for (size_t i = 0; i < n_ovr; i++) {
		const char *kv = sets->all[i];
		const char *eq = strchr(kv, '=');
		if (!eq || eq == kv) {
			fprintf(stderr, "--set:1:1: expected PATH=VALUE, got '%s'\n", kv);
			goto out;
		}
		paths[i] = strndup(kv, (size_t)(eq - kv));
		if (!paths[i]) {
			rc = ITD_EXIT_RUNTIME;
			goto out;
		}
		ovr[i].path = paths[i];
		ovr[i].value = eq + 1;
	}
	struct itd_diags d = {0};
	int lrc = file ? itd_scenario_load_file(file, ovr, n_ovr, out, &d)
		       : itd_scenario_load_builtin(name ? name : "spacecraft", ovr, n_ovr, out, &d);
	itd_diags_print(&d, stderr);
	itd_diags_fini(&d);
	if (lrc == ITD_ENOMEM) {
		fprintf(stderr, "intentd: out of memory loading the scenario\n");
		rc = ITD_EXIT_RUNTIME;
	} else if (lrc == ITD_OK) {
		rc = 0;
	}
out:
	for (size_t i = 0; paths && i < n_ovr; i++)
		free(paths[i]);
	free(paths);
	free(ovr);
	return rc;
}

int itd_cli_run_identity(const struct itd_cmd_ctx *c, const struct itd_scenario *s,
			 unsigned long long *seed_out, char *run_id, size_t cap)
{
	const char *v = itd_cli_opt(c, "seed");
	*seed_out = s->seed;
	if (v) {
		int rc = itd_cli_u64("seed", v, 0, UINT64_MAX, seed_out);
		if (rc)
			return rc;
	}
	if ((v = itd_cli_opt(c, "run-id")))
		snprintf(run_id, cap, "%s", v);
	else
		snprintf(run_id, cap, "%s-s%llu", s->name, *seed_out);
	return 0;
}

char *itd_cli_scenario_identity(const struct itd_cmd_ctx *c, size_t *len_out)
{
	const char *name = itd_cli_opt(c, "scenario");
	const char *file = itd_cli_opt(c, "config");
	char *text = NULL;
	size_t len = 0;
	if (file) {
		FILE *f = fopen(file, "rb");
		if (!f)
			return NULL;
		char buf[65536];
		size_t n;
		while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
			char *t = realloc(text, len + n + 1);
			if (!t) {
				free(text);
				fclose(f);
				return NULL;
			}
			text = t;
			memcpy(text + len, buf, n);
			len += n;
		}
		fclose(f);
	} else {
		const char *want = name ? name : "spacecraft";
		for (const struct itd_embedded *b = itd_scenario_builtins(); b->name; b++) {
			size_t k = strlen(want);
			if (!strncmp(b->name, want, k) && !strcmp(b->name + k, ".yaml")) {
				text = malloc(b->size + 1);
				if (!text)
					return NULL;
				memcpy(text, b->data, b->size);
				len = b->size;
			}
		}
	}
	if (!text)
		return NULL;
	/* The overrides are part of what the run is. */
	const struct itd_optval *sets = itd_cli_optv(c, "set");
	for (size_t i = 0; sets && i < sets->n; i++) {
		size_t n = strlen(sets->all[i]);
		char *t = realloc(text, len + n + 8);
		if (!t) {
			free(text);
			return NULL;
		}
		text = t;
		len += (size_t)sprintf(text + len, "\n--set %s", sets->all[i]);
	}
	*len_out = len;
	return text;
}
