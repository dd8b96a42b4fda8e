/* engine_snapshot.c: the engine's whole state between ticks as bytes and
 * back (docs/design/store.md, "Snapshots"), and reset to the state
 * itd_engine_create produced.
 *
 * Layout (u8/u16/u32/u64 little-endian, f64 as its bits, str = a length
 * byte and that many bytes without a NUL):
 *   "itdsnap\0", u32 version, u32 0, u64 fingerprint of the scenario
 *   then five sections, each u32 tag, u64 length, that many bytes:
 *   ENGN  u64 tick, state_hash, last_selected, last_candidates,
 *         last_arrival, the 8 stats, lock seq and until_tick (ENGINE_U64S),
 *         i64 now_ms, u8 initial_applied, the `retry` RNG (32 bytes), u64
 *         executed seq (0: none), u8 n interned reasons and each as a str,
 *         u32 n_safety and each rule's blocked ticks
 *   GLOB  u32 n_global, then the global frame and the frame before the
 *         last tick, each value as itd_snap_put_value writes it (a string
 *         as a scenario string's index: they are compared by content)
 *   GATE  the last tick's decision: u64 selected seq, f64 score, u64 pick
 *         seq, u64 critical, u32 override (as int32), u8 created, u8
 *         lock_applied, u8 verdict, u32 rule (index + 1), str explain, u32
 *         n_faults, n_scored, u64 candidates
 *   INTS  the intent table (intent_snapshot.c); history reasons are
 *         indices into: the source names, the engine's reasons
 *         (engine_reasons), the safety rule ids, the interned reasons
 *   INTK  u64 arrivals, refused-full count, apply_tick, u32 n, and each
 *         queued input as u16 length and its journal encoding
 *         (engine_codec.c), which decodes with every index checked
 * Left out, as not state: the clock (configuration; real mode re-bases it
 * at every run), the observer, plant, journal hooks and state lock (the
 * embedder's), the paused flag (an operator's hold of this process: a
 * restarted server starts running, and a pause after the snapshot comes
 * back with the journal), the fault source, slip and tick start time
 * (they live within one tick), the scratch frames, and a replay's forced
 * seqs (given again before each replayed tick). */
#include <string.h>

#include "engine_int.h"

#define SNAP_MAGIC "itdsnap"
#define SNAP_VERSION 1
#define SNAP_HEADER (8 + 4 + 4 + 8)
#define SECTION_HEADER (4 + 8)

enum {
	TAG_ENGINE = 0x4e474e45, /* "ENGN" */
	TAG_GLOBAL = 0x424f4c47, /* "GLOB" */
	TAG_GATE = 0x45544147,   /* "GATE" */
	TAG_INTENTS = 0x53544e49, /* "INTS" */
	TAG_INTAKE = 0x4b544e49, /* "INTK" */
};

/* ------------------------------------------------------------- bytes */

#define put(w, src, n) itd_snap_put((w), (src), (n))
#define put_u8(w, v) itd_snap_put_uint((w), (v), 1)
#define put_u16(w, v) itd_snap_put_uint((w), (v), 2)
#define put_u32(w, v) itd_snap_put_uint((w), (v), 4)
#define put_u64(w, v) itd_snap_put_uint((w), (v), 8)
#define put_f64(w, d) itd_snap_put_f64((w), (d))
#define put_str(w, s, max) itd_snap_put_str((w), (s), (max))
#define get(r, dst, n) itd_snap_get((r), (dst), (n))
#define get_u8(r) ((uint8_t)itd_snap_get_uint((r), 1))
#define get_u16(r) ((uint16_t)itd_snap_get_uint((r), 2))
#define get_u32(r) ((uint32_t)itd_snap_get_uint((r), 4))
#define get_u64(r) itd_snap_get_uint((r), 8)
#define get_f64(r) itd_snap_get_f64(r)
#define get_str(r, dst, cap) itd_snap_get_str((r), (dst), (cap))

/* Start a section: its tag and a length patched by section_end(). */
static uint8_t *section_begin(struct itd_snap_wr *w, uint32_t tag)
{
	put_u32(w, tag);
	uint8_t *at = w->p;
	put_u64(w, 0);
	return at;
}

static void section_end(struct itd_snap_wr *w, uint8_t *at)
{
	if (w->over)
		return;
	uint64_t n = (uint64_t)(w->p - at) - 8;
	for (int i = 0; i < 8; i++)
		at[i] = (uint8_t)(n >> (8 * i));
}

/* The next section, which must carry `tag`, as a reader of its own. */
static struct itd_snap_rd section(struct itd_snap_rd *r, uint32_t tag)
{
	struct itd_snap_rd s = {.bad = true};
	uint32_t t = get_u32(r);
	uint64_t n = get_u64(r);
	if (r->bad || t != tag || n > (uint64_t)(r->end - r->p)) {
		r->bad = true;
		return s;
	}
	s = (struct itd_snap_rd){.p = r->p, .end = r->p + n};
	r->p += n;
	return s;
}

/* A section read to its last byte and no further. */
static bool section_done(const struct itd_snap_rd *s)
{
	return !s->bad && s->p == s->end;
}

/* ------------------------------------------------------------ reasons */

/* History reasons other than source names and rule ids: the words the
 * tick and the gate pass to itd_intent_transition. */
static const char *const engine_reasons[] = {
	"accepted", "override", "lock",          "selected", "cancelled", "retry", "goal_met",
	"fail_when", "plant_effect", "complete_when", "executed", "effect",   "deadline",
};
#define N_ENGINE_REASONS (sizeof engine_reasons / sizeof engine_reasons[0])
#define N_INTERNED (sizeof ((struct itd_engine *)0)->reasons / \
		    sizeof ((struct itd_engine *)0)->reasons[0])

struct reasons {
	const struct itd_scenario *scn;
	char (*interned)[32];  /* the engine's table (history points into it) */
	size_t n_interned;     /* entries in use (as saved, or as being loaded) */
};

static const char *reason_at(void *ctx, uint32_t i)
{
	const struct reasons *rs = ctx;
	if (i < ITD_SRC_COUNT)
		return itd_source_name((enum itd_source)i);
	i -= ITD_SRC_COUNT;
	if (i < N_ENGINE_REASONS)
		return engine_reasons[i];
	i -= (uint32_t)N_ENGINE_REASONS;
	if (i < rs->scn->n_safety)
		return rs->scn->safety[i].id;
	i -= (uint32_t)rs->scn->n_safety;
	return i < rs->n_interned ? rs->interned[i] : NULL;
}

static bool reason_find(void *ctx, const char *r, uint32_t *idx_out)
{
	const struct reasons *rs = ctx;
	uint32_t n = (uint32_t)(ITD_SRC_COUNT + N_ENGINE_REASONS + rs->scn->n_safety +
				rs->n_interned);
	/* The very string first (interned reasons and rule ids are exact),
	 * then any with its text. */
	for (int by_text = 0; by_text < 2; by_text++)
		for (uint32_t i = 0; i < n; i++)
			if (by_text ? !strcmp(reason_at(ctx, i), r) : reason_at(ctx, i) == r) {
				*idx_out = i;
				return true;
			}
	return false;
}

/* Global slot i holds exactly the type it was declared with. */
static enum itd_type global_type(const struct itd_scenario *s, uint32_t i)
{
	return i == s->slots.mode ? ITD_T_STR : i == s->slots.tick ? ITD_T_NUM : s->fields[i].type;
}

/* ---------------------------------------------------------------- save */

size_t itd_engine_snapshot_bound(const struct itd_engine *e)
{
	const struct itd_scenario *s = e->scn;
	size_t engine = 15 * 8 + 8 + 1 + ITD_RNG_STATE_LEN + 8 + 1 + N_INTERNED * 32 + 4 +
			8 * s->n_safety;
	size_t global = 4 + 2 * (size_t)s->slots.n_global * 9;
	size_t gate = 8 * 4 + 4 + 3 + 4 + 1 + ITD_EXPLAIN_LEN + 4 + 4 + 8;
	size_t intake = 8 * 3 + 4 +
			((size_t)s->intake_capacity + ITD_INTAKE_CONTROL) * (2 + ITD_INPUT_ENC_MAX);
	return SNAP_HEADER + 5 * SECTION_HEADER + engine + global + gate +
	       itd_intents_snap_bound(&e->intents) + intake;
}

/* The engine's counters and scalars, in layout order (the same names in
 * struct itd_engine and struct loaded). */
#define ENGINE_U64S(X)                                                                   \
	X(tick) X(state_hash) X(last_selected) X(last_candidates) X(last_arrival)        \
	X(stats.ticks) X(stats.slips) X(stats.faults) X(stats.executions) X(stats.blocks) \
	X(stats.rejected) X(stats.intake_full) X(stats.events_suppressed) X(lock.seq)     \
	X(lock.until_tick)

static void save_engine(struct itd_engine *e, struct itd_snap_wr *w, const struct reasons *rs)
{
	uint8_t rng[ITD_RNG_STATE_LEN];
#define PUT(m) put_u64(w, e->m);
	ENGINE_U64S(PUT)
#undef PUT
	put_u64(w, (uint64_t)e->now_ms);
	put_u8(w, e->initial_applied);
	itd_rng_save(&e->rng_retry, rng);
	put(w, rng, sizeof rng);
	put_u64(w, e->executed ? e->executed->seq : 0);
	put_u8(w, rs->n_interned);
	for (size_t i = 0; i < rs->n_interned; i++)
		put_str(w, e->reasons[i], sizeof e->reasons[i] - 1);
	put_u32(w, e->scn->n_safety);
	for (size_t i = 0; i < e->scn->n_safety; i++)
		put_u64(w, e->blocks_by_rule[i]);
}

static int save_global(struct itd_engine *e, struct itd_snap_wr *w)
{
	uint32_t ng = e->scn->slots.n_global;
	put_u32(w, ng);
	for (uint32_t i = 0; i < 2 * ng; i++) {
		const struct itd_value *v = i < ng ? &e->global[i] : &e->before[i - ng];
		int rc = itd_snap_put_value(w, e->scn, NULL, v);
		if (rc)
			return rc;
	}
	return ITD_OK;
}

static void save_gate(struct itd_engine *e, struct itd_snap_wr *w)
{
	const struct itd_gate *g = &e->gate;
	put_u64(w, g->selected ? g->selected->seq : 0);
	put_f64(w, g->selected_score);
	put_u64(w, g->pick ? g->pick->seq : 0);
	put_u64(w, g->critical);
	put_u32(w, (uint32_t)g->override_critical);
	put_u8(w, g->override_created);
	put_u8(w, g->lock_applied);
	put_u8(w, (uint64_t)g->verdict);
	put_u32(w, g->rule ? (uint64_t)(g->rule - e->scn->safety) + 1 : 0);
	put_str(w, g->explain, sizeof g->explain - 1);
	put_u32(w, g->n_faults);
	put_u32(w, g->n_scored);
	put_u64(w, g->candidates);
}

/* The queue as it is (intake lock held). */
static void save_intake(struct itd_engine *e, struct itd_snap_wr *w)
{
	const struct itd_intake *q = &e->intake;
	uint32_t ring = q->ring;
	put_u64(w, q->arrivals);
	put_u64(w, q->full);
	put_u64(w, q->apply_tick);
	put_u32(w, q->n);
	for (uint32_t i = 0; i < q->n; i++) {
		uint8_t enc[ITD_INPUT_ENC_MAX];
		size_t n = itd_input_encode(&q->slots[(q->head + i) % ring], enc);
		put_u16(w, n);
		put(w, enc, n);
	}
}

/* Every part in layout order (both locks held). */
static int save_all(struct itd_engine *e, struct itd_snap_wr *w, struct reasons *rs)
{
	struct itd_snap_reasons srs = {.find = reason_find, .at = reason_at, .ctx = rs};
	int rc;
	put(w, SNAP_MAGIC, 8);
	put_u32(w, SNAP_VERSION);
	put_u32(w, 0);
	put_u64(w, itd_scenario_fingerprint(e->scn, SNAP_VERSION));
	uint8_t *at = section_begin(w, TAG_ENGINE);
	save_engine(e, w, rs);
	section_end(w, at);
	at = section_begin(w, TAG_GLOBAL);
	if ((rc = save_global(e, w)))
		return rc;
	section_end(w, at);
	at = section_begin(w, TAG_GATE);
	save_gate(e, w);
	section_end(w, at);
	at = section_begin(w, TAG_INTENTS);
	if (!w->over) {
		size_t n;
		rc = itd_intents_snap_save(&e->intents, &srs, w->p, (size_t)(w->end - w->p), &n);
		if (rc && rc != ITD_ELIMIT)
			return rc;
		if (rc)
			w->over = true;
		else
			w->p += n;
	}
	section_end(w, at);
	at = section_begin(w, TAG_INTAKE);
	save_intake(e, w);
	section_end(w, at);
	return w->over ? ITD_ELIMIT : ITD_OK;
}

int itd_engine_save(struct itd_engine *e, void *buf, size_t cap, size_t *len_out,
		    uint64_t *arrivals_out)
{
	struct itd_snap_wr w = {.p = buf, .end = (uint8_t *)buf + cap};
	struct reasons rs = {.scn = e->scn, .interned = e->reasons, .n_interned = e->n_reasons};
	*len_out = 0;
	if (arrivals_out)
		*arrivals_out = 0;
	/* Lock order as a submitter's: the intake, then the table. */
	pthread_mutex_lock(&e->intake.lock);
	pthread_mutex_lock(&e->intents.lock);
	uint64_t arrivals = e->intake.arrivals;
	int rc = save_all(e, &w, &rs);
	pthread_mutex_unlock(&e->intents.lock);
	pthread_mutex_unlock(&e->intake.lock);
	if (rc)
		return rc;
	*len_out = (size_t)(w.p - (uint8_t *)buf);
	if (arrivals_out)
		*arrivals_out = arrivals;
	return ITD_OK;
}

/* ---------------------------------------------------------------- load */

/* A snapshot decoded and checked, before any of it is applied. */
struct loaded {
	uint64_t tick, state_hash, last_selected, last_candidates, last_arrival;
	int64_t now_ms;
	bool initial_applied;
	struct itd_engine_stats stats;
	struct itd_rng rng;
	struct itd_lock lock;
	uint64_t executed_seq;            /* resolved into executed */
	struct itd_intent *executed;
	char reasons[N_INTERNED][32];     /* interned cancel reasons */
	size_t n_reasons;
	uint64_t *blocks;                 /* per safety rule (allocated) */
	struct itd_value *global;         /* global, then before (allocated) */
	struct itd_gate gate;             /* intents resolved into `t` */
	uint64_t selected_seq, pick_seq;
	struct itd_intents t;             /* the table, decoded privately */
	bool t_ready;
	uint64_t arrivals, full, apply_tick;
	uint32_t n_in;                    /* queued inputs, decoded into e->draining */
};

static bool load_engine(struct itd_snap_rd *r, const struct itd_engine *e, struct loaded *L)
{
	uint8_t rng[ITD_RNG_STATE_LEN];
#define GET(m) L->m = get_u64(r);
	ENGINE_U64S(GET)
#undef GET
	L->now_ms = (int64_t)get_u64(r);
	uint8_t applied = get_u8(r);
	L->initial_applied = applied;
	get(r, rng, sizeof rng);
	L->executed_seq = get_u64(r);
	L->n_reasons = get_u8(r);
	if (r->bad || applied > 1 || itd_rng_restore(&L->rng, rng) || L->n_reasons > N_INTERNED ||
	    L->now_ms < -ITD_SNAP_MS_LIMIT || L->now_ms > ITD_SNAP_MS_LIMIT)
		return false;
	for (size_t i = 0; i < L->n_reasons; i++)
		get_str(r, L->reasons[i], sizeof L->reasons[i]);
	if (get_u32(r) != e->scn->n_safety)
		return false;
	for (size_t i = 0; i < e->scn->n_safety; i++)
		L->blocks[i] = get_u64(r);
	return section_done(r);
}

static bool load_global(struct itd_snap_rd *r, const struct itd_engine *e, struct loaded *L)
{
	uint32_t ng = e->scn->slots.n_global;
	if (get_u32(r) != ng)
		return false;
	for (uint32_t i = 0; i < 2 * ng && !r->bad; i++)
		itd_snap_get_value(r, e->scn, NULL, global_type(e->scn, i % ng), false,
				   &L->global[i]);
	return section_done(r);
}

static bool load_gate(struct itd_snap_rd *r, const struct itd_engine *e, struct loaded *L)
{
	const struct itd_scenario *s = e->scn;
	struct itd_gate *g = &L->gate;
	L->selected_seq = get_u64(r);
	g->selected_score = get_f64(r);
	L->pick_seq = get_u64(r);
	g->critical = get_u64(r);
	g->override_critical = (int32_t)get_u32(r);
	uint8_t created = get_u8(r), locked = get_u8(r), verdict = get_u8(r);
	uint32_t rule = get_u32(r);
	get_str(r, g->explain, sizeof g->explain);
	g->n_faults = get_u32(r);
	g->n_scored = get_u32(r);
	g->candidates = get_u64(r);
	/* A fresh engine's gate says override 0 even with no critical entry. */
	size_t n_crit = s->n_critical ? s->n_critical : 1;
	uint64_t crit_mask = s->n_critical >= 64 ? UINT64_MAX : (UINT64_C(1) << s->n_critical) - 1;
	if (r->bad || created > 1 || locked > 1 || verdict > ITD_VERDICT_DENIED ||
	    rule > s->n_safety || g->override_critical < -1 ||
	    (int64_t)g->override_critical >= (int64_t)n_crit || (g->critical & ~crit_mask) ||
	    (verdict == ITD_VERDICT_BLOCKED) != (rule != 0))
		return false;
	g->override_created = created;
	g->lock_applied = locked;
	g->verdict = (enum itd_verdict)verdict;
	g->rule = rule ? &s->safety[rule - 1] : NULL;
	return section_done(r);
}

/* The queued inputs, decoded into e->draining (scratch between ticks) and
 * checked against the decoded table: arrivals ascending and accepted,
 * ordinary inputs within the configured capacity, every submission's seq
 * reserved (not created, handed out, not queued twice). */
static bool load_intake(struct itd_snap_rd *r, struct itd_engine *e, struct loaded *L)
{
	const struct itd_intake *q = &e->intake;
	L->arrivals = get_u64(r);
	L->full = get_u64(r);
	L->apply_tick = get_u64(r);
	L->n_in = get_u32(r);
	if (r->bad || L->n_in > q->cap + ITD_INTAKE_CONTROL)
		return false;
	uint64_t prev_arrival = 0, n_submit = 0, last = 0;
	bool ascending = true; /* submissions' seqs so far: then distinct at a glance */
	for (uint32_t i = 0; i < L->n_in; i++) {
		struct itd_input *in = &e->draining[i];
		uint16_t n = get_u16(r);
		if (r->bad || n > (size_t)(r->end - r->p) || itd_input_decode(e, r->p, n, in))
			return false;
		r->p += n;
		if (in->arrival <= prev_arrival || in->arrival > L->arrivals ||
		    in->received_ms < -ITD_SNAP_MS_LIMIT || in->received_ms > ITD_SNAP_MS_LIMIT ||
		    in->apply_tick > L->apply_tick || (in->kind != ITD_IN_CONSOLE && i >= q->cap))
			return false;
		prev_arrival = in->arrival;
		if (in->kind != ITD_IN_SUBMIT)
			continue;
		if (in->seq > L->t.next_seq || itd_intents_at(&L->t, in->seq))
			return false;
		if (n_submit++ && in->seq <= last)
			ascending = false; /* unusual: check the rest the slow way */
		for (uint32_t j = 0; j < i && !ascending; j++)
			if (e->draining[j].kind == ITD_IN_SUBMIT && e->draining[j].seq == in->seq)
				return false;
		last = in->seq;
	}
	return n_submit == L->t.reserved && section_done(r);
}

/* Decode and check everything into L (nothing of e but its scratch input
 * slots is touched). */
static int decode(struct itd_engine *e, const uint8_t *buf, size_t len, struct loaded *L)
{
	struct itd_snap_rd r = {.p = buf, .end = buf + len};
	char magic[8];
	get(&r, magic, sizeof magic);
	uint32_t version = get_u32(&r), zero = get_u32(&r);
	uint64_t fp = get_u64(&r);
	if (r.bad || memcmp(magic, SNAP_MAGIC, sizeof magic))
		return ITD_EINVAL;
	if (version != SNAP_VERSION || fp != itd_scenario_fingerprint(e->scn, SNAP_VERSION))
		return ITD_EVERIFY;
	if (zero)
		return ITD_EINVAL;
	int rc = itd_intents_init(&L->t, e->scn);
	if (rc)
		return rc;
	L->t_ready = true;
	struct itd_snap_rd sec = section(&r, TAG_ENGINE);
	if (!load_engine(&sec, e, L))
		return ITD_EINVAL;
	sec = section(&r, TAG_GLOBAL);
	if (!load_global(&sec, e, L))
		return ITD_EINVAL;
	sec = section(&r, TAG_GATE);
	if (!load_gate(&sec, e, L))
		return ITD_EINVAL;
	sec = section(&r, TAG_INTENTS);
	if (sec.bad)
		return ITD_EINVAL;
	/* History may point at the interned reasons: at the engine's own
	 * table, which takes the snapshot's entries when it is applied. */
	struct reasons rs = {.scn = e->scn, .interned = e->reasons, .n_interned = L->n_reasons};
	struct itd_snap_reasons srs = {.find = reason_find, .at = reason_at, .ctx = &rs};
	rc = itd_intents_snap_load(&L->t, &srs, sec.p, (size_t)(sec.end - sec.p));
	if (rc)
		return rc;
	struct itd_gate *g = &L->gate;
	g->selected = itd_intents_at(&L->t, L->selected_seq);
	g->pick = itd_intents_at(&L->t, L->pick_seq);
	L->executed = itd_intents_at(&L->t, L->executed_seq);
	if (!g->selected != !L->selected_seq || !g->pick != !L->pick_seq ||
	    !L->executed != !L->executed_seq ||
	    ((g->verdict == ITD_VERDICT_BLOCKED || g->verdict == ITD_VERDICT_AUTHORIZED) &&
	     !g->pick))
		return ITD_EINVAL;
	sec = section(&r, TAG_INTAKE);
	if (!load_intake(&sec, e, L) || r.p != r.end)
		return ITD_EINVAL;
	return ITD_OK;
}

/* Replace the engine's state with L (everything checked). */
static void apply(struct itd_engine *e, struct loaded *L)
{
	const struct itd_scenario *s = e->scn;
	struct itd_intake *q = &e->intake;
	uint32_t ng = s->slots.n_global;
	if (e->state_lock)
		pthread_rwlock_wrlock(e->state_lock);
	pthread_mutex_lock(&q->lock);
	pthread_mutex_lock(&e->intents.lock);
	/* The decoded table becomes the engine's; L->t takes the old one. */
	itd_intents_swap(&e->intents, &L->t);
	e->tick = L->tick;
	e->now_ms = L->now_ms;
	memcpy(e->global, L->global, ng * sizeof *e->global);
	memcpy(e->before, L->global + ng, ng * sizeof *e->before);
	e->lock = L->lock;
	e->gate = L->gate;
	e->executed = L->executed;
	e->state_hash = L->state_hash;
	e->rng_retry = L->rng;
	e->initial_applied = L->initial_applied;
	e->stats = L->stats;
	memcpy(e->blocks_by_rule, L->blocks, s->n_safety * sizeof *e->blocks_by_rule);
	e->fault_src = NULL;
	e->slip_ns = 0;
	e->replay_ms = INT64_MIN;
	e->last_selected = L->last_selected;
	e->last_candidates = L->last_candidates;
	e->last_arrival = L->last_arrival;
	memset(e->reasons, 0, sizeof e->reasons);
	memcpy(e->reasons, L->reasons, L->n_reasons * sizeof e->reasons[0]);
	e->n_reasons = L->n_reasons;
	e->tick_t0 = 0;
	for (uint32_t i = 0; i < L->n_in; i++) {
		struct itd_input *in = &q->slots[i];
		*in = e->draining[i];
		for (size_t p = 0; in->kind == ITD_IN_SUBMIT && p < in->sub.n_params; p++)
			if (in->params[p].value.type == ITD_T_STR)
				in->params[p].value.str = in->str + in->str_off[p];
	}
	q->head = 0;
	__atomic_store_n(&q->n, L->n_in, __ATOMIC_RELEASE);
	q->arrivals = L->arrivals;
	q->full = L->full;
	__atomic_store_n(&q->apply_tick, L->apply_tick, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&e->intents.lock);
	pthread_mutex_unlock(&q->lock);
	if (e->state_lock)
		pthread_rwlock_unlock(e->state_lock);
}

int itd_engine_load(struct itd_engine *e, const void *buf, size_t len, uint64_t *arrivals_out)
{
	const struct itd_scenario *s = e->scn;
	struct loaded *L = itd_calloc(1, sizeof *L);
	int rc = ITD_ENOMEM;
	if (arrivals_out)
		*arrivals_out = 0;
	if (!L)
		return ITD_ENOMEM;
	L->blocks = itd_calloc(s->n_safety ? s->n_safety : 1, sizeof *L->blocks);
	L->global = itd_calloc(2 * (size_t)s->slots.n_global, sizeof *L->global);
	if (!L->blocks || !L->global)
		goto fail;
	rc = decode(e, buf, len, L);
	if (rc)
		goto fail;
	apply(e, L);
	if (arrivals_out)
		*arrivals_out = L->arrivals;
fail:
	if (L->t_ready)
		itd_intents_fini(&L->t);
	itd_free(L->global);
	itd_free(L->blocks);
	itd_free(L);
	return rc;
}

/* ---------------------------------------------------------------- reset */

/* The state hash of engine_core.c (one word per global slot, hashed in one
 * call), which reset needs for tick 0 and cannot call: it must stay the
 * same function (the reset test compares with a fresh engine). */
void itd_engine_reset(struct itd_engine *e, uint64_t seed)
{
	const struct itd_scenario *s = e->scn;
	struct itd_intake *q = &e->intake;
	if (e->state_lock)
		pthread_rwlock_wrlock(e->state_lock);
	pthread_mutex_lock(&q->lock);
	pthread_mutex_lock(&e->intents.lock);
	itd_intents_reset(&e->intents);
	q->head = 0;
	__atomic_store_n(&q->n, 0, __ATOMIC_RELEASE);
	q->arrivals = 0;
	q->full = 0;
	__atomic_store_n(&q->apply_tick, 1, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&e->intents.lock);
	pthread_mutex_unlock(&q->lock);

	/* As itd_engine_create sets them up. */
	e->tick = 0;
	e->now_ms = 0;
	for (size_t i = 0; i < s->n_fields; i++)
		e->global[i] = s->fields[i].initial;
	e->global[s->slots.mode] =
		(struct itd_value){.type = ITD_T_STR, .str = s->modes[s->initial_mode]};
	e->global[s->slots.tick] = (struct itd_value){.type = ITD_T_NUM, .num = 0};
	memcpy(e->before, e->global, s->slots.n_global * sizeof *e->global);
	memset(&e->lock, 0, sizeof e->lock);
	memset(&e->gate, 0, sizeof e->gate);
	e->executed = NULL;
	itd_rng_seed(&e->rng_retry, seed, "retry");
	e->initial_applied = false;
	memset(&e->stats, 0, sizeof e->stats);
	memset(e->blocks_by_rule, 0, (s->n_safety ? s->n_safety : 1) * sizeof *e->blocks_by_rule);
	e->fault_src = NULL;
	e->slip_ns = 0;
	e->replay_ms = INT64_MIN;
	e->last_selected = e->last_candidates = e->last_arrival = 0;
	memset(e->reasons, 0, sizeof e->reasons);
	e->n_reasons = 0;
	__atomic_store_n(&e->paused, false, __ATOMIC_RELEASE);
	e->tick_t0 = 0;
	e->state_hash = itd_engine_hash_state(e);
	if (e->state_lock)
		pthread_rwlock_unlock(e->state_lock);
}
