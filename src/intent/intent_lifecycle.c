/* intent_lifecycle.c: the intent lifecycle state machine (SPEC §4).
 *
 *   received ─▶ queued ─────────▶ authorized ─▶ executing ─▶ completed
 *      │          │  ▲  ▲             ▲             │  │
 *      │          ▼  │  │             │             │  └─▶ queued (executed,
 *      │        blocked ─────────────┘              │        not yet complete)
 *      │                │                           ├─▶ backoff ─▶ queued (retry)
 *      │                │                           └─▶ failed (no retry left)
 *      └─▶ awaiting_approval ─▶ queued | denied
 *   queued | blocked ─▶ completed   (its goal was met without it: never
 *                                    execute an intent that is already done)
 *   any active state ─▶ cancelled | expired   (terminal states are archived)
 *
 * Transition → where it happens:
 *   received → queued             itd_intents_create (intake, autonomy, override)
 *   queued/blocked → authorized   engine safety phase (gate passed)
 *   queued/blocked → blocked      engine safety phase (a rule blocked the pick)
 *   authorized → executing        engine execute phase (effect applied)
 *   executing → completed         engine execute phase (completion condition)
 *   executing → queued            engine execute phase (not yet complete)
 *   executing → backoff | failed  engine execute phase (fail condition)
 *   queued/blocked → completed    engine policy phase (goal already met)
 *   backoff → queued              engine intake phase (retry tick reached)
 *   * → cancelled                 engine intake phase (cancel input)
 *   * → expired                   engine execute phase (deadline passed)
 *   awaiting_approval → *         approvals (a later wave)
 * A transition not in the table is refused with ITD_ESTATE and changes
 * nothing. */
#include <string.h>

#include "intent.h"

static const char *const status_names[ITD_ST_COUNT] = {
	[ITD_ST_RECEIVED] = "received",
	[ITD_ST_QUEUED] = "queued",
	[ITD_ST_BLOCKED] = "blocked",
	[ITD_ST_AUTHORIZED] = "authorized",
	[ITD_ST_EXECUTING] = "executing",
	[ITD_ST_BACKOFF] = "backoff",
	[ITD_ST_AWAITING_APPROVAL] = "awaiting_approval",
	[ITD_ST_COMPLETED] = "completed",
	[ITD_ST_FAILED] = "failed",
	[ITD_ST_CANCELLED] = "cancelled",
	[ITD_ST_EXPIRED] = "expired",
	[ITD_ST_DENIED] = "denied",
};

#define BIT(s) (1u << (s))
#define TERMINAL_EXITS (BIT(ITD_ST_CANCELLED) | BIT(ITD_ST_EXPIRED))

/* allowed[from] = set of states reachable in one transition. */
static const unsigned allowed[ITD_ST_COUNT] = {
	[ITD_ST_RECEIVED] = BIT(ITD_ST_QUEUED) | BIT(ITD_ST_AWAITING_APPROVAL) |
			    BIT(ITD_ST_DENIED) | TERMINAL_EXITS,
	[ITD_ST_QUEUED] = BIT(ITD_ST_AUTHORIZED) | BIT(ITD_ST_BLOCKED) |
			  BIT(ITD_ST_AWAITING_APPROVAL) | BIT(ITD_ST_COMPLETED) | TERMINAL_EXITS,
	[ITD_ST_BLOCKED] = BIT(ITD_ST_AUTHORIZED) | BIT(ITD_ST_QUEUED) | BIT(ITD_ST_COMPLETED) |
			   TERMINAL_EXITS,
	[ITD_ST_AUTHORIZED] = BIT(ITD_ST_EXECUTING) | BIT(ITD_ST_QUEUED) | TERMINAL_EXITS,
	[ITD_ST_EXECUTING] = BIT(ITD_ST_COMPLETED) | BIT(ITD_ST_QUEUED) | BIT(ITD_ST_BACKOFF) |
			     BIT(ITD_ST_FAILED),
	[ITD_ST_BACKOFF] = BIT(ITD_ST_QUEUED) | TERMINAL_EXITS,
	[ITD_ST_AWAITING_APPROVAL] = BIT(ITD_ST_QUEUED) | BIT(ITD_ST_DENIED) | TERMINAL_EXITS,
};

const char *itd_status_name(enum itd_status s)
{
	return (unsigned)s < ITD_ST_COUNT ? status_names[s] : "?";
}

int itd_status_parse(const char *name)
{
	for (int i = 0; i < ITD_ST_COUNT; i++)
		if (!strcmp(status_names[i], name))
			return i;
	return -1;
}

bool itd_status_terminal(enum itd_status s)
{
	return s >= ITD_ST_COMPLETED && s < ITD_ST_COUNT;
}

static const char *const source_names[ITD_SRC_COUNT] = {
	"ground", "autonomous", "playbook", "schedule",
};

const char *itd_source_name(enum itd_source s)
{
	return (unsigned)s < ITD_SRC_COUNT ? source_names[s] : "?";
}

int itd_source_parse(const char *name)
{
	for (int i = 0; i < ITD_SRC_COUNT; i++)
		if (!strcmp(source_names[i], name))
			return i;
	return -1;
}

const char *itd_verdict_name(enum itd_verdict v)
{
	switch (v) {
	case ITD_VERDICT_NONE:
		return "none";
	case ITD_VERDICT_AUTHORIZED:
		return "authorized";
	case ITD_VERDICT_BLOCKED:
		return "blocked";
	case ITD_VERDICT_DEFERRED:
		return "deferred";
	case ITD_VERDICT_DENIED:
		return "denied";
	}
	return "?";
}

bool itd_intent_can(enum itd_status from, enum itd_status to)
{
	if ((unsigned)from >= ITD_ST_COUNT || (unsigned)to >= ITD_ST_COUNT)
		return false;
	return (allowed[from] & BIT(to)) != 0;
}

/* Drop record index `idx` from the active list, keeping creation order. */
static void deactivate(struct itd_intents *t, uint32_t idx)
{
	for (uint32_t i = 0; i < t->n_active; i++) {
		if (t->active[i] != idx)
			continue;
		memmove(&t->active[i], &t->active[i + 1],
			(t->n_active - i - 1) * sizeof t->active[0]);
		t->n_active--;
		return;
	}
}

void itd_intents_defer(struct itd_intents *t)
{
	t->deferring = true;
}

void itd_intents_undefer(struct itd_intents *t)
{
	t->deferring = false;
	if (!t->n_deferred)
		return;
	uint32_t k = 0;
	for (uint32_t i = 0; i < t->n_active; i++)
		if (!itd_status_terminal(t->rec[t->active[i]].status))
			t->active[k++] = t->active[i];
	t->n_active = k;
	t->n_deferred = 0;
}

/* Where transition number j (0-based) of an intent is kept: the first two
 * (receipt and queueing) forever, later ones in a ring over the rest. */
static uint64_t hist_slot(const struct itd_intents *t, uint64_t j)
{
	if (j < 2)
		return j;
	return 2 + (j - 2) % (t->hist_cap - 2);
}

int itd_intent_transition(struct itd_intents *t, struct itd_intent *in, enum itd_status to,
			  uint64_t tick, const char *reason)
{
	enum itd_status from = in->status;
	if (!itd_intent_can(from, to))
		return ITD_ESTATE;
	struct itd_transition *h = &in->hist[hist_slot(t, in->n_hist)];
	/* The first history entry is the receipt itself (received → received);
	 * from then on every entry is a move. */
	h->tick = tick;
	h->from = (uint8_t)from;
	h->to = (uint8_t)to;
	h->reason = reason;
	in->n_hist++;
	in->status = to;
	t->by_status[from]--;
	t->by_status[to]++;
	if (itd_status_terminal(to)) {
		if (t->deferring)
			t->n_deferred++;
		else
			deactivate(t, (uint32_t)(in - t->rec));
		itd_intents_archived(t, in);
		pthread_mutex_lock(&t->lock);
		t->n_live--;
		pthread_mutex_unlock(&t->lock);
	}
	return ITD_OK;
}

uint64_t itd_intent_n_held(const struct itd_intents *t, const struct itd_intent *in)
{
	return in->n_hist < t->hist_cap ? in->n_hist : t->hist_cap;
}

const struct itd_transition *itd_intent_hist(const struct itd_intents *t,
					     const struct itd_intent *in, uint64_t k)
{
	uint64_t held = itd_intent_n_held(t, in);
	if (k >= held)
		return NULL;
	if (k < 2)
		return &in->hist[k];
	return &in->hist[hist_slot(t, in->n_hist - held + k)];
}
