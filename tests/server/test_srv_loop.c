/* test_srv_loop.c: a durable server's loop on a disk slower than its tick
 * rate (every fsync made 35 ms slow, against 10 ms ticks): the ticks keep
 * their schedule instead of waiting for each commit, while telemetry still
 * tells of a tick only once it is durable, and at the end of every tick,
 * once and in order. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../store/journal_fault_vfs.h"
#include "scenario_fixture.h"
#include "server/srv_int.h"

struct loop {
	struct itd_server *s;
	volatile int stop;
	int rc;
};

static void *run_loop(void *arg)
{
	struct loop *l = arg;
	l->rc = itd_server_run(l->s, &l->stop);
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* The cycles of the engine.tick events in the telemetry file, in file
 * order (at most cap); returns how many. */
static size_t tick_cycles(const char *path, uint64_t *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = 0;
	char line[8192];
	while (fgets(line, sizeof line, f)) {
		if (!strstr(line, "\"event\":\"engine.tick\""))
			continue;
		const char *c = strstr(line, "\"cycle\":");
		assert_non_null(c);
		if (n < cap)
			out[n] = strtoull(c + 8, NULL, 10);
		n++;
	}
	fclose(f);
	return n < cap ? n : cap;
}

static void test_slow_disk_keeps_pace(void **state)
{
	(void)state;
	shim_register();
	assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
	char *dir = itd_test_tmpdir("srv-loop");
	char data[4200], tel[4200];
	snprintf(data, sizeof data, "%s/data", dir);
	snprintf(tel, sizeof tel, "%s/telemetry.jsonl", dir);
	struct itd_scenario *scn = fixture_builtin("spacecraft", NULL, 0);
	struct itd_server_config cfg = {.scn = scn, .seed = 1, .rate_hz = 100, .run_id = "slow",
					.listen = "127.0.0.1:0", .data_dir = data,
					.telemetry = tel, .identity = "slow-disk",
					.identity_len = 9, .quiet = true};
	struct loop l = {0};
	char err[512];
	int rc = itd_server_create(&cfg, &l.s, err, sizeof err);
	if (rc)
		fail_msg("server: %s", err);
	fault_sync_delay(35);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, run_loop, &l), 0);

	/* While it runs, the file never tells of a tick that is not durable:
	 * the durable tick read after the file is at least its last tick. */
	static uint64_t cycles[4096];
	int ahead = 0;
	uint64_t max_lag = 0;
	for (int i = 0; i < 25; i++) {
		sleep_ms(60);
		size_t n = tick_cycles(tel, cycles, 4096);
		uint64_t durable = 0, tick = itd_engine_tick(l.s->engine);
		itd_store_last(l.s->store, &durable, NULL);
		if (n && cycles[n - 1] > durable)
			ahead++;
		if (tick > durable && tick - durable > max_lag)
			max_lag = tick - durable;
	}
	l.stop = 1;
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(l.rc, ITD_OK);
	fault_sync_delay(0);
	assert_int_equal(ahead, 0);
	/* The loop did run ahead of the disk: it did not wait for each commit. */
	assert_true(max_lag >= 2);

	struct itd_engine_stats es;
	itd_engine_stats(l.s->engine, &es);
	uint64_t ticks = itd_engine_tick(l.s->engine);
	/* 1.5 s at 100 Hz.  Waiting for each 35 ms commit would give fewer
	 * than 45 ticks, all of them late. */
	assert_true(ticks >= 110);
	assert_true(es.slips * 10 <= ticks);

	/* Stopped, every tick's telemetry is out: once each, in order. */
	itd_server_destroy(l.s);
	size_t n = tick_cycles(tel, cycles, 4096);
	assert_int_equal(n, ticks);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(cycles[i], i + 1);
	itd_scenario_destroy(scn);
	itd_test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_slow_disk_keeps_pace),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
