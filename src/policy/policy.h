/* policy.h: the policy and safety gate (SPEC §3 phases 4-5): score every
 * eligible intent and select the best (ties: earliest created), compute the
 * critical domains, apply the critical override and the recovery lock, and
 * run the ordered safety rules on the final pick.  Verdicts are values that
 * carry the deciding rule and an explanation with operand values. */
#ifndef ITD_POLICY_H
#define ITD_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "intent/intent.h"
#include "scenario/scenario.h"

/* The recovery lock: the intent holding the slot and the last tick it may. */
struct itd_lock {
	uint64_t seq;        /* intent holding the lock, 0 = none */
	uint64_t until_tick; /* last tick the lock applies */
};

/* What the gate decided this tick. */
struct itd_gate {
	struct itd_intent *selected;  /* policy's argmax, or NULL */
	double selected_score;        /* its score */
	struct itd_intent *pick;      /* final pick after override/lock, or NULL */
	uint64_t critical;            /* bit i: scenario critical[i] holds */
	int override_critical;        /* critical entry that overrode, or -1 */
	bool override_created;        /* the override created its recovery intent */
	bool lock_applied;            /* the lock kept the slot */
	enum itd_verdict verdict;     /* AUTHORIZED or BLOCKED for pick; NONE if no pick */
	const struct itd_safety_rule *rule; /* blocking rule, or NULL */
	char explain[ITD_EXPLAIN_LEN];/* why it was blocked (operand values) */
	uint32_t n_faults;            /* expression evaluations that were not finite */
	uint32_t n_scored;            /* intents scored this tick */
	uint64_t candidates;          /* signature of the set of scored intents */
};

/* True if an intent in this status competes for the slot. */
bool itd_policy_eligible(const struct itd_intent *in);

/* Phase 4: refresh and score every eligible active intent (own score +
 * policy.score_adjust), counting an evaluation for each; select the argmax
 * (ties: earliest created).  Fills g->selected, g->selected_score,
 * g->n_faults. */
void itd_policy_score(struct itd_intents *t, const struct itd_value *global, uint64_t tick,
		      struct itd_gate *g);

/* Bit mask of the scenario's critical entries that hold now. */
uint64_t itd_policy_critical(const struct itd_scenario *s, const struct itd_value *global,
			     uint32_t *n_faults);

/* Phase 5: critical override (the first critical entry forces its recovery
 * intent, created with `spec_ms` as receipt time if absent), then the lock,
 * then the safety rules on the final pick.  Moves the pick to AUTHORIZED
 * or BLOCKED (counting blocked_ticks, recording rule and explanation on a
 * verdict change).  Returns 0, or the error of creating the recovery intent
 * (then there is no pick and g->verdict is NONE). */
int itd_policy_gate(struct itd_intents *t, struct itd_lock *lock, const struct itd_value *global,
		    uint64_t tick, int64_t now_ms, struct itd_gate *g);

/* Run the safety rules on one intent (its frame refreshed): returns the
 * first rule that blocks it and writes the explanation, or NULL. */
const struct itd_safety_rule *itd_policy_safety(const struct itd_scenario *s,
						const struct itd_intent *in,
						const struct itd_value *global, char *explain,
						size_t cap, uint32_t *n_faults);

/* Arm the lock after `in` executed at `tick` (only recoveries executed
 * outside a lock arm it). */
void itd_policy_lock_arm(struct itd_lock *lock, const struct itd_scenario *s,
			 const struct itd_intent *in, uint64_t tick, bool was_locked);

#endif
