/* engine_run.c: running ticks back to back (sim) or paced in real time,
 * with overrun accounting: a tick that starts more than one period after
 * it was due is a slip, counted and reported, and the schedule is not
 * silently stretched (later ticks keep their original due times). */
#include "engine_int.h"

/* One tick, holding the state lock for writing if there is one; then the
 * observer's after_tick, outside it. */
static int locked_step(struct itd_engine *e)
{
	if (e->state_lock)
		pthread_rwlock_wrlock(e->state_lock);
	int rc = itd_engine_step(e);
	if (e->state_lock)
		pthread_rwlock_unlock(e->state_lock);
	if (!rc && e->obs.after_tick)
		e->obs.after_tick(e->obs.ctx, e);
	return rc;
}

bool itd_engine_paused(const struct itd_engine *e)
{
	return __atomic_load_n(&e->paused, __ATOMIC_ACQUIRE);
}

void itd_engine_hold(struct itd_engine *e)
{
	__atomic_store_n(&e->paused, true, __ATOMIC_RELEASE);
}

void itd_engine_resume(struct itd_engine *e)
{
	__atomic_store_n(&e->paused, false, __ATOMIC_RELEASE);
}

int itd_engine_run(struct itd_engine *e, uint64_t n, const volatile int *stop)
{
	bool paced = e->clock.mode == ITD_CLOCK_REAL && e->clock.period_ns > 0;
	uint64_t first = e->tick;
	if (paced)
		e->clock.start_ns = itd_clock_mono_ns() - first * e->clock.period_ns;
	for (uint64_t i = 0; n == 0 || i < n; i++) {
		if ((stop && *stop) || itd_engine_paused(e))
			break;
		if (paced) {
			uint64_t due = itd_clock_due_ns(&e->clock, e->tick + 1);
			uint64_t now = itd_clock_mono_ns();
			if (now < due) {
				itd_clock_sleep_until(due);
				if (stop && *stop)
					break;
			} else if (now - due > e->clock.period_ns) {
				/* Reported by the tick itself, before its frame. */
				e->stats.slips++;
				e->slip_ns = now - due;
			}
		}
		int rc = locked_step(e);
		if (rc)
			return rc;
	}
	return ITD_OK;
}

uint64_t itd_engine_next_due_ns(const struct itd_engine *e)
{
	if (e->clock.mode != ITD_CLOCK_REAL || e->clock.period_ns == 0)
		return 0;
	return itd_clock_due_ns(&e->clock, e->tick + 1);
}
