/* intent_snapshot.c: the intent table's part of an engine snapshot (every
 * held record with its history and expression frame, the free stack, the
 * eviction order, the active list, the seq map and the idempotency keys)
 * as little-endian bytes without a pointer, and back, validated before
 * anything is trusted; and emptying a table in place for an engine reset.
 *
 * Layout (u8/u16/u32/u64 little-endian, f64 as its bits, str = a length
 * byte and that many bytes without a NUL):
 *   u32 cap, hist_cap, n_intent slots; u64 n_map, n_keys_cap (must match)
 *   u64 n, last_seq, n_evicted, next_seq, reserved, n_live, n_rejected, gen
 *   u64 by_status[ITD_ST_COUNT]
 *   u32 n_free, n_free x u32      the free stack, bottom first
 *   u32 n_done, n_done x u32      terminal records, oldest first
 *   u32 n_active, n_active x u32  active records, in list order
 *   n_map x u32                   the seq map as it is (record index + 1)
 *   u32 n_keys, n_keys x (u64 seq, u64 body_hash, str key), in probe
 *                                 order from an empty slot, so inserting
 *                                 them in order rebuilds the same index
 *   u32 n_rec, n_rec x record     ascending record index (see put_record)
 * Records keep their index, so save -> load -> save gives the same bytes. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intent_int.h"

/* ------------------------------------------------------------- bytes */

#define put_u8(w, v) itd_snap_put_uint((w), (v), 1)
#define put_u16(w, v) itd_snap_put_uint((w), (v), 2)
#define put_u32(w, v) itd_snap_put_uint((w), (v), 4)
#define put_u64(w, v) itd_snap_put_uint((w), (v), 8)
#define get_u8(r) ((uint8_t)itd_snap_get_uint((r), 1))
#define get_u16(r) ((uint16_t)itd_snap_get_uint((r), 2))
#define get_u32(r) ((uint32_t)itd_snap_get_uint((r), 4))
#define get_u64(r) itd_snap_get_uint((r), 8)

void itd_snap_put(struct itd_snap_wr *w, const void *src, size_t n)
{
	if (w->over || (size_t)(w->end - w->p) < n) {
		w->over = true;
		return;
	}
	if (n)
		memcpy(w->p, src, n);
	w->p += n;
}

void itd_snap_put_uint(struct itd_snap_wr *w, uint64_t v, size_t bytes)
{
	uint8_t b[8];
	for (size_t i = 0; i < bytes && i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	itd_snap_put(w, b, bytes < 8 ? bytes : 8);
}

void itd_snap_put_f64(struct itd_snap_wr *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	put_u64(w, v);
}

void itd_snap_put_str(struct itd_snap_wr *w, const char *s, size_t max)
{
	size_t n = strnlen(s, max < 255 ? max : 255);
	put_u8(w, n);
	itd_snap_put(w, s, n);
}

void itd_snap_get(struct itd_snap_rd *r, void *dst, size_t n)
{
	if (r->bad || (size_t)(r->end - r->p) < n) {
		r->bad = true;
		memset(dst, 0, n);
		return;
	}
	if (n)
		memcpy(dst, r->p, n);
	r->p += n;
}

uint64_t itd_snap_get_uint(struct itd_snap_rd *r, size_t bytes)
{
	uint8_t b[8];
	size_t n = bytes < 8 ? bytes : 8;
	itd_snap_get(r, b, n);
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

double itd_snap_get_f64(struct itd_snap_rd *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

void itd_snap_get_str(struct itd_snap_rd *r, char *dst, size_t cap)
{
	size_t n = get_u8(r);
	dst[0] = '\0';
	if (r->bad || n >= cap || (size_t)(r->end - r->p) < n || memchr(r->p, '\0', n)) {
		r->bad = true;
		return;
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
}

/* --------------------------------------------------- scenario strings */

struct walk {
	const char *want_str; /* find by content, or NULL: find index `want` */
	uint32_t want;
	uint32_t i;           /* index of the next string visited */
	const char *hit;      /* found */
};

static bool visit(struct walk *k, const char *s)
{
	if (s && (k->want_str ? strcmp(s, k->want_str) == 0 : k->i == k->want)) {
		k->hit = s;
		return true;
	}
	k->i++;
	return false;
}

/* Visit the scenario's strings in the order itd_snap_str_find documents
 * until one matches. */
static void walk_strings(const struct itd_scenario *s, struct walk *k)
{
#define V(x)                    \
	do {                    \
		if (visit(k, (x)))  \
			return; \
	} while (0)
	V("");
	for (int i = 0; i < ITD_SRC_COUNT; i++)
		V(itd_source_name((enum itd_source)i));
	for (size_t i = 0; i < s->n_modes; i++)
		V(s->modes[i]);
	for (size_t i = 0; i < s->n_fields; i++) {
		const struct itd_field *f = &s->fields[i];
		V(f->name);
		V(f->type == ITD_T_STR ? f->initial.str : NULL);
		for (size_t v = 0; v < f->n_values; v++)
			V(f->values[v]);
	}
	for (size_t i = 0; i < s->n_types; i++) {
		const struct itd_intent_type *ty = &s->types[i];
		V(ty->name);
		for (size_t p = 0; p < ty->n_params; p++) {
			const struct itd_param_def *pd = &ty->params[p];
			V(pd->type == ITD_T_STR && pd->has_default ? pd->def.str : NULL);
		}
	}
	for (size_t i = 0; i < s->n_domains; i++)
		V(s->domains[i]);
	for (size_t i = 0; i < s->n_flags; i++)
		V(s->flags[i]);
	for (size_t i = 0; i < s->n_safety; i++)
		V(s->safety[i].id);
#undef V
}

bool itd_snap_str_find(const struct itd_scenario *s, const char *str, uint32_t *idx_out)
{
	struct walk k = {.want_str = str};
	if (!str)
		return false;
	walk_strings(s, &k);
	*idx_out = k.i;
	return k.hit != NULL;
}

const char *itd_snap_str_at(const struct itd_scenario *s, uint32_t idx)
{
	struct walk k = {.want = idx};
	walk_strings(s, &k);
	return k.hit;
}

/* ------------------------------------------------------------- values */

enum { REF_SCN = 0, REF_ID = 1, REF_PARAM = 2 }; /* where a string lives */

int itd_snap_put_value(struct itd_snap_wr *w, const struct itd_scenario *s,
		       const struct itd_intent *in, const struct itd_value *v)
{
	put_u8(w, (uint64_t)v->type);
	switch (v->type) {
	case ITD_T_NUM:
		itd_snap_put_f64(w, v->num);
		return ITD_OK;
	case ITD_T_BOOL:
		put_u8(w, v->b);
		return ITD_OK;
	case ITD_T_NONE:
		return ITD_OK;
	case ITD_T_STR:
		break;
	default:
		return ITD_ESTATE;
	}
	uintptr_t p = (uintptr_t)v->str, base = in ? (uintptr_t)in->params : 0;
	uint32_t idx;
	if (in && v->str == in->id) {
		put_u8(w, REF_ID);
	} else if (in && p >= base && p < base + in->params_used) {
		put_u8(w, REF_PARAM);
		put_u16(w, p - base);
	} else if (itd_snap_str_find(s, v->str, &idx)) {
		put_u8(w, REF_SCN);
		put_u32(w, idx);
	} else {
		return ITD_ESTATE;
	}
	return ITD_OK;
}

void itd_snap_get_value(struct itd_snap_rd *r, const struct itd_scenario *s,
			const struct itd_intent *in, enum itd_type want, bool none_ok,
			struct itd_value *out)
{
	uint8_t type = get_u8(r);
	memset(out, 0, sizeof *out);
	if (type == ITD_T_NONE && none_ok)
		return;
	if (type != want || want == ITD_T_NONE) {
		r->bad = true;
		return;
	}
	out->type = want;
	if (want == ITD_T_NUM) {
		out->num = itd_snap_get_f64(r);
		return;
	}
	if (want == ITD_T_BOOL) {
		uint8_t b = get_u8(r);
		r->bad |= b > 1;
		out->b = b;
		return;
	}
	uint8_t ref = get_u8(r);
	if (ref == REF_ID && in) {
		out->str = in->id;
	} else if (ref == REF_PARAM && in) {
		uint16_t off = get_u16(r);
		if (off < in->params_used && memchr(in->params + off, '\0', in->params_used - off))
			out->str = in->params + off;
	} else if (ref == REF_SCN) {
		out->str = itd_snap_str_at(s, get_u32(r));
	}
	if (!out->str) {
		r->bad = true;
		out->type = ITD_T_NONE;
	}
}

/* What slot j of an intent of type ty holds between ticks: its type, and
 * whether it may still be unset (*none_ok).  ITD_T_NONE: always unset (a
 * slot of another type). */
static enum itd_type slot_type(const struct itd_scenario *s, const struct itd_intent_type *ty,
			       uint32_t j, bool *none_ok)
{
	const struct itd_slots *sl = &s->slots;
	*none_ok = false;
	if (j == sl->i_type || j == sl->i_source || j == sl->i_id || j == sl->i_goal_metric)
		return ITD_T_STR;
	if (j == sl->i_priority || j == sl->i_created_tick || j == sl->i_goal_reference ||
	    j == sl->i_goal_tolerance)
		return ITD_T_NUM;
	if (j == sl->i_recovery || (j >= sl->i_domains && j - sl->i_domains < s->n_domains) ||
	    (j >= sl->i_flags && j - sl->i_flags < s->n_flags))
		return ITD_T_BOOL;
	*none_ok = true; /* the rest is filled by the first refresh, or never */
	if (j == sl->i_age || j == sl->i_evaluations || j == sl->i_blocked_ticks ||
	    j == sl->i_executions || j == sl->i_attempts || j == sl->i_goal_value)
		return ITD_T_NUM;
	for (size_t p = 0; p < ty->n_params; p++)
		if ((ty->params[p].slot & ~ITD_SLOT_INTENT) == j)
			return ty->params[p].type;
	for (size_t v = 0; v < ty->n_vars; v++)
		if ((ty->vars[v].slot & ~ITD_SLOT_INTENT) == j)
			return itd_expr_type(ty->vars[v].expr);
	return ITD_T_NONE;
}

/* ------------------------------------------------------------ records */

/* One record: u32 index, u64 seq, u32 type, u8 source, status, verdict,
 * f64 priority, goal (u8 present, u32 metric, f64 reference, tolerance),
 * u64 created, deadline and retry ticks, i64 received_ms, u64
 * evaluations, blocked_ticks, executions, attempts, f64 score, u32
 * verdict rule (0: none, else index + 1), str explain, u64 verdict_tick,
 * reported_tick, first_exec_tick, str key, u64 body_hash, u64 n_hist and
 * the held history slots as they lie in the ring (u64 tick, u8 from, u8
 * to, u32 reason), u16 params_used and those bytes, u64 frame_gen, str
 * actor, then every frame slot (u8 type; f64 | u8 | string reference:
 * u8 REF_ID | u8 REF_PARAM u16 offset | u8 REF_SCN u32 index). */
#define REC_FIXED (4 + 8 + 4 + 3 + 8 + 21 + 24 + 8 + 32 + 8 + 4 + 24 + 8 + 8 + 2 + 8)
#define HIST_ENC (8 + 1 + 1 + 4)
#define VALUE_ENC 9 /* the largest value: a type byte and a number */

static int put_record(struct itd_snap_wr *w, const struct itd_intents *t,
		      const struct itd_snap_reasons *rs, uint32_t idx)
{
	const struct itd_scenario *s = t->scn;
	const struct itd_intent *in = &t->rec[idx];
	put_u32(w, idx);
	put_u64(w, in->seq);
	put_u32(w, in->type);
	put_u8(w, (uint64_t)in->source);
	put_u8(w, (uint64_t)in->status);
	put_u8(w, (uint64_t)in->verdict);
	itd_snap_put_f64(w, in->priority);
	put_u8(w, in->goal.present);
	put_u32(w, in->goal.metric);
	itd_snap_put_f64(w, in->goal.reference);
	itd_snap_put_f64(w, in->goal.tolerance);
	put_u64(w, in->created_tick);
	put_u64(w, in->deadline_tick);
	put_u64(w, in->retry_tick);
	put_u64(w, (uint64_t)in->received_ms);
	put_u64(w, in->evaluations);
	put_u64(w, in->blocked_ticks);
	put_u64(w, in->executions);
	put_u64(w, in->attempts);
	itd_snap_put_f64(w, in->score);
	uint32_t rule = 0;
	for (size_t i = 0; in->verdict_rule && !rule && i < s->n_safety; i++)
		if (in->verdict_rule == s->safety[i].id)
			rule = (uint32_t)i + 1;
	if (in->verdict_rule && !rule)
		return ITD_ESTATE;
	put_u32(w, rule);
	itd_snap_put_str(w, in->explain, ITD_EXPLAIN_LEN - 1);
	put_u64(w, in->verdict_tick);
	put_u64(w, in->reported_tick);
	put_u64(w, in->first_exec_tick);
	itd_snap_put_str(w, in->key, ITD_KEY_LEN - 1);
	put_u64(w, in->body_hash);
	put_u64(w, in->n_hist);
	uint64_t held = itd_intent_n_held(t, in);
	for (uint64_t k = 0; k < held; k++) {
		const struct itd_transition *h = &in->hist[k];
		uint32_t reason;
		if (!h->reason || !rs->find(rs->ctx, h->reason, &reason))
			return ITD_ESTATE;
		put_u64(w, h->tick);
		put_u8(w, h->from);
		put_u8(w, h->to);
		put_u32(w, reason);
	}
	uint32_t used = in->params_used <= ITD_PARAM_BYTES ? in->params_used : ITD_PARAM_BYTES;
	put_u16(w, used);
	itd_snap_put(w, in->params, used);
	put_u64(w, in->frame_gen);
	itd_snap_put_str(w, in->actor, sizeof in->actor - 1);
	for (uint32_t j = 0; j < s->slots.n_intent; j++) {
		int rc = itd_snap_put_value(w, s, in, &in->frame[j]);
		if (rc)
			return rc;
	}
	return ITD_OK;
}

/* Decode record `idx` into the (fresh) table; false if anything is out of
 * bounds. */
static bool get_record(struct itd_snap_rd *r, struct itd_intents *t,
		       const struct itd_snap_reasons *rs, uint32_t idx)
{
	const struct itd_scenario *s = t->scn;
	struct itd_intent *in = &t->rec[idx];
	in->seq = get_u64(r);
	snprintf(in->id, sizeof in->id, "i-%06" PRIu64, in->seq);
	uint32_t type = get_u32(r);
	uint8_t source = get_u8(r), status = get_u8(r), verdict = get_u8(r);
	if (r->bad || !in->seq || type >= s->n_types || source >= ITD_SRC_COUNT ||
	    status >= ITD_ST_COUNT || verdict > ITD_VERDICT_DENIED)
		return false;
	in->type = type;
	in->source = (enum itd_source)source;
	in->status = (enum itd_status)status;
	in->verdict = (enum itd_verdict)verdict;
	in->priority = itd_snap_get_f64(r);
	uint8_t present = get_u8(r);
	in->goal.present = present;
	in->goal.metric = get_u32(r);
	in->goal.reference = itd_snap_get_f64(r);
	in->goal.tolerance = itd_snap_get_f64(r);
	if (present > 1 || (present && (in->goal.metric >= s->n_fields ||
					s->fields[in->goal.metric].type != ITD_T_NUM)))
		return false;
	in->created_tick = get_u64(r);
	in->deadline_tick = get_u64(r);
	in->retry_tick = get_u64(r);
	in->received_ms = (int64_t)get_u64(r);
	if (in->received_ms < -ITD_SNAP_MS_LIMIT || in->received_ms > ITD_SNAP_MS_LIMIT)
		return false;
	in->evaluations = get_u64(r);
	in->blocked_ticks = get_u64(r);
	in->executions = get_u64(r);
	in->attempts = get_u64(r);
	in->score = itd_snap_get_f64(r);
	uint32_t rule = get_u32(r);
	if (rule > s->n_safety)
		return false;
	in->verdict_rule = rule ? s->safety[rule - 1].id : NULL;
	itd_snap_get_str(r, in->explain, sizeof in->explain);
	in->verdict_tick = get_u64(r);
	in->reported_tick = get_u64(r);
	in->first_exec_tick = get_u64(r);
	itd_snap_get_str(r, in->key, sizeof in->key);
	in->body_hash = get_u64(r);
	in->n_hist = get_u64(r);
	uint64_t held = itd_intent_n_held(t, in);
	for (uint64_t k = 0; k < held && !r->bad; k++) {
		struct itd_transition *h = &in->hist[k];
		h->tick = get_u64(r);
		h->from = get_u8(r);
		h->to = get_u8(r);
		h->reason = rs->at(rs->ctx, get_u32(r));
		if (h->from >= ITD_ST_COUNT || h->to >= ITD_ST_COUNT || !h->reason)
			return false;
	}
	in->params_used = get_u16(r);
	if (in->params_used > ITD_PARAM_BYTES)
		return false;
	itd_snap_get(r, in->params, in->params_used);
	in->frame_gen = get_u64(r);
	itd_snap_get_str(r, in->actor, sizeof in->actor);
	const struct itd_intent_type *ty = &s->types[in->type];
	for (uint32_t j = 0; j < s->slots.n_intent && !r->bad; j++) {
		bool none_ok;
		enum itd_type want = slot_type(s, ty, j, &none_ok);
		itd_snap_get_value(r, s, in, want, none_ok, &in->frame[j]);
	}
	return !r->bad;
}

/* -------------------------------------------------------------- table */

size_t itd_intents_snap_bound(const struct itd_intents *t)
{
	size_t rec = REC_FIXED + (1 + ITD_EXPLAIN_LEN) + (1 + ITD_KEY_LEN) + 32 + ITD_PARAM_BYTES +
		     (size_t)t->hist_cap * HIST_ENC + (size_t)t->scn->slots.n_intent * VALUE_ENC;
	return 3 * 4 + 2 * 8 + 8 * 8 + 8 * ITD_ST_COUNT + 3 * (4 + 4 * (size_t)t->cap) +
	       4 * (size_t)t->n_map + 4 + (size_t)t->n_keys_cap * (8 + 8 + ITD_KEY_LEN) + 4 +
	       (size_t)t->cap * rec;
}

int itd_intents_snap_save(const struct itd_intents *t, const struct itd_snap_reasons *rs,
			  uint8_t *buf, size_t cap, size_t *len_out)
{
	struct itd_snap_wr w = {.p = buf, .end = buf + cap};
	*len_out = 0;
	put_u32(&w, t->cap);
	put_u32(&w, t->hist_cap);
	put_u32(&w, t->scn->slots.n_intent);
	put_u64(&w, t->n_map);
	put_u64(&w, t->n_keys_cap);
	put_u64(&w, t->n);
	put_u64(&w, t->last_seq);
	put_u64(&w, t->n_evicted);
	put_u64(&w, t->next_seq);
	put_u64(&w, t->reserved);
	put_u64(&w, t->n_live);
	put_u64(&w, t->n_rejected);
	put_u64(&w, t->gen);
	for (int i = 0; i < ITD_ST_COUNT; i++)
		put_u64(&w, t->by_status[i]);
	put_u32(&w, t->n_free);
	for (uint32_t i = 0; i < t->n_free; i++)
		put_u32(&w, t->free[i]);
	put_u32(&w, t->n_done);
	for (uint32_t i = 0; i < t->n_done; i++)
		put_u32(&w, t->done[(t->done_head + i) % t->cap]);
	put_u32(&w, t->n_active);
	for (uint32_t i = 0; i < t->n_active; i++)
		put_u32(&w, t->active[i]);
	for (uint64_t i = 0; i < t->n_map; i++)
		put_u32(&w, t->by_seq[i]);

	uint64_t mask = t->n_keys_cap - 1, start = 0, n_keys = 0;
	for (uint64_t i = 0; i < t->n_keys_cap; i++)
		n_keys += t->keys[i].seq != 0;
	for (uint64_t i = 0; i < t->n_keys_cap; i++)
		if (!t->keys[i].seq) {
			start = (i + 1) & mask;
			break;
		}
	put_u32(&w, n_keys);
	for (uint64_t k = 0; k < t->n_keys_cap; k++) {
		const struct itd_key_entry *ke = &t->keys[(start + k) & mask];
		if (!ke->seq)
			continue;
		put_u64(&w, ke->seq);
		put_u64(&w, ke->body_hash);
		itd_snap_put_str(&w, ke->key, ITD_KEY_LEN - 1);
	}

	/* Never-used records have seq 0: every other one is held. */
	uint32_t n_rec = (uint32_t)t->cap - t->n_free, seen = 0;
	put_u32(&w, n_rec);
	for (uint32_t i = 0; i < t->cap; i++) {
		if (!t->rec[i].seq)
			continue;
		int rc = put_record(&w, t, rs, i);
		if (rc)
			return rc;
		seen++;
	}
	if (seen != n_rec)
		return ITD_EINTERNAL;
	if (w.over)
		return ITD_ELIMIT;
	*len_out = (size_t)(w.p - buf);
	return ITD_OK;
}

/* What the load has seen of each record index. */
enum { M_FREE = 1, M_DONE = 2, M_ACTIVE = 4, M_MAP = 8 };

/* Read a list of n record indices into dst, marking each with `bit`; an
 * index out of range, free or already in a list with one of `clash` is
 * bad. */
static void get_list(struct itd_snap_rd *r, uint8_t *mark, uint32_t cap, uint32_t *dst, uint32_t n,
		     uint8_t bit, uint8_t clash)
{
	for (uint32_t i = 0; i < n && !r->bad; i++) {
		uint32_t v = get_u32(r);
		if (r->bad || v >= cap || (mark[v] & clash)) {
			r->bad = true;
			return;
		}
		mark[v] |= bit;
		dst[i] = v;
	}
}

/* Every held record against the lists and the map (all read). */
static bool consistent(struct itd_intents *t, const uint8_t *mark)
{
	uint64_t by_status[ITD_ST_COUNT] = {0};
	for (uint32_t i = 0; i < t->cap; i++) {
		if (mark[i] & M_FREE)
			continue;
		struct itd_intent *in = &t->rec[i];
		bool terminal = itd_status_terminal(in->status);
		if (!(mark[i] & M_MAP) || terminal != !!(mark[i] & M_DONE) ||
		    terminal == !!(mark[i] & M_ACTIVE) || in->seq > t->last_seq ||
		    itd_intents_at(t, in->seq) != in)
			return false;
		by_status[in->status]++;
	}
	for (int st = 0; st < ITD_ST_COUNT; st++)
		if (!itd_status_terminal((enum itd_status)st) && by_status[st] != t->by_status[st])
			return false;
	/* Every key is held by the record that carries it, or by a seq
	 * handed out and not created yet (a queued submission). */
	for (uint64_t i = 0; i < t->n_keys_cap; i++) {
		const struct itd_key_entry *k = &t->keys[i];
		const struct itd_intent *in = k->seq ? itd_intents_at(t, k->seq) : NULL;
		if (k->seq && (in ? strcmp(in->key, k->key) != 0 : k->seq > t->next_seq))
			return false;
	}
	for (uint32_t i = 0; i < t->cap; i++)
		if (!(mark[i] & M_FREE) && t->rec[i].key[0] &&
		    itd_intents_by_key(t, t->rec[i].key) != &t->rec[i])
			return false;
	return t->n_live == t->n_active && t->last_seq <= t->next_seq;
}

int itd_intents_snap_load(struct itd_intents *t, const struct itd_snap_reasons *rs,
			  const uint8_t *buf, size_t len)
{
	uint32_t cap = (uint32_t)t->cap;
	uint8_t *mark = itd_calloc(cap, 1);
	if (!mark)
		return ITD_ENOMEM;
	struct itd_snap_rd r = {.p = buf, .end = buf + len};
	int rc = ITD_EINVAL;
	if (get_u32(&r) != cap || get_u32(&r) != t->hist_cap ||
	    get_u32(&r) != t->scn->slots.n_intent || get_u64(&r) != t->n_map ||
	    get_u64(&r) != t->n_keys_cap)
		goto fail;
	t->n = get_u64(&r);
	t->last_seq = get_u64(&r);
	t->n_evicted = get_u64(&r);
	t->next_seq = get_u64(&r);
	t->reserved = get_u64(&r);
	t->n_live = get_u64(&r);
	t->n_rejected = get_u64(&r);
	t->gen = get_u64(&r);
	for (int i = 0; i < ITD_ST_COUNT; i++)
		t->by_status[i] = get_u64(&r);

	uint32_t n = get_u32(&r);
	if (n > cap)
		goto fail;
	t->n_free = n;
	get_list(&r, mark, cap, t->free, n, M_FREE, M_FREE);
	n = get_u32(&r);
	if (n > cap)
		goto fail;
	t->n_done = n;
	t->done_head = 0;
	get_list(&r, mark, cap, t->done, n, M_DONE, M_FREE | M_DONE);
	n = get_u32(&r);
	if (n > cap)
		goto fail;
	t->n_active = n;
	get_list(&r, mark, cap, t->active, n, M_ACTIVE, M_FREE | M_DONE | M_ACTIVE);
	for (uint64_t i = 0; i < t->n_map && !r.bad; i++) {
		uint32_t v = get_u32(&r);
		if (v && (v > cap || (mark[v - 1] & (M_FREE | M_MAP))))
			goto fail;
		if (v)
			mark[v - 1] |= M_MAP;
		t->by_seq[i] = v;
	}

	/* Keys: one per held record at most, and per reservation; fewer
	 * than the index has slots, so every probe ends. */
	uint32_t n_keys = get_u32(&r);
	if (r.bad || n_keys >= t->n_keys_cap ||
	    (n_keys > cap - t->n_free && n_keys - (cap - t->n_free) > t->reserved))
		goto fail;
	for (uint32_t i = 0; i < n_keys; i++) {
		uint64_t seq = get_u64(&r), body = get_u64(&r), holder;
		char key[ITD_KEY_LEN];
		itd_snap_get_str(&r, key, sizeof key);
		if (r.bad || !seq || !key[0] || itd_keys_claim(t, key, body, seq, &holder))
			goto fail;
	}

	uint32_t n_rec = get_u32(&r);
	if (r.bad || n_rec != cap - t->n_free)
		goto fail;
	for (uint32_t i = 0, prev = 0; i < n_rec; i++) {
		uint32_t idx = get_u32(&r);
		if (r.bad || idx >= cap || (i && idx <= prev) || (mark[idx] & M_FREE))
			goto fail;
		prev = idx;
		if (!get_record(&r, t, rs, idx))
			goto fail;
	}
	if (r.bad || r.p != r.end || !consistent(t, mark))
		goto fail;
	rc = ITD_OK;
fail:
	itd_free(mark);
	return rc;
}

void itd_intents_swap(struct itd_intents *a, struct itd_intents *b)
{
#define SWAP(m)                                          \
	do {                                             \
		unsigned char x_[sizeof a->m];           \
		memcpy(x_, &a->m, sizeof x_);            \
		memcpy(&a->m, &b->m, sizeof x_);         \
		memcpy(&b->m, x_, sizeof x_);            \
	} while (0)
	SWAP(rec);
	SWAP(n);
	SWAP(last_seq);
	SWAP(cap);
	SWAP(n_evicted);
	SWAP(free);
	SWAP(n_free);
	SWAP(done);
	SWAP(done_head);
	SWAP(n_done);
	SWAP(by_seq);
	SWAP(n_map);
	SWAP(active);
	SWAP(n_active);
	SWAP(n_deferred);
	SWAP(deferring);
	SWAP(hist_pool);
	SWAP(hist_cap);
	SWAP(frame_pool);
	SWAP(next_seq);
	SWAP(reserved);
	SWAP(n_live);
	SWAP(keys);
	SWAP(forced);
	SWAP(n_forced);
	SWAP(i_forced);
	SWAP(cap_forced);
	SWAP(forcing);
	SWAP(attempts);
	SWAP(n_attempts);
	SWAP(n_keys_cap);
	SWAP(by_status);
	SWAP(n_rejected);
	SWAP(gen);
#undef SWAP
}

void itd_intents_reset(struct itd_intents *t)
{
	size_t n_slots = t->scn->slots.n_intent ? t->scn->slots.n_intent : 1;
	memset(t->rec, 0, t->cap * sizeof *t->rec);
	memset(t->hist_pool, 0, t->cap * t->hist_cap * sizeof *t->hist_pool);
	memset(t->frame_pool, 0, t->cap * n_slots * sizeof *t->frame_pool);
	memset(t->keys, 0, t->n_keys_cap * sizeof *t->keys);
	memset(t->by_seq, 0, t->n_map * sizeof *t->by_seq);
	memset(t->active, 0, t->cap * sizeof *t->active);
	memset(t->done, 0, t->cap * sizeof *t->done);
	memset(t->forced, 0, t->cap_forced * sizeof *t->forced);
	memset(t->attempts, 0, t->cap_forced * sizeof *t->attempts);
	/* As itd_intents_init lays them out: record 0 is handed out first. */
	for (uint64_t i = 0; i < t->cap; i++) {
		t->rec[i].hist = &t->hist_pool[i * t->hist_cap];
		t->rec[i].frame = &t->frame_pool[i * n_slots];
		t->free[t->cap - 1 - i] = (uint32_t)i;
	}
	t->n_free = (uint32_t)t->cap;
	t->n = t->last_seq = t->n_evicted = 0;
	t->done_head = t->n_done = t->n_active = 0;
	t->next_seq = t->reserved = t->n_live = 0;
	t->n_forced = t->i_forced = t->n_attempts = 0;
	t->forcing = false;
	memset(t->by_status, 0, sizeof t->by_status);
	t->n_rejected = 0;
	t->gen = 0;
}
