/* srv_metrics.c: the Prometheus exposition at /metrics (text format 0.0.4):
 * the server's own counters and histograms, and a snapshot of the engine
 * (state fields, mode, intents by status, blocks by rule) taken under the
 * state lock.
 *
 * Who writes what, without locks:
 *   tick thread    ticks' durations, events by name, execution latencies:
 *                  single-writer words, updated with a relaxed load and
 *                  store (no read-modify-write needed with one writer)
 *   HTTP threads   requests by route and status: __atomic_fetch_add
 *   scrapes        read every word with __atomic_load_n; a histogram's
 *                  _count is the sum of the buckets read, so +Inf always
 *                  equals _count even while a tick updates it
 * A scrape may see a histogram's _sum one observation ahead of or behind
 * its buckets; Prometheus tolerates that, and counters never go back. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "srv_int.h"
#include "telemetry/telemetry.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* ---------------------------------------------------------- histograms */

#define HIST_MAX 24

/* Bucket bounds in the unit the observations arrive in, and their `le`
 * labels in the exposed (base) unit, written out so they read exactly. */
struct hist_def {
	const char *name;          /* metric family name */
	const char *help;          /* HELP text */
	double scale;              /* exposed = observed * scale (for _sum) */
	size_t n;                  /* bounds */
	double bound[HIST_MAX];    /* upper bounds, ascending, observed unit */
	const char *le[HIST_MAX];  /* the same bounds, exposed unit */
};

/* Tick duration: observed in ns, exposed in seconds, 1 us .. 1 s. */
static const struct hist_def tick_def = {
	"intentd_tick_duration_seconds",
	"Time the tick thread spent running one tick (engine phases and telemetry).",
	1e-9, 19,
	{1e3, 2.5e3, 5e3, 1e4, 2.5e4, 5e4, 1e5, 2.5e5, 5e5, 1e6, 2.5e6, 5e6, 1e7, 2.5e7,
	 5e7, 1e8, 2.5e8, 5e8, 1e9},
	{"1e-06", "2.5e-06", "5e-06", "1e-05", "2.5e-05", "5e-05", "0.0001", "0.00025",
	 "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	 "1"},
};

/* Receipt to first execution, in ticks. */
static const struct hist_def lat_ticks_def = {
	"intentd_execution_latency_ticks",
	"Ticks from an intent's receipt to its first execution.",
	1, 14,
	{1, 2, 3, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000},
	{"1", "2", "3", "5", "10", "20", "50", "100", "200", "500", "1000", "2000", "5000",
	 "10000"},
};

/* The same in time: observed in ms, exposed in seconds, 1 ms .. 1 h. */
static const struct hist_def lat_secs_def = {
	"intentd_execution_latency_seconds",
	"Time from an intent's receipt to its first execution.",
	1e-3, 19,
	{1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1e3, 2.5e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 1.8e6,
	 3.6e6},
	{"0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5",
	 "5", "10", "30", "60", "300", "600", "1800", "3600"},
};

struct hist {
	const struct hist_def *def;     /* bounds and names */
	uint64_t count[HIST_MAX + 1];   /* per bucket, not cumulative; [n]: above all */
	double sum;                     /* sum of observations, observed unit */
};

/* ------------------------------------------------------------ counters */

/* Status codes are counted in slots 100..599; anything else in the last. */
#define CODE_MIN 100
#define CODE_SLOTS 501

struct srv_metrics {
	struct hist tick;               /* tick durations (tick thread) */
	struct hist lat_ticks;          /* execution latency in ticks (tick thread) */
	struct hist lat_secs;           /* execution latency in ms (tick thread) */
	uint64_t events[ITD_EV_COUNT];  /* engine events by kind (tick thread) */
	uint64_t *requests;             /* (srv_n_routes + 1) * CODE_SLOTS; the
					   last row is "no route" (HTTP threads) */
	double start_time;              /* Unix seconds at creation */
};

/* One writer: a plain load and store, atomic so readers see whole words. */
static inline void bump(uint64_t *p, uint64_t d)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + d, __ATOMIC_RELAXED);
}

static inline uint64_t rd(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static void hist_observe(struct hist *h, double v)
{
	size_t i = 0;
	while (i < h->def->n && v > h->def->bound[i])
		i++;
	bump(&h->count[i], 1);
	double s;
	__atomic_load(&h->sum, &s, __ATOMIC_RELAXED);
	s += v;
	__atomic_store(&h->sum, &s, __ATOMIC_RELAXED);
}

int srv_metrics_create(struct srv_metrics **out)
{
	struct srv_metrics *m = itd_calloc(1, sizeof *m);
	if (!m)
		goto fail;
	m->requests = itd_calloc((srv_n_routes + 1) * CODE_SLOTS, sizeof *m->requests);
	if (!m->requests)
		goto fail;
	m->tick.def = &tick_def;
	m->lat_ticks.def = &lat_ticks_def;
	m->lat_secs.def = &lat_secs_def;
	m->start_time = (double)itd_clock_wall_ms() / 1e3;
	*out = m;
	return ITD_OK;
fail:
	itd_free(m);
	*out = NULL;
	return ITD_ENOMEM;
}

void srv_metrics_destroy(struct srv_metrics *m)
{
	if (!m)
		return;
	itd_free(m->requests);
	itd_free(m);
}

void srv_metrics_event(struct srv_metrics *m, const struct itd_event *ev)
{
	if (!m || (unsigned)ev->kind >= ITD_EV_COUNT)
		return;
	bump(&m->events[ev->kind], 1);
	if (ev->kind == ITD_EV_EXECUTION_LATENCY) {
		hist_observe(&m->lat_ticks, (double)ev->n);
		hist_observe(&m->lat_secs, ev->ms);
	}
}

void srv_metrics_tick(struct srv_metrics *m, uint64_t ns)
{
	if (m)
		hist_observe(&m->tick, (double)ns);
}

void srv_metrics_request(struct srv_metrics *m, const struct srv_route *route, unsigned status)
{
	if (!m)
		return;
	size_t row = srv_n_routes;
	if (route && route >= srv_routes && route < srv_routes + srv_n_routes)
		row = (size_t)(route - srv_routes);
	size_t col = status >= CODE_MIN && status < CODE_MIN + CODE_SLOTS - 1
			     ? status - CODE_MIN
			     : CODE_SLOTS - 1;
	__atomic_fetch_add(&m->requests[row * CODE_SLOTS + col], 1, __ATOMIC_RELAXED);
}

/* ------------------------------------------------------ text rendering */

/* A growing output buffer; after a failed allocation it keeps nothing
 * more and remembers that (checked once at the end). */
struct mbuf {
	char *p;        /* text (itd_malloc) */
	size_t len;     /* bytes used */
	size_t cap;     /* bytes allocated */
	bool oom;       /* an allocation failed */
};

static bool mb_reserve(struct mbuf *b, size_t more)
{
	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 16384;
	while (cap < b->len + more + 1)
		cap *= 2;
	char *p = itd_realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void mb_put(struct mbuf *b, const char *s, size_t n)
{
	if (!mb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void mb_str(struct mbuf *b, const char *s)
{
	mb_put(b, s, strlen(s));
}

static void mb_printf(struct mbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mb_printf(struct mbuf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof tmp) {
		mb_put(b, tmp, (size_t)n);
		return;
	}
	if (!mb_reserve(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* A label value, escaped as the format asks: backslash, double quote and
 * line feed become \\, \" and \n.  NULL is written as "". */
static void mb_label(struct mbuf *b, const char *v)
{
	if (!v)
		return;
	const char *run = v;
	for (const char *s = v; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" : *s == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		mb_put(b, run, (size_t)(s - run));
		mb_put(b, esc, 2);
		run = s + 1;
	}
	mb_str(b, run);
}

/* A sample value: integers exactly, other numbers in the shortest form
 * that reads back the same, and the format's spellings of the rest. */
static void mb_num(struct mbuf *b, double v)
{
	if (v != v) {
		mb_str(b, "NaN");
		return;
	}
	if (v > 1.7976931348623157e308 || v < -1.7976931348623157e308) {
		mb_str(b, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	char tmp[40];
	if (v > -9.2e18 && v < 9.2e18 && v == (double)(int64_t)v) {
		snprintf(tmp, sizeof tmp, "%lld", (long long)v);
	} else {
		snprintf(tmp, sizeof tmp, "%.15g", v);
		if (strtod(tmp, NULL) != v)
			snprintf(tmp, sizeof tmp, "%.17g", v);
	}
	mb_str(b, tmp);
}

static void mb_u64(struct mbuf *b, uint64_t v)
{
	mb_printf(b, "%llu", (unsigned long long)v);
}

/* The HELP and TYPE lines of a family (help is our own text: no escapes). */
static void family(struct mbuf *b, const char *name, const char *type, const char *help)
{
	mb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{label="value"} v */
static void sample1(struct mbuf *b, const char *name, const char *label, const char *value,
		    double v)
{
	mb_str(b, name);
	if (label) {
		mb_printf(b, "{%s=\"", label);
		mb_label(b, value);
		mb_str(b, "\"}");
	}
	mb_put(b, " ", 1);
	mb_num(b, v);
	mb_put(b, "\n", 1);
}

static void counter(struct mbuf *b, const char *name, const char *help, uint64_t v)
{
	family(b, name, "counter", help);
	mb_printf(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge(struct mbuf *b, const char *name, const char *help, double v)
{
	family(b, name, "gauge", help);
	sample1(b, name, NULL, NULL, v);
}

static void hist_render(struct mbuf *b, const struct hist *h)
{
	const struct hist_def *d = h->def;
	family(b, d->name, "histogram", d->help);
	uint64_t cum = 0;
	for (size_t i = 0; i <= d->n; i++) {
		cum += rd(&h->count[i]);
		mb_printf(b, "%s_bucket{le=\"%s\"} ", d->name, i < d->n ? d->le[i] : "+Inf");
		mb_u64(b, cum);
		mb_put(b, "\n", 1);
	}
	double sum;
	__atomic_load(&h->sum, &sum, __ATOMIC_RELAXED);
	mb_printf(b, "%s_sum ", d->name);
	mb_num(b, sum * d->scale);
	mb_printf(b, "\n%s_count ", d->name);
	mb_u64(b, cum);
	mb_put(b, "\n", 1);
}

/* ------------------------------------------------------- the snapshot */

/* What a scrape reads from the engine, copied under the state lock so the
 * text is rendered without holding it. */
struct snap {
	struct itd_engine_stats st;          /* engine counters */
	uint64_t by_status[ITD_ST_COUNT];    /* intents per status */
	uint64_t created;                    /* intents ever created */
	struct itd_value *state;             /* n_fields values */
	uint64_t *blocks;                    /* n_safety counts */
	const char *mode;                    /* current mode (scenario's string) */
};

static int snap_take(struct itd_server *srv, const struct itd_scenario *scn, struct snap *sn)
{
	memset(sn, 0, sizeof *sn);
	sn->state = itd_calloc(scn->n_fields + 1, sizeof *sn->state);
	sn->blocks = itd_calloc(scn->n_safety + 1, sizeof *sn->blocks);
	if (!sn->state || !sn->blocks) {
		itd_free(sn->state);
		itd_free(sn->blocks);
		return ITD_ENOMEM;
	}
	pthread_rwlock_rdlock(&srv->state_lock);
	const struct itd_engine *e = srv->engine;
	itd_engine_stats(e, &sn->st);
	const struct itd_intents *t = itd_engine_intents_c(e);
	memcpy(sn->by_status, t->by_status, sizeof sn->by_status);
	sn->created = t->n;
	memcpy(sn->state, itd_engine_state(e), scn->n_fields * sizeof *sn->state);
	for (size_t i = 0; i < scn->n_safety; i++)
		sn->blocks[i] = itd_engine_blocks_by_rule(e, i);
	sn->mode = itd_engine_mode(e);
	pthread_rwlock_unlock(&srv->state_lock);
	return ITD_OK;
}

static void snap_free(struct snap *sn)
{
	itd_free(sn->state);
	itd_free(sn->blocks);
}

/* --------------------------------------------------------- the families */

static void render_engine(struct mbuf *b, const struct itd_scenario *scn, const struct snap *sn)
{
	counter(b, "intentd_ticks_total", "Ticks run.", sn->st.ticks);
	counter(b, "intentd_tick_slips_total",
		"Paced ticks that started more than one period late.", sn->st.slips);
	counter(b, "intentd_engine_faults_total",
		"Expression evaluations whose result was not finite.", sn->st.faults);
	counter(b, "intentd_executions_total", "Intent effects applied.", sn->st.executions);

	family(b, "intentd_intake_refused_total", "counter",
	       "Inputs refused at intake: full (queue or table full) or rejected (invalid, "
	       "cancel of an unknown or finished intent).");
	sample1(b, "intentd_intake_refused_total", "reason", "full", (double)sn->st.intake_full);
	sample1(b, "intentd_intake_refused_total", "reason", "rejected", (double)sn->st.rejected);

	counter(b, "intentd_intents_created_total", "Intents created.", sn->created);
	family(b, "intentd_intents", "gauge", "Intents held now, by lifecycle status.");
	for (int k = 0; k < ITD_ST_COUNT; k++)
		sample1(b, "intentd_intents", "status", itd_status_name((enum itd_status)k),
			(double)sn->by_status[k]);

	family(b, "intentd_blocked_ticks_total", "counter",
	       "Ticks an intent was picked and blocked, by safety rule.");
	for (size_t i = 0; i < scn->n_safety; i++)
		sample1(b, "intentd_blocked_ticks_total", "rule", scn->safety[i].id,
			(double)sn->blocks[i]);

	family(b, "intentd_state", "gauge",
	       "Current value of each numeric state field (bool fields as 0 or 1).");
	for (size_t i = 0; i < scn->n_fields; i++) {
		const struct itd_value *v = &sn->state[i];
		if (v->type == ITD_T_NUM)
			sample1(b, "intentd_state", "field", scn->fields[i].name, v->num);
		else if (v->type == ITD_T_BOOL)
			sample1(b, "intentd_state", "field", scn->fields[i].name, v->b ? 1 : 0);
	}
	family(b, "intentd_mode", "gauge", "1 for the current mode, 0 for the others.");
	for (size_t i = 0; i < scn->n_modes; i++)
		sample1(b, "intentd_mode", "mode", scn->modes[i],
			sn->mode && !strcmp(sn->mode, scn->modes[i]) ? 1 : 0);
}

static void render_events(struct mbuf *b, struct srv_metrics *m)
{
	family(b, "intentd_events_total", "counter", "Engine events reported, by event name.");
	for (int k = 0; k < ITD_EV_COUNT; k++)
		sample1(b, "intentd_events_total", "event", itd_event_name((enum itd_event_kind)k),
			(double)rd(&m->events[k]));
	hist_render(b, &m->tick);
	hist_render(b, &m->lat_ticks);
	hist_render(b, &m->lat_secs);
}

static void render_telemetry(struct mbuf *b, const struct itd_tel *tel)
{
	size_t n = tel ? itd_tel_n_sinks(tel) : 0;
	struct itd_tel_sink_stats ss[8];
	if (n > 8)
		n = 8;
	for (size_t i = 0; i < n; i++)
		itd_tel_sink_stats(tel, i, &ss[i]);
	counter(b, "intentd_telemetry_events_total", "Telemetry events emitted.",
		tel ? itd_tel_events(tel) : 0);
	static const struct {
		const char *name, *help;
		size_t off;
	} per_sink[] = {
		{"intentd_telemetry_dropped_events_total",
		 "Telemetry events dropped for a sink that fell behind, by sink.",
		 offsetof(struct itd_tel_sink_stats, dropped)},
		{"intentd_telemetry_write_errors_total", "Failed telemetry writes, by sink.",
		 offsetof(struct itd_tel_sink_stats, write_errors)},
		{"intentd_telemetry_written_bytes_total", "Telemetry bytes written, by sink.",
		 offsetof(struct itd_tel_sink_stats, bytes)},
	};
	for (size_t f = 0; f < sizeof per_sink / sizeof per_sink[0]; f++) {
		family(b, per_sink[f].name, "counter", per_sink[f].help);
		for (size_t i = 0; i < n; i++) {
			uint64_t v;
			memcpy(&v, (const char *)&ss[i] + per_sink[f].off, sizeof v);
			sample1(b, per_sink[f].name, "sink", ss[i].name, (double)v);
		}
	}
}

static void render_http(struct mbuf *b, struct srv_metrics *m)
{
	family(b, "intentd_http_requests_total", "counter",
	       "HTTP requests answered, by route and status code (route \"none\": no route "
	       "matched).");
	for (size_t row = 0; row <= srv_n_routes; row++) {
		const char *route = row < srv_n_routes ? srv_routes[row].name : "none";
		for (size_t col = 0; col < CODE_SLOTS; col++) {
			uint64_t v = rd(&m->requests[row * CODE_SLOTS + col]);
			if (!v)
				continue;
			mb_str(b, "intentd_http_requests_total{route=\"");
			mb_label(b, route);
			if (col < CODE_SLOTS - 1)
				mb_printf(b, "\",code=\"%zu\"} ", col + CODE_MIN);
			else
				mb_str(b, "\",code=\"other\"} ");
			mb_u64(b, v);
			mb_put(b, "\n", 1);
		}
	}
}

/* Answers waiting for their input to be durable (srv_durable.c; all 0
 * without --data). */
static void render_durable(struct mbuf *b, struct srv_durable *d)
{
	struct srv_durable_stats ds;
	srv_durable_stats(d, &ds);
	gauge(b, "intentd_durable_waiting",
	      "Answers (202) waiting now for their input to be durable, without a thread.",
	      (double)ds.waiting);
	gauge(b, "intentd_durable_waiting_max",
	      "Most answers waiting for durability at once since start.", (double)ds.waiting_max);
	family(b, "intentd_durable_waits_total", "counter",
	       "Answers that waited for durability, by outcome: durable (sent), failed (store "
	       "error, 503), timeout (not durable in time or by shutdown, 503), inline (waited "
	       "on an HTTP thread during shutdown).");
	sample1(b, "intentd_durable_waits_total", "outcome", "durable", (double)ds.durable);
	sample1(b, "intentd_durable_waits_total", "outcome", "failed", (double)ds.failed);
	sample1(b, "intentd_durable_waits_total", "outcome", "timeout", (double)ds.timed_out);
	sample1(b, "intentd_durable_waits_total", "outcome", "inline", (double)ds.inline_waits);
}

/* The durable store (only with --data). */
static void render_store(struct mbuf *b, struct itd_store *st)
{
	if (!st)
		return;
	struct itd_store_stats s;
	itd_store_stats(st, &s);
	counter(b, "intentd_store_commits_total",
		"Store transactions committed (each is one fsync shared by its records).",
		s.commits);
	counter(b, "intentd_store_records_total",
		"Records committed to the store: inputs, ticks and snapshots.", s.records);
	counter(b, "intentd_store_bytes_total", "Bytes of records committed to the store.",
		s.bytes);
	gauge(b, "intentd_store_max_batch", "Most records committed in one transaction.",
	      (double)s.max_batch);
	counter(b, "intentd_store_failures_total",
		"Store commits or checkpoints that failed (input is refused until the store "
		"is repaired).",
		s.failures);
	counter(b, "intentd_store_refused_total",
		"Records refused because the store's queue was full (answered 429).", s.refused);
	gauge(b, "intentd_store_durable_tick", "The last tick known durable.",
	      (double)s.durable_tick);
	family(b, "intentd_store_snapshots_total", "counter",
	       "Snapshots by outcome: taken, skipped (the previous ones still being written), "
	       "pruned (older than the newest --keep-snapshots, deleted; the journal they are "
	       "rebuilt from is kept).");
	sample1(b, "intentd_store_snapshots_total", "outcome", "taken", (double)s.snapshots_taken);
	sample1(b, "intentd_store_snapshots_total", "outcome", "skipped",
		(double)s.snapshots_skipped);
	sample1(b, "intentd_store_snapshots_total", "outcome", "pruned",
		(double)s.snapshots_pruned);
	gauge(b, "intentd_store_snapshots_off",
	      "1 if snapshots are configured but could not be set up (no memory).",
	      s.snapshots_off ? 1 : 0);
	counter(b, "intentd_store_audit_notes_lost_total",
		"Audit notes that did not fit their tick's buffer (each such tick records an "
		"audit.overflow entry).",
		s.notes_lost);
}

/* The process's own standard metrics (CPU, resident memory, start). */
static void render_process(struct mbuf *b, const struct srv_metrics *m)
{
	struct rusage ru;
	double cpu = 0;
	if (getrusage(RUSAGE_SELF, &ru) == 0)
		cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_stime.tv_sec +
		      ((double)ru.ru_utime.tv_usec + (double)ru.ru_stime.tv_usec) / 1e6;
	family(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds.");
	sample1(b, "process_cpu_seconds_total", NULL, NULL, cpu);
	unsigned long long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f) {
		if (fscanf(f, "%llu %llu", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	long psz = sysconf(_SC_PAGESIZE);
	gauge(b, "process_resident_memory_bytes", "Resident memory size in bytes.",
	      (double)resident * (double)(psz > 0 ? psz : 4096));
	gauge(b, "process_start_time_seconds",
	      "Start time of the process since unix epoch in seconds.", m->start_time);
}

int srv_h_metrics(struct srv_req *r, struct srv_resp *out)
{
	struct itd_server *srv = r->srv;
	struct srv_metrics *m = srv->metrics;
	const struct itd_scenario *scn = itd_engine_scenario(srv->engine);
	struct snap sn;
	struct mbuf b = {0};

	if (!m || snap_take(srv, scn, &sn))
		return srv_error(out, 500, "internal", NULL, "out of memory");

	family(&b, "intentd_build_info", "gauge",
	       "Version of this intentd and the scenario it runs (always 1).");
	mb_str(&b, "intentd_build_info{version=\"");
	mb_label(&b, ITD_VERSION);
	mb_str(&b, "\",scenario=\"");
	mb_label(&b, scn->name);
	mb_str(&b, "\"} 1\n");
	gauge(&b, "intentd_paused", "1 while the tick loop is paused by the console.",
	      srv_loop_paused(srv) ? 1 : 0);

	render_engine(&b, scn, &sn);
	snap_free(&sn);
	render_events(&b, m);
	render_telemetry(&b, srv->tel);

	struct srv_stream_stats ss = {0};
	if (srv->stream)
		srv_stream_stats(srv->stream, &ss);
	gauge(&b, "intentd_stream_clients", "Live stream clients connected now.",
	      (double)ss.clients);
	counter(&b, "intentd_stream_clients_total", "Live stream clients ever connected.",
		ss.clients_total);
	counter(&b, "intentd_stream_cut_off_total",
		"Live stream clients disconnected for falling behind.", ss.cut_off);
	counter(&b, "intentd_stream_gaps_total", "Gap markers sent to live stream clients.",
		ss.gaps);

	render_durable(&b, srv->durable);
	render_store(&b, srv->store);
	render_http(&b, m);
	render_process(&b, m);

	if (b.oom || !b.p) {
		itd_free(b.p);
		return srv_error(out, 500, "internal", NULL, "out of memory");
	}
	out->status = 200;
	out->body = b.p;
	out->len = b.len;
	out->content_type = CONTENT_TYPE;
	return ITD_OK;
}
