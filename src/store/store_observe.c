/* store_observe.c: the audit observer.  Every decision the engine reports
 * becomes a note of its tick; the tick record carries the notes, and the
 * journal's writer chains them (store_audit.h) in the same transaction, so
 * a tick and its audit entries are durable together or not at all.
 *
 * What is a decision (SPEC §8: intake, verdict change, approval, mutation,
 * console command), by event:
 *
 *   intent.received, .rejected            intake
 *   intent.queued                         requeueing (not on creation: the
 *                                         received entry says "queued")
 *   intent.blocked                        only when the verdict or its rule
 *                                         changed (not flood-control repeats)
 *   intent.authorized                     only when the verdict changed
 *   intent.executed                       every execution (the mutation),
 *                                         with the fields it changed
 *   intent.completed, .failed, .expired,
 *   .cancelled, .retry_scheduled          the lifecycle's decisions
 *   execution.latency                     once per intent
 *   policy.evaluated                      the selection changed
 *   safety.override, safety.lock          the gate's overrides
 *   console.applied                       every console command
 *
 * Not recorded: state.updated (re-derived by replay), engine.tick/slip/
 * fault.  The payload is the event's telemetry payload (redaction
 * applied), so an audit entry reads like the event it records.
 *
 * The note buffer is allocated at observer set-up for the worst tick the
 * scenario's capacities allow; a note that still does not fit is counted
 * and the tick then ends with an "audit.overflow" note saying how many were
 * lost: never silently. */
#include <stdio.h>
#include <string.h>

#include "store_audit.h"
#include "store_int.h"

/* Worst-case note bytes per tick: every input applied may give three
 * notes (received, queued or rejected, cancelled), every intent in the
 * table two (expired and a retry, say), plus the gate's few. */
#define NOTE_PER_INPUT 2048u
#define NOTE_PER_INTENT 768u
#define NOTE_BASE (1u << 20)

/* Is ev a decision to record? */
static bool wanted(const struct itd_event *ev)
{
	switch (ev->kind) {
	case ITD_EV_INTENT_QUEUED:
		/* On creation the received entry already says "queued". */
		return !ev->reason || strcmp(ev->reason, "accepted");
	case ITD_EV_INTENT_RECEIVED:
	case ITD_EV_INTENT_REJECTED:
	case ITD_EV_INTENT_EXECUTED:
	case ITD_EV_INTENT_COMPLETED:
	case ITD_EV_INTENT_FAILED:
	case ITD_EV_INTENT_RETRY_SCHEDULED:
	case ITD_EV_INTENT_EXPIRED:
	case ITD_EV_INTENT_CANCELLED:
	case ITD_EV_EXECUTION_LATENCY:
	case ITD_EV_POLICY_EVALUATED:
	case ITD_EV_SAFETY_OVERRIDE:
	case ITD_EV_SAFETY_LOCK:
	case ITD_EV_CONSOLE_APPLIED:
		return true;
	case ITD_EV_INTENT_BLOCKED:
		return !ev->suppressed_before;
	case ITD_EV_INTENT_AUTHORIZED:
		return ev->intent && ev->intent->verdict_tick == ev->tick;
	default:
		return false;
	}
}

/* Room kept at the end of the buffer for the overflow note. */
#define OVERFLOW_RESERVE 256u

static void put(struct itd_store *st, const struct itd_journal_note *n)
{
	if (itd_journal_note_put(st->notes, st->notes_cap - OVERFLOW_RESERVE, &st->notes_used, n))
		st->notes_dropped++;
}

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct itd_store *st = ctx;
	if (st->tel_start == UINT64_MAX && st->tel_seq)
		st->tel_start = st->tel_seq(st->tel_ctx);
	if (st->next.event)
		st->next.event(st->next.ctx, e, ev);
	/* The effect runs right after the authorization: keep the state it
	 * starts from, so the execution's note can say what it changed. */
	if (ev->kind == ITD_EV_INTENT_AUTHORIZED)
		memcpy(st->pre, itd_engine_state(e), st->n_pre * sizeof *st->pre);
	if (!wanted(ev))
		return;
	const struct itd_intent *in = ev->intent;
	if (ev->kind == ITD_EV_POLICY_EVALUATED)
		in = NULL; /* about the selection, not the selected intent's life */
	size_t len = 0;
	const char *data = st->pbuf;
	int rc = st->payload(st->payload_ctx, e, ev, st->pre, st->pbuf, ITD_AUDIT_MAX_DATA, &len);
	if (rc) {
		data = "{\"truncated\":true}";
		len = strlen(data);
	}
	const struct itd_scenario *s = itd_engine_scenario(e);
	const char *actor = ev->actor;
	if (!actor && in && in->actor[0] &&
	    (ev->kind == ITD_EV_INTENT_RECEIVED || ev->kind == ITD_EV_INTENT_REJECTED))
		actor = in->actor;
	struct itd_journal_note n = {
		.time_ms = ev->ts_ms, .seq = in ? in->seq : 0, .kind = itd_event_name(ev->kind),
		.subject = ev->intent ? ev->intent->id : NULL, .actor = actor,
		.type = in ? s->types[in->type].name : NULL,
		.status = in ? itd_status_name(in->status) : NULL, .data = data, .len = len};
	put(st, &n);
}

static void on_tick_end(void *ctx, const struct itd_engine *e)
{
	struct itd_store *st = ctx;
	if (st->next.tick_end)
		st->next.tick_end(st->next.ctx, e);
}

void itd_store_notes_close(struct itd_store *st, uint64_t tick, int64_t time_ms)
{
	(void)tick;
	if (!st->notes_dropped)
		return;
	char data[64];
	int len = snprintf(data, sizeof data, "{\"lost_notes\":%llu}",
			   (unsigned long long)st->notes_dropped);
	__atomic_add_fetch(&st->notes_lost, st->notes_dropped, __ATOMIC_RELAXED);
	st->notes_dropped = 0;
	struct itd_journal_note n = {.time_ms = time_ms, .kind = "audit.overflow",
				     .actor = "intentd", .data = data, .len = (size_t)len};
	/* put() left OVERFLOW_RESERVE bytes for this. */
	itd_journal_note_put(st->notes, st->notes_cap, &st->notes_used, &n);
}

uint64_t itd_store_notes_lost(const struct itd_store *st)
{
	return __atomic_load_n(&st->notes_lost, __ATOMIC_RELAXED);
}

int itd_store_observer(struct itd_store *st, const struct itd_observer *next,
		       itd_store_payload_fn fn, void *fn_ctx, struct itd_observer *out)
{
	const struct itd_scenario *s = itd_engine_scenario(st->e);
	size_t n_pre = s->slots.n_global;
	size_t cap = NOTE_BASE + ((size_t)s->intake_capacity + 16) * 3 * NOTE_PER_INPUT +
		     (size_t)s->max_intents * 2 * NOTE_PER_INTENT;
	st->pre = itd_calloc(n_pre, sizeof *st->pre);
	st->pbuf = itd_malloc(ITD_AUDIT_MAX_DATA);
	st->notes = itd_malloc(cap);
	if (!st->pre || !st->pbuf || !st->notes) {
		itd_free(st->pre);
		itd_free(st->pbuf);
		itd_free(st->notes);
		st->pre = NULL;
		st->pbuf = NULL;
		st->notes = NULL;
		return ITD_ENOMEM;
	}
	st->n_pre = n_pre;
	st->notes_cap = cap;
	st->notes_used = 0;
	st->next = next ? *next : (struct itd_observer){0};
	st->payload = fn;
	st->payload_ctx = fn_ctx;
	*out = (struct itd_observer){.event = on_event, .tick_end = on_tick_end, .ctx = st};
	return ITD_OK;
}
