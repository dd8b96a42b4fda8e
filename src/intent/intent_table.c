/* intent_table.c: the table of every intent of a run: fixed pools sized at
 * load, deterministic ids, creation with validation, lookups and the
 * idempotency-key index. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "intent_int.h"

int itd_intents_init(struct itd_intents *t, const struct itd_scenario *scn)
{
	memset(t, 0, sizeof *t);
	t->scn = scn;
	t->cap = scn->max_intents;
	t->hist_cap = scn->history_per_intent < 4 ? 4 : scn->history_per_intent;
	size_t n_slots = scn->slots.n_intent ? scn->slots.n_intent : 1;
	/* Keys are held by records (at most cap) and by reservations of
	 * queued submissions (at most cap more): at 4 x cap the open-addressed
	 * index is never more than half full, so a probe always ends. */
	t->n_keys_cap = 16;
	while (t->n_keys_cap < 4 * (uint64_t)t->cap)
		t->n_keys_cap <<= 1;
	t->n_map = t->n_keys_cap;

	t->rec = itd_calloc(t->cap, sizeof *t->rec);
	t->active = itd_calloc(t->cap, sizeof *t->active);
	t->hist_pool = itd_calloc(t->cap * t->hist_cap, sizeof *t->hist_pool);
	t->frame_pool = itd_calloc(t->cap * n_slots, sizeof *t->frame_pool);
	t->keys = itd_calloc(t->n_keys_cap, sizeof *t->keys);
	t->free = itd_calloc(t->cap, sizeof *t->free);
	t->done = itd_calloc(t->cap, sizeof *t->done);
	t->by_seq = itd_calloc(t->n_map, sizeof *t->by_seq);
	/* A tick's own creations: the scenario's initial intents, one per
	 * injection rule, one override. */
	t->cap_forced = scn->n_intents + scn->n_inject + 2;
	t->forced = itd_calloc(t->cap_forced, sizeof *t->forced);
	t->attempts = itd_calloc(t->cap_forced, sizeof *t->attempts);
	if (!t->rec || !t->active || !t->hist_pool || !t->frame_pool || !t->keys || !t->free ||
	    !t->done || !t->by_seq || !t->forced || !t->attempts)
		goto fail;
	for (uint64_t i = 0; i < t->cap; i++) {
		t->rec[i].hist = &t->hist_pool[i * t->hist_cap];
		t->rec[i].frame = &t->frame_pool[i * n_slots];
		/* Hand out record 0 first: the stack pops from the top. */
		t->free[t->cap - 1 - i] = (uint32_t)i;
	}
	t->n_free = (uint32_t)t->cap;
	if (pthread_mutex_init(&t->lock, NULL))
		goto fail;
	t->lock_ready = true;
	return ITD_OK;
fail:
	itd_intents_fini(t);
	return ITD_ENOMEM;
}

void itd_intents_fini(struct itd_intents *t)
{
	itd_free(t->rec);
	itd_free(t->active);
	itd_free(t->hist_pool);
	itd_free(t->frame_pool);
	itd_free(t->keys);
	itd_free(t->free);
	itd_free(t->done);
	itd_free(t->by_seq);
	itd_free(t->forced);
	itd_free(t->attempts);
	if (t->lock_ready)
		pthread_mutex_destroy(&t->lock);
	memset(t, 0, sizeof *t);
}

/* ------------------------------------------------- seq -> record map */

static uint64_t seq_hash(uint64_t seq)
{
	return seq * UINT64_C(0x9E3779B97F4A7C15) >> 17;
}

static uint32_t map_find(const struct itd_intents *t, uint64_t seq)
{
	uint64_t mask = t->n_map - 1;
	for (uint64_t i = seq_hash(seq) & mask;; i = (i + 1) & mask) {
		uint32_t r = t->by_seq[i];
		if (!r || t->rec[r - 1].seq == seq)
			return r;
	}
}

static void map_insert(struct itd_intents *t, uint64_t seq, uint32_t idx)
{
	uint64_t mask = t->n_map - 1;
	uint64_t i = seq_hash(seq) & mask;
	while (t->by_seq[i])
		i = (i + 1) & mask;
	t->by_seq[i] = idx + 1;
}

/* Remove seq (linear probing, backward-shift deletion). */
static void map_remove(struct itd_intents *t, uint64_t seq)
{
	uint64_t mask = t->n_map - 1;
	uint64_t i = seq_hash(seq) & mask;
	while (t->by_seq[i] && t->rec[t->by_seq[i] - 1].seq != seq)
		i = (i + 1) & mask;
	if (!t->by_seq[i])
		return;
	for (uint64_t j = (i + 1) & mask; t->by_seq[j]; j = (j + 1) & mask) {
		uint64_t home = seq_hash(t->rec[t->by_seq[j] - 1].seq) & mask;
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->by_seq[i] = t->by_seq[j];
			i = j;
		}
	}
	t->by_seq[i] = 0;
}

void itd_intents_archived(struct itd_intents *t, const struct itd_intent *in)
{
	uint32_t idx = (uint32_t)(in - t->rec);
	t->done[(t->done_head + t->n_done) % t->cap] = idx;
	t->n_done++;
}

/* A record for a new intent: a never-used one, else the oldest terminal
 * one (evicted from memory); NULL if every record holds an active intent. */
static struct itd_intent *take_record(struct itd_intents *t)
{
	if (t->n_free)
		return &t->rec[t->free[--t->n_free]];
	if (!t->n_done)
		return NULL;
	struct itd_intent *in = &t->rec[t->done[t->done_head]];
	t->done_head = (t->done_head + 1) % (uint32_t)t->cap;
	t->n_done--;
	map_remove(t, in->seq);
	if (in->key[0]) {
		pthread_mutex_lock(&t->lock);
		itd_keys_remove(t, in->key);
		pthread_mutex_unlock(&t->lock);
	}
	t->n_evicted++;
	return in;
}

int itd_intents_validate(const struct itd_intents *t, const struct itd_intent_spec *spec,
			 char *msg, size_t cap)
{
	const struct itd_scenario *s = t->scn;
	if (spec->type >= s->n_types) {
		snprintf(msg, cap, "unknown intent type #%" PRIu32, spec->type);
		return ITD_EINVAL;
	}
	const struct itd_intent_type *ty = &s->types[spec->type];
	if (spec->goal.present && ty->goal == ITD_GOAL_NONE) {
		snprintf(msg, cap, "intent type '%s' takes no goal", ty->name);
		return ITD_EINVAL;
	}
	if (!spec->goal.present && ty->goal == ITD_GOAL_REQUIRED) {
		snprintf(msg, cap, "intent type '%s' requires a goal", ty->name);
		return ITD_EINVAL;
	}
	if (spec->goal.present) {
		if (spec->goal.metric >= s->n_fields ||
		    s->fields[spec->goal.metric].type != ITD_T_NUM) {
			snprintf(msg, cap, "goal metric must be a number state field");
			return ITD_EINVAL;
		}
		if (!(spec->goal.tolerance >= 0) || spec->goal.reference != spec->goal.reference) {
			snprintf(msg, cap, "goal reference must be a number and tolerance >= 0");
			return ITD_EINVAL;
		}
	}
	if (spec->priority != spec->priority) {
		snprintf(msg, cap, "priority must be a number");
		return ITD_EINVAL;
	}
	size_t str_bytes = 0;
	for (size_t i = 0; i < spec->n_params; i++) {
		const struct itd_param_value *pv = &spec->params[i];
		if (pv->param >= ty->n_params) {
			snprintf(msg, cap, "unknown parameter #%" PRIu32 " for '%s'", pv->param,
				 ty->name);
			return ITD_EINVAL;
		}
		const struct itd_param_def *pd = &ty->params[pv->param];
		if (pv->value.type != pd->type) {
			snprintf(msg, cap, "parameter '%s' must be a %s", pd->name,
				 itd_type_name(pd->type));
			return ITD_EINVAL;
		}
		for (size_t j = 0; j < i; j++)
			if (spec->params[j].param == pv->param) {
				snprintf(msg, cap, "parameter '%s' given twice", pd->name);
				return ITD_EINVAL;
			}
		if (pd->type == ITD_T_STR)
			str_bytes += strlen(pv->value.str) + 1;
	}
	if (str_bytes > ITD_PARAM_BYTES) {
		snprintf(msg, cap, "string parameters too long (%zu bytes, at most %d)", str_bytes,
			 ITD_PARAM_BYTES);
		return ITD_EINVAL;
	}
	for (size_t p = 0; p < ty->n_params; p++) {
		if (!ty->params[p].required)
			continue;
		bool given = false;
		for (size_t i = 0; i < spec->n_params; i++)
			given |= spec->params[i].param == p;
		if (!given) {
			snprintf(msg, cap, "parameter '%s' is required for '%s'",
				 ty->params[p].name, ty->name);
			return ITD_EINVAL;
		}
	}
	if (spec->idempotency_key && strlen(spec->idempotency_key) >= ITD_KEY_LEN) {
		snprintf(msg, cap, "idempotency_key longer than %d bytes", ITD_KEY_LEN - 1);
		return ITD_EINVAL;
	}
	return ITD_OK;
}

/* Fill the intent's static expression slots and its parameters. */
static void fill_frame(struct itd_intents *t, struct itd_intent *in,
		       const struct itd_intent_spec *spec)
{
	const struct itd_scenario *s = t->scn;
	const struct itd_slots *sl = &s->slots;
	const struct itd_intent_type *ty = &s->types[in->type];
	struct itd_value *f = in->frame;
	for (uint32_t i = 0; i < sl->n_intent; i++)
		f[i] = (struct itd_value){.type = ITD_T_NONE};
	f[sl->i_type] = (struct itd_value){.type = ITD_T_STR, .str = ty->name};
	f[sl->i_source] = (struct itd_value){.type = ITD_T_STR, .str = itd_source_name(in->source)};
	f[sl->i_id] = (struct itd_value){.type = ITD_T_STR, .str = in->id};
	f[sl->i_priority] = (struct itd_value){.type = ITD_T_NUM, .num = in->priority};
	f[sl->i_created_tick] =
		(struct itd_value){.type = ITD_T_NUM, .num = (double)in->created_tick};
	f[sl->i_recovery] = (struct itd_value){.type = ITD_T_BOOL, .b = ty->recovers >= 0};
	const char *metric = in->goal.present ? s->fields[in->goal.metric].name : "";
	f[sl->i_goal_metric] = (struct itd_value){.type = ITD_T_STR, .str = metric};
	f[sl->i_goal_reference] = (struct itd_value){.type = ITD_T_NUM, .num = in->goal.reference};
	f[sl->i_goal_tolerance] = (struct itd_value){.type = ITD_T_NUM, .num = in->goal.tolerance};
	for (size_t d = 0; d < s->n_domains; d++)
		f[sl->i_domains + d] = (struct itd_value){
			.type = ITD_T_BOOL, .b = (ty->domains >> d) & 1};
	for (size_t g = 0; g < s->n_flags; g++)
		f[sl->i_flags + g] = (struct itd_value){.type = ITD_T_BOOL, .b = (ty->flags >> g) & 1};

	/* Parameters: declared defaults first, then the given values; string
	 * values are copied into the record's own storage. */
	in->params_used = 0;
	for (size_t p = 0; p < ty->n_params; p++)
		if (ty->params[p].has_default)
			f[ty->params[p].slot & ~ITD_SLOT_INTENT] = ty->params[p].def;
	for (size_t i = 0; i < spec->n_params; i++) {
		const struct itd_param_def *pd = &ty->params[spec->params[i].param];
		struct itd_value v = spec->params[i].value;
		if (v.type == ITD_T_STR) {
			size_t n = strlen(v.str) + 1;
			char *dst = in->params + in->params_used;
			memcpy(dst, v.str, n);
			in->params_used += (uint32_t)n;
			v.str = dst;
		}
		f[pd->slot & ~ITD_SLOT_INTENT] = v;
	}
}

/* Account for a new intent (under the lock): its capacity and key, and
 * its sequence number if it has none.  A reserved spec has both already. */
static int admit(struct itd_intents *t, const struct itd_intent_spec *spec, const char *key,
		 uint64_t *seq, char *msg, size_t cap)
{
	int rc = ITD_OK;
	pthread_mutex_lock(&t->lock);
	if (spec->reserved) {
		t->reserved--;
		t->n_live++;
		goto out;
	}
	uint64_t s = *seq;
	if (!s && t->forcing) {
		/* Replay: each creation goes as it went originally. */
		s = t->i_forced < t->n_forced ? t->forced[t->i_forced++] : 0;
		if (!s) {
			snprintf(msg, cap, "intent table full (as when this tick first ran)");
			t->n_rejected++;
			rc = ITD_EFULL;
			goto out;
		}
	}
	if (t->n_live + t->reserved >= t->cap) {
		snprintf(msg, cap,
			 "intent table full (%" PRIu64 " active intents; raise engine.max_intents)",
			 t->cap);
		t->n_rejected++;
		rc = ITD_EFULL;
		goto out;
	}
	if (!s)
		s = t->next_seq + 1;
	if (map_find(t, s)) {
		snprintf(msg, cap, "intent sequence number %" PRIu64 " is already in use", s);
		t->n_rejected++;
		rc = ITD_EEXISTS;
		goto out;
	}
	if (key) {
		uint64_t holder;
		rc = itd_keys_claim(t, key, spec->body_hash, s, &holder);
		if (rc) {
			*seq = holder;
			if (rc == ITD_ECONFLICT)
				snprintf(msg, cap,
					 "idempotency_key '%s' was used by i-%06" PRIu64
					 " with a different body",
					 key, holder);
			goto out;
		}
	}
	if (s > t->next_seq)
		t->next_seq = s;
	*seq = s;
	t->n_live++;
out:
	/* The tick thread's own creations are journaled attempt by attempt. */
	if (!spec->reserved && t->n_attempts < t->cap_forced)
		t->attempts[t->n_attempts++] = rc ? 0 : *seq;
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int itd_intents_create(struct itd_intents *t, const struct itd_intent_spec *spec, uint64_t tick,
		       struct itd_intent **out, char *msg, size_t cap)
{
	*out = NULL;
	int rc = itd_intents_validate(t, spec, msg, cap);
	if (rc) {
		t->n_rejected++;
		if (spec->reserved)
			itd_intents_unreserve(t, spec->seq, spec->idempotency_key);
		return rc;
	}
	const char *key = spec->idempotency_key && *spec->idempotency_key ? spec->idempotency_key
									    : NULL;
	uint64_t seq = spec->seq;
	rc = admit(t, spec, key, &seq, msg, cap);
	if (rc) {
		if (rc == ITD_EEXISTS)
			*out = itd_intents_at(t, seq);
		return rc;
	}
	/* admit() guaranteed room: a free or a terminal record. */
	struct itd_intent *in = take_record(t);
	struct itd_transition *hist = in->hist;
	struct itd_value *frame = in->frame;
	memset(in, 0, sizeof *in);
	in->hist = hist;
	in->frame = frame;
	in->seq = seq;
	t->n++;
	if (seq > t->last_seq)
		t->last_seq = seq;
	map_insert(t, seq, (uint32_t)(in - t->rec));
	snprintf(in->id, sizeof in->id, "i-%06" PRIu64, in->seq);
	in->type = spec->type;
	in->source = spec->source;
	in->priority = spec->priority;
	in->goal = spec->goal;
	in->created_tick = tick;
	uint64_t dl = spec->deadline_ticks ? spec->deadline_ticks
					   : t->scn->types[spec->type].deadline_ticks;
	in->deadline_tick = dl ? tick + dl : 0;
	in->received_ms = spec->received_ms;
	if (spec->actor)
		snprintf(in->actor, sizeof in->actor, "%s", spec->actor);
	in->body_hash = spec->body_hash;
	in->status = ITD_ST_RECEIVED;
	in->verdict = ITD_VERDICT_NONE;
	if (key)
		memcpy(in->key, key, strlen(key) + 1);
	fill_frame(t, in, spec);
	/* The receipt is the first history entry. */
	in->hist[0] = (struct itd_transition){
		.tick = tick, .from = ITD_ST_RECEIVED, .to = ITD_ST_RECEIVED,
		.reason = itd_source_name(spec->source)};
	in->n_hist = 1;
	t->by_status[ITD_ST_RECEIVED]++;
	t->active[t->n_active++] = (uint32_t)(in - t->rec);
	rc = itd_intent_transition(t, in, ITD_ST_QUEUED, tick, "accepted");
	*out = in;
	return rc;
}

struct itd_intent *itd_intents_at(struct itd_intents *t, uint64_t seq)
{
	if (!seq)
		return NULL;
	uint32_t r = map_find(t, seq);
	return r ? &t->rec[r - 1] : NULL;
}

struct itd_intent *itd_intents_get(struct itd_intents *t, const char *id)
{
	if (!id || id[0] != 'i' || id[1] != '-' || !id[2])
		return NULL;
	uint64_t seq = 0;
	for (const char *p = id + 2; *p; p++) {
		if (*p < '0' || *p > '9' || seq > UINT64_MAX / 10 - 1)
			return NULL;
		seq = seq * 10 + (uint64_t)(*p - '0');
	}
	struct itd_intent *in = itd_intents_at(t, seq);
	return in && !strcmp(in->id, id) ? in : NULL;
}

struct itd_intent *itd_intents_active_of_type(struct itd_intents *t, uint32_t type)
{
	for (uint32_t i = 0; i < t->n_active; i++) {
		struct itd_intent *in = itd_intents_active(t, i);
		if (in->type == type)
			return in;
	}
	return NULL;
}
