/* intent_frame.c: an intent's expression slots: the counters and goal value
 * refreshed before each evaluation, its type's vars, its parameters; and
 * retry backoff. */
#include <math.h>

#include "intent.h"

int itd_intent_refresh(struct itd_intents *t, struct itd_intent *in,
		       const struct itd_value *global, uint64_t tick)
{
	const struct itd_scenario *s = t->scn;
	const struct itd_slots *sl = &s->slots;
	struct itd_value *f = in->frame;
	f[sl->i_age].type = ITD_T_NUM;
	f[sl->i_age].num = (double)(tick - in->created_tick);
	f[sl->i_evaluations].type = ITD_T_NUM;
	f[sl->i_evaluations].num = (double)in->evaluations;
	f[sl->i_blocked_ticks].type = ITD_T_NUM;
	f[sl->i_blocked_ticks].num = (double)in->blocked_ticks;
	f[sl->i_executions].type = ITD_T_NUM;
	f[sl->i_executions].num = (double)in->executions;
	f[sl->i_attempts].type = ITD_T_NUM;
	f[sl->i_attempts].num = (double)in->attempts;
	f[sl->i_goal_value].type = ITD_T_NUM;
	f[sl->i_goal_value].num = in->goal.present ? global[in->goal.metric].num : 0.0;

	const struct itd_intent_type *ty = &s->types[in->type];
	if (in->frame_gen == t->gen && t->gen)
		return ITD_OK; /* vars already computed against this state */
	in->frame_gen = t->gen;
	const struct itd_expr_frame fr = {.global = global, .intent = f};
	int rc = ITD_OK;
	for (size_t v = 0; v < ty->n_vars; v++) {
		struct itd_value out;
		if (itd_expr_eval(ty->vars[v].expr, &fr, &out)) {
			rc = ITD_ERANGE;
			continue;
		}
		f[ty->vars[v].slot & ~ITD_SLOT_INTENT] = out;
	}
	return rc;
}

const struct itd_value *itd_intent_param(const struct itd_intents *t,
					 const struct itd_intent *in, uint32_t param)
{
	const struct itd_intent_type *ty = &t->scn->types[in->type];
	if (param >= ty->n_params)
		return NULL;
	const struct itd_value *v = &in->frame[ty->params[param].slot & ~ITD_SLOT_INTENT];
	return v->type == ITD_T_NONE ? NULL : v;
}

uint64_t itd_intent_backoff(const struct itd_retry *p, uint64_t attempt, struct itd_rng *rng)
{
	double b = p->base_ticks * pow(p->factor, (double)(attempt >= 2 ? attempt - 2 : 0));
	if (b > p->max_ticks)
		b = p->max_ticks;
	if (p->jitter > 0) {
		/* Uniform in [b(1 - j), b(1 + j)], then capped again. */
		double u = itd_rng_uniform(rng) * 2.0 - 1.0;
		b += b * p->jitter * u;
		if (b > p->max_ticks)
			b = p->max_ticks;
	}
	uint64_t ticks = (uint64_t)llround(b);
	return ticks ? ticks : 1;
}
