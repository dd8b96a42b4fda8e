/* engine_int.h: the engine's private state, shared by its files. */
#ifndef ITD_ENGINE_INT_H
#define ITD_ENGINE_INT_H

#include <pthread.h>

#include "engine.h"

enum itd_input_kind {
	ITD_IN_SUBMIT = ITD_JOURNAL_SUBMIT,   /* create an intent */
	ITD_IN_CANCEL = ITD_JOURNAL_CANCEL,   /* cancel an intent */
	ITD_IN_SET = ITD_JOURNAL_SET,         /* fault injection: set a state field */
	ITD_IN_CONSOLE = ITD_JOURNAL_CONSOLE, /* a console command, reported at its tick */
};

/* One queued input.  Strings live inside the slot (offsets, not
 * pointers), so slots can be copied. */
struct itd_input {
	enum itd_input_kind kind;          /* what */
	uint64_t seq;                      /* SUBMIT: the reserved sequence number */
	uint64_t arrival;                  /* arrival number (1-based) */
	uint64_t apply_tick;               /* the tick promised to apply it (it is
					      never applied earlier, even after a
					      crash rewound the run) */
	int64_t received_ms;               /* when it arrived */
	struct itd_submission sub;         /* SUBMIT (pointers unused) */
	struct itd_param_value params[ITD_MAX_PARAMS]; /* SUBMIT params; string
							  values as offsets
							  into str */
	uint16_t str_off[ITD_MAX_PARAMS];  /* offset of each string param */
	char str[ITD_PARAM_BYTES];         /* string parameter bytes */
	char key[ITD_KEY_LEN];             /* idempotency key ("" none) */
	char target[ITD_ID_LEN];           /* CANCEL: intent id */
	char reason[32];                   /* CANCEL: why ("" = "cancelled") */
	uint32_t field;                    /* SET: field index */
	struct itd_value value;            /* SET: value (numbers/bools, or a
					      string the scenario owns) */
	enum itd_console_cmd cmd;          /* CONSOLE: which */
	char args[64];                     /* CONSOLE: its arguments */
	char actor[ITD_ACTOR_LEN];         /* who asked ("" unknown) */
};

/* Slots held back for console commands beyond the configured capacity, so
 * an operator can always resume or step a paused loop whose queue is full
 * (otherwise nothing could ever drain it). */
#define ITD_INTAKE_CONTROL 16

struct itd_intake {
	pthread_mutex_t lock;              /* guards everything below */
	struct itd_input *slots;           /* ring of `ring` inputs */
	uint32_t cap, head, n;             /* capacity for ordinary inputs, ring
					      position and fill */
	uint32_t ring;                     /* slots: 2 cap + ITD_INTAKE_CONTROL.  Live
					      intake fills cap of them (console
					      inputs the control slots too); a
					      recovery may need twice cap: the
					      inputs of the tick the crash lost and
					      those accepted while it ran, promised
					      to the tick after */
	uint64_t arrivals;                 /* inputs ever queued */
	uint64_t full;                     /* submissions refused: queue full */
	uint64_t apply_tick;               /* the tick that will apply what is queued now */
	int closed_rc;                     /* nonzero: new inputs are refused with it */
};

struct itd_engine {
	const struct itd_scenario *scn;    /* definitions */
	struct itd_clock clock;            /* stamps and pacing */
	struct itd_observer obs;           /* event sink; obs.event may be NULL */
	uint64_t tick;                     /* last tick run (0 before the first) */
	int64_t now_ms;                    /* this tick's time */
	struct itd_value *global;          /* state, mode, tick */
	struct itd_value *before;          /* global at the start of the tick */
	struct itd_value *scratch;         /* simultaneous assignment results */
	struct itd_intents intents;        /* every intent */
	struct itd_lock lock;              /* recovery lock */
	struct itd_gate gate;              /* this tick's gate decision */
	struct itd_intent *executed;       /* executed this tick, or NULL */
	uint64_t state_hash;               /* hash after this tick */
	struct itd_rng rng_retry;          /* `retry` stream: backoff jitter */
	struct itd_intake intake;          /* inputs for the next tick */
	struct itd_input *draining;        /* inputs being applied (cap slots) */
	bool initial_applied;              /* scenario intents created */
	struct itd_engine_stats stats;     /* counters */
	uint64_t *blocks_by_rule;          /* per safety rule */
	const char *fault_src;             /* last expression that faulted */
	uint64_t slip_ns;                  /* this tick started this late (0: on time) */
	uint64_t tick_slip_ns;             /* the last tick's slip, for its journal record */
	int64_t replay_ms;                 /* the next tick's time as journaled
					      (INT64_MIN: the clock's) */
	struct itd_plant plant;            /* embedder's callbacks (may be empty) */
	uint64_t *hash_words;              /* state hash input, one word per global slot */
	uint64_t last_selected;            /* seq selected at the last policy.evaluated */
	uint64_t last_candidates;          /* candidate signature then */
	struct itd_journal_hooks journal;  /* the store's hooks (may be empty) */
	uint64_t last_arrival;             /* the last arrival applied */
	char reasons[16][32];              /* interned cancel reasons (history points here) */
	size_t n_reasons;                  /* in use */
	pthread_rwlock_t *state_lock;      /* held for writing during each tick, or NULL */
	bool paused;                       /* a pause was applied (atomic access) */
	uint64_t tick_t0;                  /* monotonic ns when this tick began (with an observer) */
};

/* The state hash of the current global frame (engine_core.c). */
uint64_t itd_engine_hash_state(const struct itd_engine *e);

/* Report an event to the observer (no-op without one). */
static inline void itd_engine_emit(struct itd_engine *e, struct itd_event *ev)
{
	if (!e->obs.event)
		return;
	ev->tick = e->tick;
	ev->ts_ms = e->now_ms;
	e->obs.event(e->obs.ctx, e, ev);
}

/* The largest encoding of an input (engine_codec.c). */
#define ITD_INPUT_ENC_MAX 2048

/* Encode an input for the journal; returns its length (never more than
 * ITD_INPUT_ENC_MAX). */
size_t itd_input_encode(const struct itd_input *in, uint8_t *buf);
/* Decode a journaled input against the engine's scenario (every index,
 * type and length checked); ITD_EINVAL if it does not decode. */
int itd_input_decode(const struct itd_engine *e, const uint8_t *buf, size_t len,
		     struct itd_input *out);
/* A stable copy of a cancel reason (history entries point at it). */
const char *itd_engine_reason(struct itd_engine *e, const char *reason);

/* Intake (engine_intake.c). */
int itd_intake_init(struct itd_intake *q, uint32_t cap);
void itd_intake_fini(struct itd_intake *q);
/* At the start of tick `tick`: move the queued inputs due by this tick
 * into `out` (room for cap + ITD_INTAKE_CONTROL) and return how many;
 * later inputs apply at tick + 1. */
uint32_t itd_intake_take(struct itd_intake *q, struct itd_input *out, uint64_t tick);

/* Phases (engine_tick.c). */
void itd_engine_phase_intake(struct itd_engine *e);
void itd_engine_phase_dynamics(struct itd_engine *e);
void itd_engine_phase_autonomy(struct itd_engine *e);
void itd_engine_phase_gate(struct itd_engine *e);
void itd_engine_phase_execute(struct itd_engine *e);
void itd_engine_phase_report(struct itd_engine *e);

/* Create an intent and report it (received + queued, or rejected). */
struct itd_intent *itd_engine_create_intent(struct itd_engine *e,
					     const struct itd_intent_spec *spec);

#endif
