/* tel_summarize.c: `intentd telemetry summarize FILE`: one streaming pass
 * over a JSONL telemetry file that reports events by name, intent outcomes,
 * received->executed latency percentiles, blocked rules, rejected reasons,
 * sink drops, seq gaps and malformed lines, as aligned text or one JSON
 * object.
 *
 * Memory stays bounded whatever the file's length: lines are read in
 * blocks, name tables stop growing at TABLE_MAX names (the rest is counted
 * under "(other)"), only the first LIST_MAX gaps and malformed lines are
 * kept, and the set of intents is the set of those still active.  The
 * exception is the latency samples, kept whole so percentiles are exact
 * (nearest rank on the sorted samples). */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "telemetry/telemetry_int.h"

#define BLOCK ((size_t)1 << 16)
#define LINE_MAX_BYTES ((size_t)64 << 20) /* longer lines are malformed */
#define TABLE_MAX 4096                      /* distinct names per table */
#define LIST_MAX 10                         /* gaps and malformed lines kept */
#define OTHER "(other)"

/* ---------------------------------------------------------------- tables */

/* Names with counts (event names, rules, reasons, sinks), in a chained
 * hash table that stops taking new names at TABLE_MAX. */
struct entry {
	struct entry *next;  /* bucket chain */
	uint64_t n;          /* count (or, for sinks, dropped) */
	uint64_t aux;        /* sinks: write errors */
	char name[];         /* NUL-terminated */
};

struct table {
	struct entry **b;    /* buckets */
	size_t n_b;          /* bucket count, a power of two */
	size_t n;            /* entries */
	bool capped;         /* stop adding names once full */
};

static uint64_t hash_str(const char *s, size_t n)
{
	return itd_hash64(s, n, 0x7e1e);
}

/* The entry for name, created (count 0) if absent and there is room; an
 * "(other)" entry once the table is full.  NULL only when out of memory. */
static struct entry *table_get(struct table *t, const char *name)
{
	size_t len = strlen(name);
	if (!t->b) {
		t->n_b = 64;
		t->b = itd_calloc(t->n_b, sizeof *t->b);
		if (!t->b)
			return NULL;
	}
	for (;;) {
		uint64_t h = hash_str(name, len);
		for (struct entry *e = t->b[h & (t->n_b - 1)]; e; e = e->next)
			if (strcmp(e->name, name) == 0)
				return e;
		if (!t->capped || t->n < TABLE_MAX || strcmp(name, OTHER) == 0)
			break;
		name = OTHER;
		len = strlen(OTHER);
	}
	if (t->n >= t->n_b) {
		size_t n_b = t->n_b * 2;
		struct entry **b = itd_calloc(n_b, sizeof *b);
		if (!b)
			return NULL;
		for (size_t i = 0; i < t->n_b; i++) {
			for (struct entry *e = t->b[i], *next; e; e = next) {
				next = e->next;
				uint64_t h = hash_str(e->name, strlen(e->name));
				e->next = b[h & (n_b - 1)];
				b[h & (n_b - 1)] = e;
			}
		}
		itd_free(t->b);
		t->b = b;
		t->n_b = n_b;
	}
	struct entry *e = itd_malloc(sizeof *e + len + 1);
	if (!e)
		return NULL;
	e->n = 0;
	e->aux = 0;
	memcpy(e->name, name, len + 1);
	uint64_t h = hash_str(name, len);
	e->next = t->b[h & (t->n_b - 1)];
	t->b[h & (t->n_b - 1)] = e;
	t->n++;
	return e;
}

/* Remove name if present (the active-intent set). */
static void table_del(struct table *t, const char *name)
{
	if (!t->b)
		return;
	uint64_t h = hash_str(name, strlen(name));
	for (struct entry **pe = &t->b[h & (t->n_b - 1)]; *pe; pe = &(*pe)->next) {
		if (strcmp((*pe)->name, name) == 0) {
			struct entry *e = *pe;
			*pe = e->next;
			itd_free(e);
			t->n--;
			return;
		}
	}
}

static void table_free(struct table *t)
{
	for (size_t i = 0; t->b && i < t->n_b; i++) {
		for (struct entry *e = t->b[i], *next; e; e = next) {
			next = e->next;
			itd_free(e);
		}
	}
	itd_free(t->b);
}

static int by_count(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	if (x->n != y->n)
		return x->n > y->n ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int by_name(const void *a, const void *b)
{
	const struct entry *x = *(struct entry *const *)a, *y = *(struct entry *const *)b;
	return strcmp(x->name, y->name);
}

/* The entries sorted (by count, descending, or by name); caller frees. */
static struct entry **table_sorted(const struct table *t, bool count_order)
{
	struct entry **v = itd_malloc((t->n ? t->n : 1) * sizeof *v);
	if (!v)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; t->b && i < t->n_b; i++)
		for (struct entry *e = t->b[i]; e; e = e->next)
			v[k++] = e;
	qsort(v, k, sizeof *v, count_order ? by_count : by_name);
	return v;
}

/* --------------------------------------------------------------- samples */

struct samples {
	double *v;    /* values */
	size_t n;     /* used */
	size_t cap;   /* allocated */
};

static int samples_push(struct samples *s, double x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 1024;
		double *v = itd_realloc(s->v, cap * sizeof *v);
		if (!v)
			return ITD_ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = x;
	return ITD_OK;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted samples (n > 0). */
static double percentile(const struct samples *s, unsigned p)
{
	size_t idx = (p * s->n + 99) / 100;
	return s->v[idx ? idx - 1 : 0];
}

/* --------------------------------------------------------------- reading */

struct reader {
	FILE *in;           /* the input */
	char *blk;          /* BLOCK bytes read ahead */
	size_t len, pos;    /* filled and consumed bytes of blk */
	bool eof;           /* the input is exhausted */
	char *line;         /* current line (NUL-terminated) */
	size_t line_len;    /* its length */
	size_t line_cap;    /* bytes allocated for it */
	bool too_long;      /* the current line exceeded LINE_MAX_BYTES */
};

/* Next line without its newline: 1, 0 at end of input, or ITD_EIO/NOMEM. */
static int read_line(struct reader *r)
{
	bool any = false;
	r->line_len = 0;
	r->too_long = false;
	for (;;) {
		if (r->pos == r->len) {
			if (r->eof)
				break;
			r->len = fread(r->blk, 1, BLOCK, r->in);
			r->pos = 0;
			if (r->len == 0) {
				if (ferror(r->in))
					return ITD_EIO;
				r->eof = true;
			}
			continue;
		}
		any = true;
		char *start = r->blk + r->pos;
		char *nl = memchr(start, '\n', r->len - r->pos);
		size_t n = nl ? (size_t)(nl - start) : r->len - r->pos;
		r->pos += n + (nl ? 1 : 0);
		if (r->line_len + n > LINE_MAX_BYTES)
			r->too_long = true;
		if (!r->too_long) {
			if (r->line_len + n + 1 > r->line_cap) {
				size_t cap = r->line_cap ? r->line_cap : 4096;
				while (cap < r->line_len + n + 1)
					cap *= 2;
				char *l = itd_realloc(r->line, cap);
				if (!l)
					return ITD_ENOMEM;
				r->line = l;
				r->line_cap = cap;
			}
			memcpy(r->line + r->line_len, start, n);
			r->line_len += n;
		}
		if (nl)
			break;
	}
	if (!any)
		return 0;
	if (r->line)
		r->line[r->line_len] = '\0';
	return 1;
}

/* ----------------------------------------------------------------- state */

struct gap {
	uint64_t after;     /* last seq before the gap */
	uint64_t next;      /* seq found */
	uint64_t line;      /* line number of `next` */
};

struct bad {
	uint64_t line;      /* line number */
	const char *why;    /* static reason */
};

struct summary {
	uint64_t lines;             /* lines read (blank ones included) */
	uint64_t n_json;            /* lines that parsed as JSON */
	uint64_t events;            /* lines that were telemetry events */
	uint64_t n_bad;             /* malformed lines */
	struct bad bad[LIST_MAX];   /* the first malformed lines */
	bool have_seq;              /* seq_first/seq_last are set */
	uint64_t seq_first;         /* first seq seen */
	uint64_t seq_last;          /* last seq seen */
	uint64_t n_gaps;            /* jumps forward by more than one */
	uint64_t missing;           /* seqs skipped by those jumps */
	uint64_t n_back;            /* seqs not above their predecessor */
	struct gap gaps[LIST_MAX];  /* the first gaps */
	size_t n_gap_list;          /* entries in gaps */
	bool have_cycle;            /* cycle_first/cycle_last are set */
	double cycle_first;         /* first and last cycle seen */
	double cycle_last;
	char ts_first[40];          /* first and last timestamp seen */
	char ts_last[40];
	uint64_t received;          /* intent.received events */
	uint64_t completed;         /* terminal outcomes, by event */
	uint64_t failed;
	uint64_t expired;
	uint64_t cancelled;
	uint64_t rejected;
	struct table names;         /* events by name */
	struct table rules;         /* intent.blocked by payload.rule */
	struct table reasons;       /* intent.rejected by payload.reason */
	struct table sinks;         /* last telemetry.delayed figures per sink */
	struct table active;        /* intents received and not yet terminal */
	struct samples ticks;       /* execution.latency payload.ticks */
	struct samples ms;          /* execution.latency payload.ms */
};

static void note_bad(struct summary *s, const char *why)
{
	if (s->n_bad < LIST_MAX)
		s->bad[s->n_bad] = (struct bad){ s->lines, why };
	s->n_bad++;
}

static const char *str_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool num_of(const cJSON *obj, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	if (!cJSON_IsNumber(v))
		return false;
	*out = v->valuedouble;
	return true;
}

static void note_seq(struct summary *s, double d)
{
	if (!(d >= 0 && d < 0x1p64) || d != floor(d))
		return;
	uint64_t seq = (uint64_t)d;
	if (!s->have_seq) {
		s->have_seq = true;
		s->seq_first = seq;
	} else if (seq > s->seq_last + 1) {
		if (s->n_gap_list < LIST_MAX)
			s->gaps[s->n_gap_list++] = (struct gap){ s->seq_last, seq, s->lines };
		s->n_gaps++;
		s->missing += seq - s->seq_last - 1;
	} else if (seq <= s->seq_last) {
		s->n_back++;
	}
	s->seq_last = seq;
}

/* Count one named thing in a table; ENOMEM only. */
static int bump(struct table *t, const char *name)
{
	struct entry *e = table_get(t, name);
	if (!e)
		return ITD_ENOMEM;
	e->n++;
	return ITD_OK;
}

/* One parsed event line. */
static int take_event(struct summary *s, const cJSON *root)
{
	const char *event = str_of(root, "event");
	const cJSON *payload = cJSON_GetObjectItemCaseSensitive(root, "payload");
	double d;
	int rc;

	if (!cJSON_IsObject(root) || !event) {
		note_bad(s, "not a telemetry event (no \"event\")");
		return ITD_OK;
	}
	s->events++;
	if (num_of(root, "seq", &d))
		note_seq(s, d);
	if (num_of(root, "cycle", &d)) {
		if (!s->have_cycle)
			s->cycle_first = d;
		s->have_cycle = true;
		s->cycle_last = d;
	}
	const char *ts = str_of(root, "timestamp");
	if (ts) {
		if (!s->ts_first[0])
			snprintf(s->ts_first, sizeof s->ts_first, "%s", ts);
		snprintf(s->ts_last, sizeof s->ts_last, "%s", ts);
	}
	rc = bump(&s->names, event);
	if (rc)
		return rc;
	if (strncmp(event, "intent.", 7) == 0) {
		const char *id = str_of(payload, "intent_id");
		const char *what = event + 7;
		bool terminal = true;
		if (strcmp(what, "received") == 0) {
			s->received++;
			terminal = false;
			if (id && !table_get(&s->active, id))
				return ITD_ENOMEM;
		} else if (strcmp(what, "completed") == 0) {
			s->completed++;
		} else if (strcmp(what, "failed") == 0) {
			s->failed++;
		} else if (strcmp(what, "expired") == 0) {
			s->expired++;
		} else if (strcmp(what, "cancelled") == 0) {
			s->cancelled++;
		} else if (strcmp(what, "rejected") == 0) {
			s->rejected++;
			const char *reason = str_of(payload, "reason");
			rc = bump(&s->reasons, reason ? reason : "(none)");
		} else {
			terminal = false;
			if (strcmp(what, "blocked") == 0) {
				const char *rule = str_of(payload, "rule");
				rc = bump(&s->rules, rule ? rule : "(none)");
			}
		}
		if (terminal && id)
			table_del(&s->active, id);
		return rc;
	}
	if (strcmp(event, "execution.latency") == 0) {
		double ticks, ms;
		if (num_of(payload, "ticks", &ticks) && num_of(payload, "ms", &ms)) {
			rc = samples_push(&s->ticks, ticks);
			if (!rc)
				rc = samples_push(&s->ms, ms);
		}
		return rc;
	}
	if (strcmp(event, "telemetry.delayed") == 0) {
		/* Counts are totals: the last report per sink is the final word. */
		const cJSON *sinks = cJSON_GetObjectItemCaseSensitive(payload, "sinks");
		const cJSON *it;
		cJSON_ArrayForEach(it, sinks) {
			const char *name = str_of(it, "sink");
			double dropped = 0, errors = 0;
			if (!name)
				continue;
			struct entry *e = table_get(&s->sinks, name);
			if (!e)
				return ITD_ENOMEM;
			if (num_of(it, "dropped", &dropped) && dropped >= 0)
				e->n = (uint64_t)dropped;
			if (num_of(it, "write_errors", &errors) && errors >= 0)
				e->aux = (uint64_t)errors;
		}
	}
	return ITD_OK;
}

/* ---------------------------------------------------------------- output */

static void put_value(FILE *out, double v, int width)
{
	if (v == floor(v) && fabs(v) < 1e15)
		fprintf(out, "%*.0f", width, v);
	else
		fprintf(out, "%*.3f", width, v);
}

static size_t name_width(struct entry **v, size_t n, size_t min)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(v[i]->name) > min)
			min = strlen(v[i]->name);
	return min;
}

static int print_table(FILE *out, const char *title, const char *col, const struct table *t)
{
	if (!t->n)
		return ITD_OK;
	struct entry **v = table_sorted(t, true);
	if (!v)
		return ITD_ENOMEM;
	int w = (int)name_width(v, t->n, strlen(col));
	fprintf(out, "\n%s\n  %-*s %10s\n", title, w, col, "count");
	for (size_t i = 0; i < t->n; i++)
		fprintf(out, "  %-*s %10llu\n", w, v[i]->name, (unsigned long long)v[i]->n);
	itd_free(v);
	return ITD_OK;
}

static int print_human(FILE *out, const char *name, struct summary *s)
{
	int rc;
	fprintf(out, "telemetry summary: %s\n", name);
	fprintf(out, "  lines %llu, events %llu, malformed %llu\n", (unsigned long long)s->lines,
		(unsigned long long)s->events, (unsigned long long)s->n_bad);
	if (s->have_cycle) {
		fprintf(out, "  cycles ");
		put_value(out, s->cycle_first, 0);
		fprintf(out, "..");
		put_value(out, s->cycle_last, 0);
		fprintf(out, ", %s .. %s\n", s->ts_first[0] ? s->ts_first : "?",
			s->ts_last[0] ? s->ts_last : "?");
	}
	rc = print_table(out, "events by name", "event", &s->names);
	if (rc)
		return rc;

	static const char *const outcome[] = { "received", "completed", "failed", "expired",
					       "cancelled", "rejected", "active" };
	uint64_t counts[] = { s->received, s->completed, s->failed, s->expired,
			      s->cancelled, s->rejected, s->active.n };
	fprintf(out, "\nintent outcomes\n  %-10s %10s\n", "outcome", "count");
	for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++)
		fprintf(out, "  %-10s %10llu\n", outcome[i], (unsigned long long)counts[i]);

	fprintf(out, "\nlatency received->executed (%zu samples)\n", s->ticks.n);
	if (s->ticks.n) {
		static const unsigned pct[] = { 50, 90, 99, 100 };
		fprintf(out, "  %-6s %12s %12s %12s %12s\n", "", "p50", "p90", "p99", "max");
		const struct samples *sv[] = { &s->ticks, &s->ms };
		const char *unit[] = { "ticks", "ms" };
		for (int k = 0; k < 2; k++) {
			fprintf(out, "  %-6s", unit[k]);
			for (int i = 0; i < 4; i++) {
				fputc(' ', out);
				put_value(out, percentile(sv[k], pct[i]), 12);
			}
			fputc('\n', out);
		}
	}
	rc = print_table(out, "blocked by rule", "rule", &s->rules);
	if (!rc)
		rc = print_table(out, "rejected by reason", "reason", &s->reasons);
	if (rc)
		return rc;
	if (s->sinks.n) {
		struct entry **v = table_sorted(&s->sinks, false);
		if (!v)
			return ITD_ENOMEM;
		int w = (int)name_width(v, s->sinks.n, 4);
		fprintf(out, "\nsink drops (last telemetry.delayed)\n  %-*s %10s %12s\n", w, "sink",
			"dropped", "write_errors");
		for (size_t i = 0; i < s->sinks.n; i++)
			fprintf(out, "  %-*s %10llu %12llu\n", w, v[i]->name,
				(unsigned long long)v[i]->n, (unsigned long long)v[i]->aux);
		itd_free(v);
	}
	fprintf(out, "\nseq: %llu gap%s, %llu missing, %llu out of order\n",
		(unsigned long long)s->n_gaps, s->n_gaps == 1 ? "" : "s",
		(unsigned long long)s->missing, (unsigned long long)s->n_back);
	if (s->n_gap_list) {
		fprintf(out, "  %10s %10s %10s %10s\n", "after", "next", "missing", "line");
		for (size_t i = 0; i < s->n_gap_list; i++)
			fprintf(out, "  %10llu %10llu %10llu %10llu\n",
				(unsigned long long)s->gaps[i].after,
				(unsigned long long)s->gaps[i].next,
				(unsigned long long)(s->gaps[i].next - s->gaps[i].after - 1),
				(unsigned long long)s->gaps[i].line);
	}
	fprintf(out, "\nmalformed lines: %llu\n", (unsigned long long)s->n_bad);
	for (size_t i = 0; i < s->n_bad && i < LIST_MAX; i++)
		fprintf(out, "  line %llu: %s\n", (unsigned long long)s->bad[i].line, s->bad[i].why);
	return ITD_OK;
}

/* cJSON helpers that record allocation failure instead of checking each. */
static cJSON *add_obj(cJSON *parent, const char *key, bool *nomem)
{
	cJSON *o = cJSON_AddObjectToObject(parent, key);
	*nomem |= o == NULL;
	return o;
}

static void add_num(cJSON *obj, const char *key, double v, bool *nomem)
{
	*nomem |= obj && cJSON_AddNumberToObject(obj, key, v) == NULL;
}

static void add_table(cJSON *root, const char *key, const struct table *t, bool *nomem)
{
	cJSON *o = add_obj(root, key, nomem);
	if (!o)
		return;
	struct entry **v = table_sorted(t, true);
	if (!v) {
		*nomem = true;
		return;
	}
	for (size_t i = 0; i < t->n; i++)
		add_num(o, v[i]->name, (double)v[i]->n, nomem);
	itd_free(v);
}

static int print_json(FILE *out, const char *name, struct summary *s)
{
	bool nomem = false;
	cJSON *root = cJSON_CreateObject();
	if (!root)
		return ITD_ENOMEM;
	nomem |= !cJSON_AddStringToObject(root, "file", name);
	add_num(root, "lines", (double)s->lines, &nomem);
	add_num(root, "events", (double)s->events, &nomem);
	if (s->have_cycle) {
		cJSON *c = add_obj(root, "cycles", &nomem);
		add_num(c, "first", s->cycle_first, &nomem);
		add_num(c, "last", s->cycle_last, &nomem);
	}
	if (s->ts_first[0]) {
		nomem |= !cJSON_AddStringToObject(root, "first_timestamp", s->ts_first);
		nomem |= !cJSON_AddStringToObject(root, "last_timestamp", s->ts_last);
	}
	add_table(root, "events_by_name", &s->names, &nomem);
	cJSON *in = add_obj(root, "intents", &nomem);
	add_num(in, "received", (double)s->received, &nomem);
	add_num(in, "completed", (double)s->completed, &nomem);
	add_num(in, "failed", (double)s->failed, &nomem);
	add_num(in, "expired", (double)s->expired, &nomem);
	add_num(in, "cancelled", (double)s->cancelled, &nomem);
	add_num(in, "rejected", (double)s->rejected, &nomem);
	add_num(in, "active", (double)s->active.n, &nomem);
	cJSON *lat = add_obj(root, "latency", &nomem);
	add_num(lat, "count", (double)s->ticks.n, &nomem);
	const struct samples *sv[] = { &s->ticks, &s->ms };
	const char *unit[] = { "ticks", "ms" };
	for (int k = 0; k < 2 && lat; k++) {
		if (!s->ticks.n) {
			nomem |= !cJSON_AddNullToObject(lat, unit[k]);
			continue;
		}
		cJSON *u = add_obj(lat, unit[k], &nomem);
		add_num(u, "p50", percentile(sv[k], 50), &nomem);
		add_num(u, "p90", percentile(sv[k], 90), &nomem);
		add_num(u, "p99", percentile(sv[k], 99), &nomem);
		add_num(u, "max", percentile(sv[k], 100), &nomem);
	}
	add_table(root, "blocked_rules", &s->rules, &nomem);
	add_table(root, "rejected_reasons", &s->reasons, &nomem);
	cJSON *sinks = add_obj(root, "sinks", &nomem);
	struct entry **v = table_sorted(&s->sinks, false);
	nomem |= v == NULL;
	for (size_t i = 0; v && sinks && i < s->sinks.n; i++) {
		cJSON *o = add_obj(sinks, v[i]->name, &nomem);
		add_num(o, "dropped", (double)v[i]->n, &nomem);
		add_num(o, "write_errors", (double)v[i]->aux, &nomem);
	}
	itd_free(v);
	cJSON *seq = add_obj(root, "seq", &nomem);
	if (s->have_seq) {
		add_num(seq, "first", (double)s->seq_first, &nomem);
		add_num(seq, "last", (double)s->seq_last, &nomem);
	}
	add_num(seq, "gaps", (double)s->n_gaps, &nomem);
	add_num(seq, "missing", (double)s->missing, &nomem);
	add_num(seq, "out_of_order", (double)s->n_back, &nomem);
	cJSON *gl = seq ? cJSON_AddArrayToObject(seq, "gap_list") : NULL;
	nomem |= gl == NULL;
	for (size_t i = 0; gl && i < s->n_gap_list; i++) {
		cJSON *g = cJSON_CreateObject();
		nomem |= g == NULL || !cJSON_AddItemToArray(gl, g);
		add_num(g, "after", (double)s->gaps[i].after, &nomem);
		add_num(g, "next", (double)s->gaps[i].next, &nomem);
		add_num(g, "missing", (double)(s->gaps[i].next - s->gaps[i].after - 1), &nomem);
		add_num(g, "line", (double)s->gaps[i].line, &nomem);
	}
	cJSON *bad = add_obj(root, "malformed", &nomem);
	add_num(bad, "count", (double)s->n_bad, &nomem);
	cJSON *bl = bad ? cJSON_AddArrayToObject(bad, "lines") : NULL;
	nomem |= bl == NULL;
	for (size_t i = 0; bl && i < s->n_bad && i < LIST_MAX; i++) {
		cJSON *b = cJSON_CreateObject();
		nomem |= b == NULL || !cJSON_AddItemToArray(bl, b);
		add_num(b, "line", (double)s->bad[i].line, &nomem);
		nomem |= b && !cJSON_AddStringToObject(b, "error", s->bad[i].why);
	}
	char *text = nomem ? NULL : cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (!text)
		return ITD_ENOMEM;
	fputs(text, out);
	fputc('\n', out);
	cJSON_free(text);
	return ITD_OK;
}

/* ------------------------------------------------------------------ main */

static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

/* cJSON allocates through intentd's allocator like everything else. */
static void set_hooks(void)
{
	cJSON_Hooks h = { .malloc_fn = itd_malloc, .free_fn = itd_free };
	cJSON_InitHooks(&h);
}

int itd_tel_summarize(FILE *in, const char *name, FILE *out, bool as_json)
{
	int rc = ITD_ENOMEM;
	struct summary *s = NULL;
	struct reader r = { .in = in };

	pthread_once(&hooks_once, set_hooks);
	s = itd_calloc(1, sizeof *s);
	r.blk = itd_malloc(BLOCK);
	if (!s || !r.blk)
		goto out;
	s->names.capped = s->rules.capped = s->reasons.capped = s->sinks.capped = true;
	for (;;) {
		rc = read_line(&r);
		if (rc <= 0)
			break;
		s->lines++;
		if (r.too_long) {
			note_bad(s, "line too long");
			continue;
		}
		size_t i = 0;
		while (i < r.line_len && (r.line[i] == ' ' || r.line[i] == '\t' || r.line[i] == '\r'))
			i++;
		if (i == r.line_len)
			continue; /* blank lines separate nothing and mean nothing */
		cJSON *root = cJSON_ParseWithLength(r.line, r.line_len);
		if (!root) {
			note_bad(s, "invalid JSON");
			continue;
		}
		s->n_json++;
		rc = take_event(s, root);
		cJSON_Delete(root);
		if (rc)
			goto out;
	}
	if (rc < 0)
		goto out;
	if (s->ticks.n) {
		qsort(s->ticks.v, s->ticks.n, sizeof(double), cmp_double);
		qsort(s->ms.v, s->ms.n, sizeof(double), cmp_double);
	}
	rc = as_json ? print_json(out, name ? name : "-", s) : print_human(out, name ? name : "-", s);
	if (rc)
		goto out;
	fflush(out);
	rc = ferror(out) ? ITD_EIO : ITD_OK;
	if (!rc && s->n_json == 0)
		rc = ITD_EPARSE; /* the report still went out: it says why */
out:
	if (s) {
		table_free(&s->names);
		table_free(&s->rules);
		table_free(&s->reasons);
		table_free(&s->sinks);
		table_free(&s->active);
		itd_free(s->ticks.v);
		itd_free(s->ms.v);
	}
	itd_free(s);
	itd_free(r.line);
	itd_free(r.blk);
	return rc;
}
