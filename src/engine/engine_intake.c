/* engine_intake.c: the bounded, thread-safe queue of inputs applied at the
 * next tick's intake, in arrival order.  Producers (API threads, the CLI)
 * copy their input into a ring slot under a mutex; the tick takes the whole
 * ring at once.  A full queue refuses the input (counted) and keeps
 * everything already accepted. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

int itd_intake_init(struct itd_intake *q, uint32_t cap)
{
	memset(q, 0, sizeof *q);
	q->ring = 2 * cap + ITD_INTAKE_CONTROL;
	q->slots = itd_calloc(q->ring, sizeof *q->slots);
	if (!q->slots)
		return ITD_ENOMEM;
	q->cap = cap;
	q->apply_tick = 1;
	if (pthread_mutex_init(&q->lock, NULL)) {
		itd_free(q->slots);
		q->slots = NULL;
		return ITD_EINTERNAL;
	}
	return ITD_OK;
}

void itd_intake_fini(struct itd_intake *q)
{
	pthread_mutex_destroy(&q->lock);
	itd_free(q->slots);
	q->slots = NULL;
}

/* Lock the queue and reserve its next slot, stamped with its arrival; on
 * success the lock is held until publish().  NULL (lock released, refusal
 * counted) if the queue is full. */
static struct itd_input *reserve(struct itd_intake *q, enum itd_input_kind kind, bool replay)
{
	pthread_mutex_lock(&q->lock);
	uint32_t limit = replay ? q->ring : q->cap + (kind == ITD_IN_CONSOLE ? ITD_INTAKE_CONTROL : 0);
	if (q->n >= limit) {
		q->full++;
		pthread_mutex_unlock(&q->lock);
		return NULL;
	}
	struct itd_input *in = &q->slots[(q->head + q->n) % q->ring];
	__atomic_store_n(&q->n, q->n + 1, __ATOMIC_RELEASE);
	memset(in, 0, sizeof *in);
	in->kind = kind;
	in->arrival = ++q->arrivals;
	in->apply_tick = q->apply_tick;
	in->received_ms = itd_clock_wall_ms();
	return in;
}

/* Give back the slot reserve() just handed out (lock held), and unlock. */
static void withdraw(struct itd_intake *q)
{
	__atomic_store_n(&q->n, q->n - 1, __ATOMIC_RELEASE);
	q->arrivals--;
	pthread_mutex_unlock(&q->lock);
}

/* The reserved slot is filled in: journal it (still under the lock, so
 * the journal sees arrival order), then let the tick see it.  If the
 * journal refuses it, the slot is given back and nothing was accepted. */
static int publish(struct itd_engine *e, struct itd_input *in, uint64_t *ticket)
{
	struct itd_intake *q = &e->intake;
	if (ticket)
		*ticket = 0;
	if (q->closed_rc) {
		int rc = q->closed_rc;
		withdraw(q);
		return rc;
	}
	if (e->journal.input) {
		uint8_t buf[ITD_INPUT_ENC_MAX];
		size_t n = itd_input_encode(in, buf);
		uint64_t t = 0;
		struct itd_journal_info info = {
			.arrival = in->arrival, .kind = (enum itd_journal_kind)in->kind,
			.seq = in->kind == ITD_IN_SUBMIT ? in->seq : 0,
			.actor = in->actor[0] ? in->actor : NULL};
		int rc = e->journal.input(e->journal.ctx, &info, buf, n, &t);
		if (rc) {
			withdraw(q);
			return rc;
		}
		if (ticket)
			*ticket = t;
	}
	pthread_mutex_unlock(&q->lock);
	return ITD_OK;
}

uint32_t itd_intake_take(struct itd_intake *q, struct itd_input *out, uint64_t tick)
{
	/* Most ticks have no input: look before taking the lock.  A producer
	 * racing with this read is seen at the next tick, and it was told so:
	 * apply_tick only moves under the lock. */
	if (!__atomic_load_n(&q->n, __ATOMIC_ACQUIRE)) {
		if (__atomic_load_n(&q->apply_tick, __ATOMIC_RELAXED) <= tick) {
			pthread_mutex_lock(&q->lock);
			if (q->n == 0) {
				if (q->apply_tick < tick + 1)
					q->apply_tick = tick + 1;
				pthread_mutex_unlock(&q->lock);
				return 0;
			}
			pthread_mutex_unlock(&q->lock);
		} else {
			return 0;
		}
	}
	pthread_mutex_lock(&q->lock);
	if (q->apply_tick < tick + 1)
		q->apply_tick = tick + 1;
	/* In arrival order, up to the first input promised to a later tick
	 * (only after a recovery: inputs accepted for ticks that were lost). */
	uint32_t n = 0;
	uint32_t ring = q->ring, most = q->cap + ITD_INTAKE_CONTROL; /* out's room */
	while (n < q->n && n < most && q->slots[(q->head + n) % ring].apply_tick <= tick)
		n++;
	for (uint32_t i = 0; i < n; i++)
		out[i] = q->slots[(q->head + i) % ring];
	q->head = (q->head + n) % ring;
	__atomic_store_n(&q->n, q->n - n, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
	return n;
}

int itd_engine_submit(struct itd_engine *e, const struct itd_submission *sub,
		      struct itd_receipt *out, char *msg, size_t cap)
{
	memset(out, 0, sizeof *out);
	if (sub->n_params > ITD_MAX_PARAMS) {
		snprintf(msg, cap, "too many parameters (at most %d)", ITD_MAX_PARAMS);
		return ITD_EINVAL;
	}
	struct itd_intent_spec spec = {
		.type = sub->type, .source = sub->source, .priority = sub->priority,
		.goal = sub->goal, .params = sub->params, .n_params = sub->n_params,
		.deadline_ticks = sub->deadline_ticks,
		.idempotency_key = sub->idempotency_key, .body_hash = sub->body_hash};
	/* The scenario is immutable, so validating outside the lock is safe. */
	int rc = itd_intents_validate(&e->intents, &spec, msg, cap);
	if (rc)
		return rc;
	/* The queue slot first, then the id (lock order: intake, then the
	 * table), so a refusal consumes neither. */
	struct itd_intake *q = &e->intake;
	struct itd_input *in = reserve(q, ITD_IN_SUBMIT, false);
	if (!in) {
		snprintf(msg, cap, "intake queue full (%u inputs)", q->cap);
		return ITD_EFULL;
	}
	uint64_t seq;
	rc = itd_intents_reserve(&e->intents, sub->idempotency_key, sub->body_hash, &seq);
	if (rc) {
		withdraw(q);
		out->seq = seq;
		snprintf(out->id, sizeof out->id, "i-%06" PRIu64, seq);
		if (rc == ITD_ECONFLICT)
			snprintf(msg, cap, "idempotency_key '%s' was used by %s with a different body",
				 sub->idempotency_key, out->id);
		else if (rc == ITD_EFULL)
			snprintf(msg, cap, "intent table full (%u intents; raise engine.max_intents)",
				 e->scn->max_intents);
		return rc;
	}
	in->seq = seq;
	in->sub = *sub;
	in->sub.params = NULL;
	in->sub.idempotency_key = NULL;
	in->sub.actor = NULL;
	if (sub->actor)
		snprintf(in->actor, sizeof in->actor, "%s", sub->actor);
	size_t used = 0;
	for (size_t i = 0; i < sub->n_params; i++) {
		in->params[i] = sub->params[i];
		if (sub->params[i].value.type == ITD_T_STR) {
			size_t n = strlen(sub->params[i].value.str) + 1;
			memcpy(in->str + used, sub->params[i].value.str, n);
			in->str_off[i] = (uint16_t)used;
			used += n; /* validated: fits in ITD_PARAM_BYTES */
		}
	}
	if (sub->idempotency_key)
		memcpy(in->key, sub->idempotency_key, strlen(sub->idempotency_key) + 1);
	out->seq = seq;
	snprintf(out->id, sizeof out->id, "i-%06" PRIu64, seq);
	out->arrival = in->arrival;
	out->received_tick = q->apply_tick;
	const char *key = sub->idempotency_key;
	rc = publish(e, in, &out->ticket);
	if (rc) {
		itd_intents_unreserve(&e->intents, seq, key);
		if (rc == ITD_EFULL)
			snprintf(msg, cap, "intake queue full: the store is writing a backlog");
		else
			snprintf(msg, cap, "the journal refused the submission (%s)", itd_err_msg(rc));
		memset(out, 0, sizeof *out);
	}
	return rc;
}

int itd_engine_cancel(struct itd_engine *e, const char *id, const char *reason,
		      const char *actor, uint64_t *ticket_out)
{
	if (ticket_out)
		*ticket_out = 0;
	if (strlen(id) >= ITD_ID_LEN)
		return ITD_EINVAL;
	struct itd_intake *q = &e->intake;
	struct itd_input *in = reserve(q, ITD_IN_CANCEL, false);
	if (!in)
		return ITD_EFULL;
	memcpy(in->target, id, strlen(id) + 1);
	snprintf(in->reason, sizeof in->reason, "%s", reason ? reason : "cancelled");
	if (actor)
		snprintf(in->actor, sizeof in->actor, "%s", actor);
	return publish(e, in, ticket_out);
}

int itd_engine_set_field(struct itd_engine *e, uint32_t field, struct itd_value v,
			 const char *actor, uint64_t *ticket_out)
{
	if (ticket_out)
		*ticket_out = 0;
	const struct itd_field *f = field < e->scn->n_fields ? &e->scn->fields[field] : NULL;
	if (!f || v.type != f->type || (v.type == ITD_T_NUM && !isfinite(v.num)))
		return ITD_EINVAL;
	/* The value must outlive the queue: use the scenario's copy. */
	if (v.type == ITD_T_STR && !(v.str = itd_field_value(f, v.str)))
		return ITD_EINVAL;
	struct itd_intake *q = &e->intake;
	struct itd_input *in = reserve(q, ITD_IN_SET, false);
	if (!in)
		return ITD_EFULL;
	in->field = field;
	in->value = v;
	if (actor)
		snprintf(in->actor, sizeof in->actor, "%s", actor);
	return publish(e, in, ticket_out);
}

static const char *const console_names[] = {
	[ITD_CONSOLE_PAUSE] = "pause", [ITD_CONSOLE_RESUME] = "resume",
	[ITD_CONSOLE_STEP] = "step",   [ITD_CONSOLE_SNAPSHOT] = "snapshot",
	[ITD_CONSOLE_NOTE] = "note",
};

const char *itd_console_name(enum itd_console_cmd c)
{
	return (unsigned)c <= ITD_CONSOLE_NOTE ? console_names[c] : "?";
}

int itd_engine_console(struct itd_engine *e, enum itd_console_cmd cmd, const char *args,
		       const char *actor, uint64_t *ticket_out)
{
	if (ticket_out)
		*ticket_out = 0;
	if ((unsigned)cmd > ITD_CONSOLE_NOTE)
		return ITD_EINVAL;
	struct itd_intake *q = &e->intake;
	struct itd_input *in = reserve(q, ITD_IN_CONSOLE, false);
	if (!in)
		return ITD_EFULL;
	in->cmd = cmd;
	snprintf(in->args, sizeof in->args, "%s", args ? args : "");
	if (actor)
		snprintf(in->actor, sizeof in->actor, "%s", actor);
	return publish(e, in, ticket_out);
}

void itd_engine_intake_gate(struct itd_engine *e, int rc)
{
	/* Inputs are accepted (and journaled) under this lock: once it is
	 * taken here, none is half accepted. */
	pthread_mutex_lock(&e->intake.lock);
	e->intake.closed_rc = rc;
	pthread_mutex_unlock(&e->intake.lock);
}

void itd_engine_set_journal(struct itd_engine *e, const struct itd_journal_hooks *h)
{
	if (h)
		e->journal = *h;
	else
		memset(&e->journal, 0, sizeof e->journal);
}

int itd_engine_replay_input(struct itd_engine *e, const void *data, size_t len)
{
	struct itd_input dec;
	int rc = itd_input_decode(e, data, len, &dec);
	if (rc)
		return rc;
	struct itd_intake *q = &e->intake;
	if (dec.kind == ITD_IN_SUBMIT) {
		rc = itd_intents_reserve_as(&e->intents, dec.seq, dec.key, dec.sub.body_hash);
		if (rc)
			return rc;
	}
	pthread_mutex_lock(&q->lock);
	if (dec.arrival <= q->arrivals) {
		pthread_mutex_unlock(&q->lock);
		rc = ITD_EINVAL; /* out of order: not the journal's order */
		goto fail;
	}
	q->arrivals = dec.arrival - 1;
	pthread_mutex_unlock(&q->lock);
	struct itd_input *in = reserve(q, dec.kind, true);
	if (!in) {
		rc = ITD_EFULL;
		goto fail;
	}
	*in = dec;
	/* Inputs accepted for a later tick than the journal reached keep
	 * their promise, and so do submissions made after the recovery. */
	if (dec.apply_tick > q->apply_tick)
		q->apply_tick = dec.apply_tick;
	/* Replay does not journal again: it feeds what the journal holds. */
	pthread_mutex_unlock(&q->lock);
	return ITD_OK;
fail:
	if (dec.kind == ITD_IN_SUBMIT)
		itd_intents_unreserve(&e->intents, dec.seq, dec.key);
	return rc;
}

int itd_engine_replay_seqs(struct itd_engine *e, const uint64_t *seqs, size_t n)
{
	return itd_intents_force_seqs(&e->intents, seqs, n);
}

void itd_engine_replay_timing(struct itd_engine *e, int64_t time_ms, uint64_t slip_ns)
{
	e->replay_ms = time_ms;
	e->slip_ns = slip_ns;
	if (slip_ns)
		e->stats.slips++;
}

uint64_t itd_engine_tick_slip_ns(const struct itd_engine *e)
{
	return e->tick_slip_ns;
}
