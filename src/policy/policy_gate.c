/* policy_gate.c: scoring and selection, critical override, recovery lock and
 * the ordered safety rules, in the order SPEC §3 gives them. */
#include <stdio.h>
#include <string.h>

#include "policy.h"

bool itd_policy_eligible(const struct itd_intent *in)
{
	return in->status == ITD_ST_QUEUED || in->status == ITD_ST_BLOCKED;
}

static struct itd_expr_frame frame_of(const struct itd_value *global, const struct itd_intent *in)
{
	return (struct itd_expr_frame){.global = global, .intent = in ? in->frame : NULL};
}

void itd_policy_score(struct itd_intents *t, const struct itd_value *global, uint64_t tick,
		      struct itd_gate *g)
{
	const struct itd_scenario *s = t->scn;
	g->selected = NULL;
	g->selected_score = 0;
	g->n_scored = 0;
	g->candidates = 0;
	for (uint32_t i = 0; i < t->n_active; i++) {
		struct itd_intent *in = itd_intents_active(t, i);
		if (!itd_policy_eligible(in))
			continue;
		if (itd_intent_refresh(t, in, global, tick))
			g->n_faults++;
		struct itd_expr_frame fr = frame_of(global, in);
		double own = 0, adj = 0;
		if (itd_expr_eval_num(s->types[in->type].score, &fr, &own))
			g->n_faults++;
		if (s->score_adjust && itd_expr_eval_num(s->score_adjust, &fr, &adj))
			g->n_faults++;
		double score = own + adj;
		if (score != score) /* NaN never wins */
			score = -1e308;
		in->score = score;
		in->evaluations++;
		g->n_scored++;
		g->candidates = g->candidates * UINT64_C(0x100000001b3) + in->seq;
		/* Strictly greater: on a tie the earlier (active list is in
		 * creation order) keeps the slot. */
		if (!g->selected || score > g->selected_score) {
			g->selected = in;
			g->selected_score = score;
		}
	}
}

uint64_t itd_policy_critical(const struct itd_scenario *s, const struct itd_value *global,
			     uint32_t *n_faults)
{
	uint64_t mask = 0;
	struct itd_expr_frame fr = frame_of(global, NULL);
	for (size_t i = 0; i < s->n_critical; i++) {
		bool hit = false;
		if (itd_expr_eval_bool(s->critical[i].when, &fr, &hit))
			(*n_faults)++;
		if (hit)
			mask |= UINT64_C(1) << i;
	}
	return mask;
}

const struct itd_safety_rule *itd_policy_safety(const struct itd_scenario *s,
						const struct itd_intent *in,
						const struct itd_value *global, char *explain,
						size_t cap, uint32_t *n_faults)
{
	struct itd_expr_frame fr = frame_of(global, in);
	for (size_t i = 0; i < s->n_safety; i++) {
		bool block = false;
		if (itd_expr_eval_bool(s->safety[i].block_when, &fr, &block)) {
			/* A rule that cannot be evaluated fails closed. */
			(*n_faults)++;
			block = true;
		}
		if (block) {
			if (explain && cap)
				itd_expr_explain(s->safety[i].block_when, &fr, explain, cap);
			return &s->safety[i];
		}
	}
	if (explain && cap)
		explain[0] = '\0';
	return NULL;
}

/* The intent the first critical entry forces, created if absent. */
static int override_pick(struct itd_intents *t, int crit, uint64_t tick, int64_t now_ms,
			 struct itd_gate *g)
{
	uint32_t type = t->scn->critical[crit].recovery;
	struct itd_intent *in = itd_intents_active_of_type(t, type);
	if (in && (in->status == ITD_ST_BACKOFF || in->status == ITD_ST_AWAITING_APPROVAL))
		in = NULL; /* not runnable now: fall back to the normal pick */
	if (!in && !itd_intents_active_of_type(t, type)) {
		struct itd_intent_spec spec = {
			.type = type, .source = ITD_SRC_AUTONOMOUS, .received_ms = now_ms};
		char msg[128];
		int rc = itd_intents_create(t, &spec, tick, &in, msg, sizeof msg);
		if (rc)
			return rc;
		g->override_created = true;
	}
	if (in) {
		g->pick = in;
		g->override_critical = crit;
	}
	return ITD_OK;
}

int itd_policy_gate(struct itd_intents *t, struct itd_lock *lock, const struct itd_value *global,
		    uint64_t tick, int64_t now_ms, struct itd_gate *g)
{
	const struct itd_scenario *s = t->scn;
	g->pick = g->selected;
	g->override_critical = -1;
	g->override_created = false;
	g->lock_applied = false;
	g->verdict = ITD_VERDICT_NONE;
	g->rule = NULL;
	g->explain[0] = '\0';
	g->critical = itd_policy_critical(s, global, &g->n_faults);

	if (g->critical) {
		int crit = __builtin_ctzll(g->critical);
		int rc = override_pick(t, crit, tick, now_ms, g);
		if (rc) {
			g->pick = NULL;
			return rc;
		}
		lock->seq = 0; /* a critical domain ends any lock */
	} else if (lock->seq && tick <= lock->until_tick) {
		struct itd_intent *held = itd_intents_at(t, lock->seq);
		if (held && itd_policy_eligible(held)) {
			g->pick = held;
			g->lock_applied = true;
		} else {
			lock->seq = 0;
		}
	} else {
		lock->seq = 0;
	}

	struct itd_intent *in = g->pick;
	if (!in)
		return ITD_OK;
	if (itd_intent_refresh(t, in, global, tick))
		g->n_faults++;
	g->rule = itd_policy_safety(s, in, global, g->explain, sizeof g->explain, &g->n_faults);
	if (g->rule) {
		g->verdict = ITD_VERDICT_BLOCKED;
		in->blocked_ticks++;
		if (in->verdict != ITD_VERDICT_BLOCKED || in->verdict_rule != g->rule->id) {
			in->verdict_tick = tick;
			memcpy(in->explain, g->explain, sizeof in->explain);
		}
		in->verdict = ITD_VERDICT_BLOCKED;
		in->verdict_rule = g->rule->id;
		if (in->status != ITD_ST_BLOCKED)
			itd_intent_transition(t, in, ITD_ST_BLOCKED, tick, g->rule->id);
	} else {
		g->verdict = ITD_VERDICT_AUTHORIZED;
		if (in->verdict != ITD_VERDICT_AUTHORIZED)
			in->verdict_tick = tick;
		in->verdict = ITD_VERDICT_AUTHORIZED;
		in->verdict_rule = NULL;
		in->explain[0] = '\0';
		const char *why = g->override_critical >= 0 ? "override" :
				  g->lock_applied	  ? "lock" :
							    "selected";
		itd_intent_transition(t, in, ITD_ST_AUTHORIZED, tick, why);
	}
	return ITD_OK;
}

void itd_policy_lock_arm(struct itd_lock *lock, const struct itd_scenario *s,
			 const struct itd_intent *in, uint64_t tick, bool was_locked)
{
	if (was_locked || !s->recovery_lock_ticks || s->types[in->type].recovers < 0)
		return;
	lock->seq = in->seq;
	lock->until_tick = tick + s->recovery_lock_ticks;
}
