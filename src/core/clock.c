/* clock.c: simulated and real clocks, pacing and ISO 8601 stamps. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <time.h>

#include "core.h"

void itd_clock_init(struct itd_clock *c, enum itd_clock_mode mode, double rate_hz)
{
	c->mode = mode;
	c->period_ns = rate_hz > 0 ? (uint64_t)(1e9 / rate_hz + 0.5) : 0;
	c->epoch_ms = ITD_CLOCK_SIM_EPOCH_MS;
	c->start_ns = itd_clock_mono_ns();
}

uint64_t itd_clock_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t itd_clock_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t itd_clock_tick_ms(const struct itd_clock *c, uint64_t tick)
{
	if (c->mode == ITD_CLOCK_REAL)
		return itd_clock_wall_ms();
	uint64_t period = c->period_ns ? c->period_ns : 1000000000u;
	return c->epoch_ms + (int64_t)((tick * period) / 1000000u);
}

uint64_t itd_clock_due_ns(const struct itd_clock *c, uint64_t tick)
{
	return c->start_ns + tick * c->period_ns;
}

void itd_clock_sleep_until(uint64_t ns)
{
	struct timespec ts = {
		.tv_sec = (time_t)(ns / 1000000000u),
		.tv_nsec = (long)(ns % 1000000000u),
	};
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		return; /* a signal: let the loop look at its flags */
}

/* Days since 1970-01-01 to civil date (Howard Hinnant's algorithm), so we
 * need neither gmtime_r's locks nor its time_t range. */
static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t yy = (int64_t)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = yy + (*m <= 2);
}

static char *put_digits(char *p, unsigned v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

size_t itd_clock_iso(int64_t ms, char *out)
{
	int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
	int64_t rem = ms - days * 86400000;
	int64_t y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	if (y < 0)
		y = 0;
	if (y > 9999)
		y = 9999;
	unsigned r = (unsigned)rem;
	char *p = out;
	p = put_digits(p, (unsigned)y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = 'T';
	p = put_digits(p, r / 3600000, 2);
	*p++ = ':';
	p = put_digits(p, r / 60000 % 60, 2);
	*p++ = ':';
	p = put_digits(p, r / 1000 % 60, 2);
	*p++ = '.';
	p = put_digits(p, r % 1000, 3);
	*p++ = 'Z';
	*p = '\0';
	return (size_t)(p - out);
}
