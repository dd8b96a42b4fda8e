/* engine_tick.c: the phases of one tick (the list and their order are at
 * the top of engine.h).  Each phase reads and writes the engine's frames in
 * place; nothing here allocates or blocks. */
#include <string.h>

#include "engine_int.h"

static void fault(struct itd_engine *e, const struct itd_expr *x)
{
	e->stats.faults++;
	e->fault_src = itd_expr_source(x);
}

struct itd_intent *itd_engine_create_intent(struct itd_engine *e,
					     const struct itd_intent_spec *spec)
{
	struct itd_intent *in = NULL;
	char msg[160];
	int rc = itd_intents_create(&e->intents, spec, e->tick, &in, msg, sizeof msg);
	if (rc == ITD_EEXISTS)
		return in; /* the same submission again: the original stands */
	if (rc) {
		struct itd_event ev = {.kind = ITD_EV_INTENT_REJECTED,
				       .reason = itd_err_name(rc), .detail = msg};
		itd_engine_emit(e, &ev);
		return NULL;
	}
	struct itd_event ev = {.kind = ITD_EV_INTENT_RECEIVED, .intent = in,
			       .reason = itd_source_name(in->source)};
	itd_engine_emit(e, &ev);
	ev.kind = ITD_EV_INTENT_QUEUED;
	ev.reason = "accepted";
	itd_engine_emit(e, &ev);
	return in;
}

/* Apply assignments simultaneously: all read the state before any is
 * written.  A result that is not finite keeps the field's old value. */
static void assign_all(struct itd_engine *e, const struct itd_assign *as, size_t n,
		       const struct itd_intent *in)
{
	const struct itd_expr_frame fr = {.global = e->global, .intent = in ? in->frame : NULL};
	for (size_t i = 0; i < n; i++) {
		if (itd_expr_eval(as[i].to, &fr, &e->scratch[i])) {
			fault(e, as[i].to);
			e->scratch[i] = e->global[as[i].field];
		}
	}
	for (size_t i = 0; i < n; i++)
		e->global[as[i].field] = itd_field_clamp(&e->scn->fields[as[i].field], e->scratch[i]);
	e->intents.gen++;
}

static void apply_input(struct itd_engine *e, struct itd_input *inp)
{
	switch (inp->kind) {
	case ITD_IN_SUBMIT: {
		for (size_t i = 0; i < inp->sub.n_params; i++)
			if (inp->params[i].value.type == ITD_T_STR)
				inp->params[i].value.str = inp->str + inp->str_off[i];
		struct itd_intent_spec spec = {
			.seq = inp->seq, .reserved = true,
			.type = inp->sub.type, .source = inp->sub.source,
			.priority = inp->sub.priority, .goal = inp->sub.goal,
			.params = inp->params, .n_params = inp->sub.n_params,
			.deadline_ticks = inp->sub.deadline_ticks,
			.idempotency_key = inp->key, .body_hash = inp->sub.body_hash,
			.received_ms = e->clock.mode == ITD_CLOCK_SIM ? e->now_ms : inp->received_ms,
			.actor = inp->actor[0] ? inp->actor : NULL};
		itd_engine_create_intent(e, &spec);
		break;
	}
	case ITD_IN_CANCEL: {
		struct itd_intent *in = itd_intents_get(&e->intents, inp->target);
		const char *reason = itd_engine_reason(e, inp->reason);
		if (!in || itd_status_terminal(in->status) ||
		    itd_intent_transition(&e->intents, in, ITD_ST_CANCELLED, e->tick, reason)) {
			struct itd_event ev = {.kind = ITD_EV_INTENT_REJECTED,
					       .intent = in,
					       .reason = in ? "cancel_not_active" : "cancel_not_found",
					       .detail = inp->target};
			e->stats.rejected++;
			itd_engine_emit(e, &ev);
			break;
		}
		struct itd_event ev = {.kind = ITD_EV_INTENT_CANCELLED, .intent = in,
				       .reason = reason,
				       .actor = inp->actor[0] ? inp->actor : NULL};
		itd_engine_emit(e, &ev);
		break;
	}
	case ITD_IN_SET: {
		const struct itd_field *f = &e->scn->fields[inp->field];
		e->global[inp->field] = itd_field_clamp(f, inp->value);
		struct itd_event ev = {.kind = ITD_EV_CONSOLE_APPLIED, .reason = "set",
				       .detail = f->name,
				       .actor = inp->actor[0] ? inp->actor : NULL};
		itd_engine_emit(e, &ev);
		break;
	}
	case ITD_IN_CONSOLE: {
		if (inp->cmd == ITD_CONSOLE_PAUSE)
			__atomic_store_n(&e->paused, true, __ATOMIC_RELEASE);
		struct itd_event ev = {.kind = ITD_EV_CONSOLE_APPLIED,
				       .reason = itd_console_name(inp->cmd), .detail = inp->args,
				       .actor = inp->actor[0] ? inp->actor : NULL};
		itd_engine_emit(e, &ev);
		break;
	}
	}
}

void itd_engine_phase_intake(struct itd_engine *e)
{
	const struct itd_scenario *s = e->scn;
	if (!e->initial_applied) {
		e->initial_applied = true;
		for (size_t i = 0; i < s->n_intents; i++) {
			const struct itd_initial_intent *ii = &s->intents[i];
			struct itd_intent_spec spec = {
				.type = ii->type, .source = ITD_SRC_GROUND,
				.priority = ii->priority, .goal = ii->goal,
				.params = ii->params, .n_params = ii->n_params,
				.deadline_ticks = ii->deadline_ticks,
				.idempotency_key = ii->idempotency_key, .received_ms = e->now_ms};
			itd_engine_create_intent(e, &spec);
		}
	}
	uint32_t n = itd_intake_take(&e->intake, e->draining, e->tick);
	for (uint32_t i = 0; i < n; i++) {
		apply_input(e, &e->draining[i]);
		e->last_arrival = e->draining[i].arrival;
	}

	/* Retries whose backoff has ended compete again from this tick. */
	for (uint32_t i = 0; i < e->intents.n_active; i++) {
		struct itd_intent *in = itd_intents_active(&e->intents, i);
		if (in->status != ITD_ST_BACKOFF || in->retry_tick > e->tick)
			continue;
		itd_intent_transition(&e->intents, in, ITD_ST_QUEUED, e->tick, "retry");
		struct itd_event ev = {.kind = ITD_EV_INTENT_QUEUED, .intent = in,
				       .reason = "retry", .n = in->attempts + 1};
		itd_engine_emit(e, &ev);
	}
}

void itd_engine_phase_dynamics(struct itd_engine *e)
{
	const struct itd_scenario *s = e->scn;
	assign_all(e, s->dynamics, s->n_dynamics, NULL);
	if (e->plant.dynamics)
		e->plant.dynamics(e->plant.ctx, e, e->tick);
	const struct itd_expr_frame fr = {.global = e->global, .intent = NULL};
	for (size_t i = 0; i < s->n_mode_rules; i++) {
		bool hit = false;
		if (itd_expr_eval_bool(s->mode_rules[i].when, &fr, &hit))
			fault(e, s->mode_rules[i].when);
		if (hit) {
			e->global[s->slots.mode].str = s->modes[s->mode_rules[i].to];
			break;
		}
	}
	e->intents.gen++; /* a new tick, possibly a new mode */
}

void itd_engine_phase_autonomy(struct itd_engine *e)
{
	const struct itd_scenario *s = e->scn;
	const struct itd_expr_frame fr = {.global = e->global, .intent = NULL};
	for (size_t i = 0; i < s->n_inject; i++) {
		const struct itd_inject *ij = &s->inject[i];
		bool hit = false;
		if (itd_expr_eval_bool(ij->when, &fr, &hit))
			fault(e, ij->when);
		if (!hit || itd_intents_active_of_type(&e->intents, ij->type))
			continue;
		struct itd_intent_spec spec = {.type = ij->type, .source = ITD_SRC_AUTONOMOUS,
					       .priority = ij->priority, .goal = ij->goal,
					       .received_ms = e->now_ms};
		itd_engine_create_intent(e, &spec);
	}
}

/* Report a block: on a verdict or reason change, then at most every
 * block_report_every ticks; every blocked tick is counted regardless. */
static void report_block(struct itd_engine *e, struct itd_intent *in)
{
	uint32_t every = e->scn->block_report_every;
	bool changed = in->verdict_tick == e->tick;
	if (!changed && every && e->tick - in->reported_tick < every) {
		e->stats.events_suppressed++;
		return;
	}
	struct itd_event ev = {.kind = ITD_EV_INTENT_BLOCKED, .intent = in,
			       .reason = in->verdict_rule, .detail = in->explain,
			       .n = in->blocked_ticks,
			       .suppressed_before = !changed};
	in->reported_tick = e->tick;
	itd_engine_emit(e, &ev);
}

/* An intent whose completion condition already holds (the dynamics or
 * another intent reached its goal) completes without executing: running
 * it again could only overshoot, e.g. a recovery whose target has moved. */
static void settle_met_goals(struct itd_engine *e)
{
	struct itd_intents *t = &e->intents;
	const struct itd_expr_frame base = {.global = e->global};
	/* Backwards by index, so the intents that end here may stay in the
	 * list until the one pass at the end (a tick may settle thousands). */
	itd_intents_defer(t);
	for (uint32_t i = t->n_active; i-- > 0;) {
		struct itd_intent *in = itd_intents_active(t, i);
		const struct itd_expr *cw = e->scn->types[in->type].complete_when;
		if (!cw || !itd_policy_eligible(in))
			continue;
		if (itd_intent_refresh(t, in, e->global, e->tick))
			e->stats.faults++;
		struct itd_expr_frame fr = base;
		fr.intent = in->frame;
		bool done = false;
		if (itd_expr_eval_bool(cw, &fr, &done)) {
			fault(e, cw);
			continue;
		}
		if (!done)
			continue;
		itd_intent_transition(t, in, ITD_ST_COMPLETED, e->tick, "goal_met");
		struct itd_event c = {.kind = ITD_EV_INTENT_COMPLETED, .intent = in,
				      .reason = "goal_met", .n = in->executions};
		itd_engine_emit(e, &c);
	}
	itd_intents_undefer(t);
}

void itd_engine_phase_gate(struct itd_engine *e)
{
	struct itd_gate *g = &e->gate;
	g->n_faults = 0;
	settle_met_goals(e);
	itd_policy_score(&e->intents, e->global, e->tick, g);
	/* Reported when the selection or the set of candidates changes; the
	 * engine.tick frame carries every tick's scores. */
	uint64_t sel = g->selected ? g->selected->seq : 0;
	if (sel != e->last_selected || g->candidates != e->last_candidates) {
		e->last_selected = sel;
		e->last_candidates = g->candidates;
		struct itd_event ev = {.kind = ITD_EV_POLICY_EVALUATED, .intent = g->selected};
		itd_engine_emit(e, &ev);
	}

	int rc = itd_policy_gate(&e->intents, &e->lock, e->global, e->tick, e->now_ms, g);
	e->stats.faults += g->n_faults;
	if (rc) {
		struct itd_event rej = {.kind = ITD_EV_INTENT_REJECTED, .reason = itd_err_name(rc),
					.detail = "critical override could not create its recovery"};
		itd_engine_emit(e, &rej);
	}
	struct itd_intent *in = g->pick;
	if (!in)
		return;
	if (g->override_created) {
		struct itd_event c = {.kind = ITD_EV_INTENT_RECEIVED, .intent = in,
				      .reason = itd_source_name(in->source)};
		itd_engine_emit(e, &c);
		c.kind = ITD_EV_INTENT_QUEUED;
		c.reason = "override";
		itd_engine_emit(e, &c);
	}
	if (g->override_critical >= 0) {
		struct itd_event o = {
			.kind = ITD_EV_SAFETY_OVERRIDE, .intent = in,
			.reason = e->scn->domains[e->scn->critical[g->override_critical].domain]};
		itd_engine_emit(e, &o);
	}
	if (g->lock_applied) {
		struct itd_event l = {.kind = ITD_EV_SAFETY_LOCK, .intent = in,
				      .n = e->lock.until_tick - e->tick};
		itd_engine_emit(e, &l);
	}
	if (g->verdict == ITD_VERDICT_BLOCKED) {
		e->stats.blocks++;
		e->blocks_by_rule[g->rule - e->scn->safety]++;
		report_block(e, in);
	} else if (g->verdict == ITD_VERDICT_AUTHORIZED) {
		struct itd_event a = {.kind = ITD_EV_INTENT_AUTHORIZED, .intent = in};
		a.reason = g->override_critical >= 0 ? "override" :
			   g->lock_applied	     ? "lock" :
						       "selected";
		itd_engine_emit(e, &a);
	}
}

/* After an execution: failure (with retry) or completion, else queued.
 * plant_failed: the plant's effect callback reported failure. */
static void settle(struct itd_engine *e, struct itd_intent *in, bool plant_failed)
{
	const struct itd_intent_type *ty = &e->scn->types[in->type];
	struct itd_intents *t = &e->intents;
	if (itd_intent_refresh(t, in, e->global, e->tick))
		e->stats.faults++;
	const struct itd_expr_frame fr = {.global = e->global, .intent = in->frame};
	bool failed = false, done = true;
	if (ty->fail_when && itd_expr_eval_bool(ty->fail_when, &fr, &failed)) {
		fault(e, ty->fail_when);
		failed = true; /* fail closed */
	}
	const char *why = plant_failed ? "plant_effect" : "fail_when";
	const char *cond = plant_failed ? "plant effect callback" :
			   ty->fail_when ? itd_expr_source(ty->fail_when) : NULL;
	failed |= plant_failed;
	if (failed) {
		if (in->attempts < ty->retry.max_attempts) {
			uint64_t wait = itd_intent_backoff(&ty->retry, in->attempts + 1, &e->rng_retry);
			in->retry_tick = e->tick + wait;
			itd_intent_transition(t, in, ITD_ST_BACKOFF, e->tick, why);
			struct itd_event f = {.kind = ITD_EV_INTENT_FAILED, .intent = in,
					      .reason = why, .detail = cond, .n = in->attempts};
			itd_engine_emit(e, &f);
			struct itd_event r = {.kind = ITD_EV_INTENT_RETRY_SCHEDULED, .intent = in,
					      .n = in->attempts + 1, .at_tick = in->retry_tick};
			itd_engine_emit(e, &r);
		} else {
			itd_intent_transition(t, in, ITD_ST_FAILED, e->tick, why);
			struct itd_event f = {.kind = ITD_EV_INTENT_FAILED, .intent = in,
					      .reason = "attempts_exhausted", .detail = cond,
					      .n = in->attempts};
			itd_engine_emit(e, &f);
		}
		return;
	}
	if (ty->complete_when && itd_expr_eval_bool(ty->complete_when, &fr, &done)) {
		fault(e, ty->complete_when);
		done = false;
	}
	if (done) {
		itd_intent_transition(t, in, ITD_ST_COMPLETED, e->tick, "complete_when");
		struct itd_event c = {.kind = ITD_EV_INTENT_COMPLETED, .intent = in,
				      .reason = "complete_when", .n = in->executions};
		itd_engine_emit(e, &c);
	} else {
		itd_intent_transition(t, in, ITD_ST_QUEUED, e->tick, "executed");
	}
}

void itd_engine_phase_execute(struct itd_engine *e)
{
	struct itd_gate *g = &e->gate;
	struct itd_intents *t = &e->intents;
	if (g->verdict == ITD_VERDICT_AUTHORIZED) {
		struct itd_intent *in = g->pick;
		const struct itd_intent_type *ty = &e->scn->types[in->type];
		itd_intent_transition(t, in, ITD_ST_EXECUTING, e->tick, "effect");
		assign_all(e, ty->effect, ty->n_effect, in);
		bool plant_failed = e->plant.effect && e->plant.effect(e->plant.ctx, e, in) != 0;
		e->intents.gen++;
		in->executions++;
		in->attempts++;
		e->stats.executions++;
		e->executed = in;
		struct itd_event x = {.kind = ITD_EV_INTENT_EXECUTED, .intent = in,
				      .n = in->executions};
		itd_engine_emit(e, &x);
		if (!in->first_exec_tick) {
			in->first_exec_tick = e->tick;
			struct itd_event l = {.kind = ITD_EV_EXECUTION_LATENCY, .intent = in,
					      .n = e->tick - in->created_tick,
					      .ms = (double)(e->now_ms - in->received_ms)};
			itd_engine_emit(e, &l);
		}
		itd_policy_lock_arm(&e->lock, e->scn, in, e->tick, g->lock_applied);
		settle(e, in, plant_failed);
	}

	/* Deadlines: an active intent past its deadline expires.  Walk
	 * backwards, so the expired may stay in the list until the one pass
	 * at the end. */
	itd_intents_defer(t);
	for (uint32_t i = t->n_active; i-- > 0;) {
		struct itd_intent *in = itd_intents_active(t, i);
		if (!in->deadline_tick || e->tick <= in->deadline_tick)
			continue;
		if (itd_intent_transition(t, in, ITD_ST_EXPIRED, e->tick, "deadline"))
			continue;
		struct itd_event x = {.kind = ITD_EV_INTENT_EXPIRED, .intent = in,
				      .reason = "deadline", .n = in->deadline_tick};
		itd_engine_emit(e, &x);
	}
	itd_intents_undefer(t);
}

/* Phase 8 (persist): the tick's journal record, after its last event and
 * before the observer's tick_end, so a front end can hold the tick's
 * telemetry back until the record is durable. */
static void journal_tick(struct itd_engine *e)
{
	if (e->journal.tick)
		e->journal.tick(e->journal.ctx, e->tick, e->last_arrival, e->state_hash,
				e->intents.attempts, e->intents.n_attempts);
}

void itd_engine_phase_report(struct itd_engine *e)
{
	e->tick_slip_ns = e->slip_ns;
	if (!e->obs.event) {
		e->slip_ns = 0;
		journal_tick(e);
		if (e->obs.tick_end)
			e->obs.tick_end(e->obs.ctx, e);
		return;
	}
	const struct itd_slots *sl = &e->scn->slots;
	bool changed = false;
	for (uint32_t i = 0; i < sl->n_global && !changed; i++) {
		if (i == sl->tick)
			continue;
		const struct itd_value *a = &e->before[i], *b = &e->global[i];
		switch (a->type) {
		case ITD_T_NUM:
			changed = a->num != b->num;
			break;
		case ITD_T_BOOL:
			changed = a->b != b->b;
			break;
		case ITD_T_STR:
			changed = a->str != b->str && strcmp(a->str, b->str);
			break;
		case ITD_T_NONE:
			break;
		}
	}
	if (changed) {
		struct itd_event u = {.kind = ITD_EV_STATE_UPDATED, .intent = e->executed,
				      .reason = e->executed ? e->executed->id : "dynamics"};
		itd_engine_emit(e, &u);
	}
	if (e->slip_ns) {
		struct itd_event sl_ev = {.kind = ITD_EV_ENGINE_SLIP,
					  .n = e->slip_ns / e->clock.period_ns,
					  .ms = (double)e->slip_ns / 1e6};
		itd_engine_emit(e, &sl_ev);
		e->slip_ns = 0;
	}
	struct itd_event tk = {.kind = ITD_EV_ENGINE_TICK};
	itd_engine_emit(e, &tk);
	journal_tick(e);
	if (e->obs.tick_end)
		e->obs.tick_end(e->obs.ctx, e);
}
