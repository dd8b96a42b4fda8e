/* engine_core.c: engine lifetime, the tick driver, state hashing and the
 * read-only queries the outer layers use. */
#include <math.h>
#include <string.h>

#include "engine_int.h"

static const char *const event_names[ITD_EV_COUNT] = {
#define ITD_EV_NAME(id, name, source) [ITD_EV_##id] = name,
	ITD_EVENTS(ITD_EV_NAME)
#undef ITD_EV_NAME
};

static const char *const event_sources[ITD_EV_COUNT] = {
#define ITD_EV_SRC(id, name, source) [ITD_EV_##id] = source,
	ITD_EVENTS(ITD_EV_SRC)
#undef ITD_EV_SRC
};

const char *itd_event_name(enum itd_event_kind k)
{
	return (unsigned)k < ITD_EV_COUNT ? event_names[k] : "?";
}

const char *itd_event_source(enum itd_event_kind k)
{
	return (unsigned)k < ITD_EV_COUNT ? event_sources[k] : "?";
}

/* Hash of the full state: one 64-bit word per global slot (the type in
 * the top byte's place is mixed in by position: a number's bits, a bool,
 * or the hash of a string's bytes), hashed in one call.  -0 hashes as 0. */
uint64_t itd_engine_hash_state(const struct itd_engine *e)
{
	const struct itd_slots *sl = &e->scn->slots;
	uint64_t *w = e->hash_words;
	for (uint32_t i = 0; i < sl->n_global; i++) {
		const struct itd_value *v = &e->global[i];
		switch (v->type) {
		case ITD_T_NUM: {
			double d = v->num == 0 ? 0.0 : v->num;
			memcpy(&w[i], &d, sizeof d);
			break;
		}
		case ITD_T_BOOL:
			w[i] = UINT64_C(0xb001) + v->b;
			break;
		case ITD_T_STR:
			w[i] = itd_hash64(v->str, strlen(v->str), 0x57a7e);
			break;
		case ITD_T_NONE:
			w[i] = 0;
			break;
		}
	}
	return itd_hash64(w, sl->n_global * sizeof *w, 0);
}

int itd_engine_create(const struct itd_engine_config *cfg, struct itd_engine **out)
{
	const struct itd_scenario *s = cfg->scn;
	*out = NULL;
	struct itd_engine *e = itd_calloc(1, sizeof *e);
	if (!e)
		return ITD_ENOMEM;
	e->scn = s;
	e->replay_ms = INT64_MIN;
	itd_clock_init(&e->clock, cfg->clock, cfg->rate_hz > 0 ? cfg->rate_hz : s->rate_hz);
	if (cfg->obs)
		e->obs = *cfg->obs;
	e->state_lock = cfg->state_lock;
	size_t ng = s->slots.n_global;
	e->global = itd_calloc(ng, sizeof *e->global);
	e->before = itd_calloc(ng, sizeof *e->before);
	e->scratch = itd_calloc(ng, sizeof *e->scratch);
	e->draining = itd_calloc(s->intake_capacity + ITD_INTAKE_CONTROL, sizeof *e->draining);
	e->blocks_by_rule = itd_calloc(s->n_safety ? s->n_safety : 1, sizeof *e->blocks_by_rule);
	e->hash_words = itd_calloc(ng, sizeof *e->hash_words);
	if (!e->global || !e->before || !e->scratch || !e->draining || !e->blocks_by_rule ||
	    !e->hash_words)
		goto fail;
	if (itd_intents_init(&e->intents, s))
		goto fail;
	if (itd_intake_init(&e->intake, s->intake_capacity))
		goto fail;

	for (size_t i = 0; i < s->n_fields; i++)
		e->global[i] = s->fields[i].initial;
	e->global[s->slots.mode] =
		(struct itd_value){.type = ITD_T_STR, .str = s->modes[s->initial_mode]};
	e->global[s->slots.tick] = (struct itd_value){.type = ITD_T_NUM, .num = 0};
	memcpy(e->before, e->global, ng * sizeof *e->global);
	itd_rng_seed(&e->rng_retry, cfg->seed, "retry");
	e->state_hash = itd_engine_hash_state(e);
	*out = e;
	return ITD_OK;
fail:
	itd_engine_destroy(e);
	return ITD_ENOMEM;
}

void itd_engine_destroy(struct itd_engine *e)
{
	if (!e)
		return;
	if (e->intake.slots)
		itd_intake_fini(&e->intake);
	itd_intents_fini(&e->intents);
	itd_free(e->global);
	itd_free(e->before);
	itd_free(e->scratch);
	itd_free(e->draining);
	itd_free(e->blocks_by_rule);
	itd_free(e->hash_words);
	itd_free(e);
}

int itd_engine_step(struct itd_engine *e)
{
	const struct itd_slots *sl = &e->scn->slots;
	if (e->obs.tick_end || e->obs.after_tick)
		e->tick_t0 = itd_clock_mono_ns();
	e->tick++;
	e->now_ms = e->replay_ms != INT64_MIN ? e->replay_ms : itd_clock_tick_ms(&e->clock, e->tick);
	e->replay_ms = INT64_MIN;
	memcpy(e->before, e->global, sl->n_global * sizeof *e->global);
	e->global[sl->tick].num = (double)e->tick;
	e->executed = NULL;
	e->fault_src = NULL;
	itd_intents_attempts_reset(&e->intents);
	uint64_t faults_before = e->stats.faults;

	itd_engine_phase_intake(e);
	itd_engine_phase_dynamics(e);
	itd_engine_phase_autonomy(e);
	itd_engine_phase_gate(e); /* policy and safety */
	itd_engine_phase_execute(e);

	e->state_hash = itd_engine_hash_state(e);
	e->stats.ticks++;
	if (e->stats.faults != faults_before) {
		struct itd_event ev = {.kind = ITD_EV_ENGINE_FAULT,
				       .n = e->stats.faults - faults_before,
				       .reason = "expression_not_finite",
				       .detail = e->fault_src};
		itd_engine_emit(e, &ev);
	}
	itd_engine_phase_report(e);
	e->slip_ns = 0;
	e->replay_ms = INT64_MIN;
	/* A replay's attempts list governs only the tick it was given for. */
	itd_intents_forcing_end(&e->intents);
	return ITD_OK;
}

void itd_engine_set_plant(struct itd_engine *e, const struct itd_plant *p)
{
	if (p)
		e->plant = *p;
	else
		memset(&e->plant, 0, sizeof e->plant);
}

struct itd_value itd_plant_get(const struct itd_engine *e, uint32_t field)
{
	if (field >= e->scn->n_fields)
		return (struct itd_value){.type = ITD_T_NONE};
	return e->global[field];
}

int itd_plant_set(struct itd_engine *e, uint32_t field, struct itd_value v)
{
	if (field >= e->scn->n_fields || v.type != e->scn->fields[field].type)
		return ITD_EINVAL;
	const struct itd_field *f = &e->scn->fields[field];
	if (v.type == ITD_T_NUM && !isfinite(v.num)) {
		e->stats.faults++;
		return ITD_ERANGE;
	}
	/* Strings must outlive the tick: only the field's declared values
	 * (owned by the scenario) are accepted. */
	if (v.type == ITD_T_STR && !(v.str = itd_field_value(f, v.str)))
		return ITD_EINVAL;
	e->global[field] = itd_field_clamp(f, v);
	return ITD_OK;
}

uint64_t itd_engine_tick_start_ns(const struct itd_engine *e)
{
	return e->tick_t0;
}

uint64_t itd_engine_tick(const struct itd_engine *e)
{
	return e->tick;
}

int64_t itd_engine_now_ms(const struct itd_engine *e)
{
	return e->now_ms;
}

const struct itd_scenario *itd_engine_scenario(const struct itd_engine *e)
{
	return e->scn;
}

const struct itd_value *itd_engine_state(const struct itd_engine *e)
{
	return e->global;
}

const struct itd_value *itd_engine_before(const struct itd_engine *e)
{
	return e->before;
}

const char *itd_engine_mode(const struct itd_engine *e)
{
	return e->global[e->scn->slots.mode].str;
}

const struct itd_gate *itd_engine_gate(const struct itd_engine *e)
{
	return &e->gate;
}

const struct itd_intent *itd_engine_executed(const struct itd_engine *e)
{
	return e->executed;
}

uint64_t itd_engine_state_hash(const struct itd_engine *e)
{
	return e->state_hash;
}

struct itd_intents *itd_engine_intents(struct itd_engine *e)
{
	return &e->intents;
}

const struct itd_intents *itd_engine_intents_c(const struct itd_engine *e)
{
	return &e->intents;
}

void itd_engine_stats(const struct itd_engine *e, struct itd_engine_stats *out)
{
	*out = e->stats;
	out->rejected += e->intents.n_rejected;
	pthread_mutex_lock((pthread_mutex_t *)&e->intake.lock);
	out->intake_full = e->intake.full;
	pthread_mutex_unlock((pthread_mutex_t *)&e->intake.lock);
}

uint64_t itd_engine_blocks_by_rule(const struct itd_engine *e, size_t rule)
{
	return rule < e->scn->n_safety ? e->blocks_by_rule[rule] : 0;
}
