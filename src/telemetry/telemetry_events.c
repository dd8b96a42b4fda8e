/* telemetry_events.c: payload encoders for the engine's events.  Each
 * payload carries the ids, types and deciding values of its event, so a
 * reader never needs another event to understand one. */
#include <stdio.h>
#include <string.h>

#include "telemetry_events.h"
#include "telemetry_int.h"

static void write_value(struct itd_jw *w, const struct itd_value *v)
{
	switch (v->type) {
	case ITD_T_NUM:
		itd_jw_num(w, v->num);
		break;
	case ITD_T_BOOL:
		itd_jw_bool(w, v->b);
		break;
	case ITD_T_STR:
		itd_jw_str(w, v->str);
		break;
	case ITD_T_NONE:
		itd_jw_null(w);
		break;
	}
}

static void write_goal(struct itd_jw *w, const struct itd_scenario *s, const struct itd_goal *g)
{
	ITD_JW_KEY(w, "goal");
	if (!g->present) {
		itd_jw_null(w);
		return;
	}
	itd_jw_obj_begin(w);
	ITD_JW_KSTR(w, "metric", s->fields[g->metric].name);
	ITD_JW_KNUM(w, "reference", g->reference);
	ITD_JW_KNUM(w, "tolerance", g->tolerance);
	itd_jw_obj_end(w);
}

/* Members every intent event starts with. */
static void write_intent_head(struct itd_jw *w, const struct itd_scenario *s,
			      const struct itd_intent *in)
{
	ITD_JW_KSTR(w, "intent_id", in->id);
	ITD_JW_KSTR(w, "type", s->types[in->type].name);
	ITD_JW_KSTR(w, "status", itd_status_name(in->status));
}

static void write_received(struct itd_jw *w, const struct itd_engine *e,
			   const struct itd_intent *in)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_intents *t = itd_engine_intents_c(e);
	const struct itd_intent_type *ty = &s->types[in->type];
	ITD_JW_KSTR(w, "source", itd_source_name(in->source));
	ITD_JW_KNUM(w, "priority", in->priority);
	write_goal(w, s, &in->goal);
	ITD_JW_KEY(w, "params");
	itd_jw_obj_begin(w);
	for (uint32_t p = 0; p < ty->n_params; p++) {
		const struct itd_value *v = itd_intent_param(t, in, p);
		if (!v)
			continue;
		itd_jw_key(w, ty->params[p].name);
		write_value(w, v);
	}
	itd_jw_obj_end(w);
	ITD_JW_KU64(w, "created_tick", in->created_tick);
	ITD_JW_KEY(w, "deadline_tick");
	if (in->deadline_tick)
		itd_jw_u64(w, in->deadline_tick);
	else
		itd_jw_null(w);
	if (in->key[0])
		ITD_JW_KSTR(w, "idempotency_key", in->key);
	if (in->actor[0])
		ITD_JW_KSTR(w, "actor", in->actor);
}

/* policy.evaluated: every eligible intent's score and the selection. */
static void write_scores(struct itd_jw *w, const struct itd_engine *e)
{
	const struct itd_intents *t = itd_engine_intents_c(e);
	ITD_JW_KEY(w, "scores");
	itd_jw_obj_begin(w);
	for (uint32_t i = 0; i < t->n_active; i++) {
		const struct itd_intent *in = &t->rec[t->active[i]];
		if (!itd_policy_eligible(in) && in->status != ITD_ST_AUTHORIZED &&
		    in->status != ITD_ST_EXECUTING)
			continue;
		if (in->evaluations == 0)
			continue;
		itd_jw_knum(w, in->id, in->score);
	}
	itd_jw_obj_end(w);
}

static void write_critical(struct itd_jw *w, const struct itd_scenario *s, uint64_t mask)
{
	ITD_JW_KEY(w, "critical_domains");
	itd_jw_arr_begin(w);
	for (size_t i = 0; i < s->n_critical; i++)
		if (mask >> i & 1)
			itd_jw_str(w, s->domains[s->critical[i].domain]);
	itd_jw_arr_end(w);
}

void itd_tel_write_frame(struct itd_jw *w, const struct itd_engine *e)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_value *st = itd_engine_state(e);
	const struct itd_gate *g = itd_engine_gate(e);
	const struct itd_intent *x = itd_engine_executed(e);

	ITD_JW_KEY(w, "state");
	itd_jw_obj_begin(w);
	for (size_t i = 0; i < s->n_fields; i++) {
		itd_jw_key(w, s->fields[i].name);
		write_value(w, &st[i]);
	}
	ITD_JW_KSTR(w, "mode", itd_engine_mode(e));
	itd_jw_obj_end(w);

	ITD_JW_KEY(w, "policy");
	itd_jw_obj_begin(w);
	ITD_JW_KSTR(w, "selected_intent_id", g->selected ? g->selected->id : NULL);
	write_scores(w, e);
	itd_jw_obj_end(w);

	ITD_JW_KEY(w, "execution");
	itd_jw_obj_begin(w);
	ITD_JW_KSTR(w, "executed_intent_id", x ? x->id : NULL);
	ITD_JW_KBOOL(w, "override_applied", g->override_critical >= 0);
	ITD_JW_KBOOL(w, "lock_applied", g->lock_applied);
	itd_jw_obj_end(w);

	bool blocked = g->verdict == ITD_VERDICT_BLOCKED;
	ITD_JW_KEY(w, "safety");
	itd_jw_obj_begin(w);
	ITD_JW_KBOOL(w, "blocked", blocked);
	ITD_JW_KSTR(w, "blocked_intent_id", blocked ? g->pick->id : NULL);
	write_critical(w, s, g->critical);
	ITD_JW_KSTR(w, "reason", blocked ? g->rule->id : NULL);
	ITD_JW_KSTR(w, "explain", blocked ? g->explain : NULL);
	itd_jw_obj_end(w);

	uint8_t be[8];
	uint64_t h = itd_engine_state_hash(e);
	for (int i = 0; i < 8; i++)
		be[i] = (uint8_t)(h >> (56 - 8 * i));
	char hex[17];
	itd_hex(be, sizeof be, hex);
	ITD_JW_KSTR(w, "state_hash", hex);
}

/* The fields (and mode) that differ between frames a and b, with their
 * values before and after. */
static void write_changes(struct itd_jw *w, const struct itd_engine *e,
			  const struct itd_value *a, const struct itd_value *b)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	ITD_JW_KEY(w, "changes");
	itd_jw_arr_begin(w);
	for (size_t i = 0; i <= s->n_fields; i++) {
		uint32_t slot = i < s->n_fields ? (uint32_t)i : s->slots.mode;
		const struct itd_value *va = &a[slot], *vb = &b[slot];
		bool same = va->type == ITD_T_NUM  ? va->num == vb->num :
			    va->type == ITD_T_BOOL ? va->b == vb->b :
			    va->type == ITD_T_STR  ? !strcmp(va->str, vb->str) :
						     true;
		if (same)
			continue;
		itd_jw_obj_begin(w);
		ITD_JW_KSTR(w, "field", i < s->n_fields ? s->fields[i].name : "mode");
		ITD_JW_KEY(w, "before");
		write_value(w, va);
		ITD_JW_KEY(w, "after");
		write_value(w, vb);
		itd_jw_obj_end(w);
	}
	itd_jw_arr_end(w);
}

/* The payload members of ev, into an open object. */
static void write_payload(struct itd_jw *w, const struct itd_engine *e, const struct itd_event *ev)
{
	const struct itd_scenario *s = itd_engine_scenario(e);
	const struct itd_intent *in = ev->intent;
	switch (ev->kind) {
	case ITD_EV_INTENT_RECEIVED:
		write_intent_head(w, s, in);
		write_received(w, e, in);
		break;
	case ITD_EV_INTENT_REJECTED:
		if (in)
			write_intent_head(w, s, in);
		ITD_JW_KSTR(w, "reason", ev->reason);
		ITD_JW_KSTR(w, "message", ev->detail);
		break;
	case ITD_EV_INTENT_QUEUED:
		write_intent_head(w, s, in);
		ITD_JW_KSTR(w, "reason", ev->reason);
		break;
	case ITD_EV_INTENT_CANCELLED:
		write_intent_head(w, s, in);
		ITD_JW_KSTR(w, "reason", ev->reason);
		ITD_JW_KSTR(w, "actor", ev->actor);
		break;
	case ITD_EV_INTENT_BLOCKED: {
		write_intent_head(w, s, in);
		const struct itd_safety_rule *r = NULL;
		for (size_t i = 0; i < s->n_safety; i++)
			if (s->safety[i].id == ev->reason)
				r = &s->safety[i];
		ITD_JW_KSTR(w, "rule", ev->reason);
		ITD_JW_KSTR(w, "message", r ? r->message : NULL);
		ITD_JW_KSTR(w, "explain", ev->detail);
		ITD_JW_KU64(w, "blocked_ticks", ev->n);
		ITD_JW_KBOOL(w, "repeat", ev->suppressed_before);
		break;
	}
	case ITD_EV_INTENT_AUTHORIZED:
		write_intent_head(w, s, in);
		ITD_JW_KSTR(w, "reason", ev->reason);
		ITD_JW_KNUM(w, "score", in->score);
		break;
	case ITD_EV_INTENT_EXECUTED:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "executions", in->executions);
		ITD_JW_KU64(w, "attempts", in->attempts);
		break;
	case ITD_EV_INTENT_COMPLETED:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "executions", in->executions);
		ITD_JW_KU64(w, "blocked_ticks", in->blocked_ticks);
		ITD_JW_KU64(w, "active_ticks", ev->tick - in->created_tick);
		break;
	case ITD_EV_INTENT_FAILED:
		write_intent_head(w, s, in);
		ITD_JW_KSTR(w, "reason", ev->reason);
		ITD_JW_KSTR(w, "condition", ev->detail);
		ITD_JW_KU64(w, "attempts", ev->n);
		break;
	case ITD_EV_INTENT_RETRY_SCHEDULED:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "attempt", ev->n);
		ITD_JW_KU64(w, "retry_tick", ev->at_tick);
		break;
	case ITD_EV_INTENT_EXPIRED:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "deadline_tick", ev->n);
		break;
	case ITD_EV_POLICY_EVALUATED:
		ITD_JW_KSTR(w, "selected_intent_id", in ? in->id : NULL);
		ITD_JW_KEY(w, "score");
		if (in)
			itd_jw_num(w, in->score);
		else
			itd_jw_null(w);
		write_scores(w, e);
		break;
	case ITD_EV_SAFETY_OVERRIDE:
		ITD_JW_KSTR(w, "domain", ev->reason);
		write_intent_head(w, s, in);
		ITD_JW_KBOOL(w, "created", itd_engine_gate(e)->override_created);
		break;
	case ITD_EV_SAFETY_LOCK:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "ticks_left", ev->n);
		break;
	case ITD_EV_STATE_UPDATED:
		ITD_JW_KSTR(w, "cause", ev->reason);
		write_changes(w, e, itd_engine_before(e), itd_engine_state(e));
		break;
	case ITD_EV_EXECUTION_LATENCY:
		write_intent_head(w, s, in);
		ITD_JW_KU64(w, "ticks", ev->n);
		ITD_JW_KNUM(w, "ms", ev->ms);
		break;
	case ITD_EV_ENGINE_FAULT:
		ITD_JW_KSTR(w, "reason", ev->reason);
		ITD_JW_KSTR(w, "expression", ev->detail);
		ITD_JW_KU64(w, "count", ev->n);
		break;
	case ITD_EV_ENGINE_TICK:
		itd_tel_write_frame(w, e);
		break;
	case ITD_EV_ENGINE_SLIP:
		ITD_JW_KU64(w, "ticks_late", ev->n);
		ITD_JW_KNUM(w, "ms_late", ev->ms);
		break;
	case ITD_EV_CONSOLE_APPLIED: {
		ITD_JW_KSTR(w, "command", ev->reason);
		ITD_JW_KSTR(w, "actor", ev->actor);
		if (strcmp(ev->reason, "set")) {
			ITD_JW_KSTR(w, "args", ev->detail);
			break;
		}
		int f = itd_scenario_field(s, ev->detail);
		ITD_JW_KSTR(w, "field", ev->detail);
		ITD_JW_KEY(w, "value");
		if (f >= 0)
			write_value(w, &itd_engine_state(e)[f]);
		else
			itd_jw_null(w);
		ITD_JW_KBOOL(w, "fault_injection", true);
		break;
	}
	case ITD_EV_COUNT:
		break;
	}
}

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct itd_tel *t = ctx;
	struct itd_jw *w = itd_tel_begin(t, itd_event_name(ev->kind), itd_event_source(ev->kind),
					 ev->tick, ev->ts_ms);
	write_payload(w, e, ev);
	itd_tel_end(t);
}

int itd_tel_payload(struct itd_tel *t, const struct itd_engine *e, const struct itd_event *ev,
		    const struct itd_value *pre_effect, char *buf, size_t cap, size_t *len_out)
{
	struct itd_jw w;
	*len_out = 0;
	itd_jw_reset(&w, buf, cap);
	tel_jw_raw(&w, "{", 1);
	w.comma = false;
	struct tel_redactor *rd = t ? t->rd : NULL;
	if (rd)
		tel_redact_begin(&w, rd);
	write_payload(&w, e, ev);
	if (pre_effect && ev->kind == ITD_EV_INTENT_EXECUTED)
		write_changes(&w, e, pre_effect, itd_engine_state(e));
	if (tel_redact_hits(rd)) /* say what was redacted; nothing when nothing was */
		tel_redact_write_fields(&w, rd);
	tel_jw_raw(&w, "}", 1);
	if (itd_jw_overflowed(&w))
		return ITD_ELIMIT;
	*len_out = itd_jw_len(&w);
	return ITD_OK;
}

static void on_tick_end(void *ctx, const struct itd_engine *e)
{
	/* With hold_ticks the front end releases the tick (itd_tel_release). */
	itd_tel_tick_mark(ctx, itd_engine_tick(e), itd_engine_now_ms(e));
}

void itd_tel_observer(struct itd_tel *t, struct itd_observer *obs)
{
	/* Whole: a field left as the caller's garbage is a call into it. */
	*obs = (struct itd_observer){.event = on_event, .tick_end = on_tick_end, .ctx = t};
}
