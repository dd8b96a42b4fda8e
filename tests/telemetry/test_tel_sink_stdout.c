/* test_tel_sink_stdout.c: the stdout sink writes whole lines to fd 1 and,
 * when the reader has gone, reports a write error instead of dying of
 * SIGPIPE. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

static void test_stdout_sink_writes_and_survives_epipe(void **state)
{
	(void)state;
	int pipefd[2];
	assert_int_equal(pipe(pipefd), 0);
	int saved = dup(STDOUT_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(pipefd[1], STDOUT_FILENO) >= 0);
	close(pipefd[1]);

	const struct itd_sink_ops *ops;
	void *ctx;
	assert_int_equal(itd_sink_stdout_open(&ops, &ctx), 0);
	assert_string_equal(ops->kind, "stdout");
	struct itd_tel_config cfg = { .run_id = "out" };
	struct itd_tel *t;
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_tel_add_sink(t, "stdout", ops, ctx), 0);
	itd_tel_begin(t, "engine.tick", "engine", 1, 0);
	itd_tel_end(t);
	itd_tel_drain(t);

	char buf[1024];
	ssize_t n = read(pipefd[0], buf, sizeof buf - 1);
	assert_true(n > 0);
	buf[n] = '\0';
	assert_non_null(strstr(buf, "\"event\":\"engine.tick\""));
	assert_int_equal(buf[n - 1], '\n');

	/* The reader goes away: the next write fails with EPIPE, counted. */
	close(pipefd[0]);
	itd_tel_begin(t, "engine.tick", "engine", 2, 0);
	itd_tel_end(t);
	itd_tel_drain(t);
	struct itd_tel_sink_stats st;
	itd_tel_sink_stats(t, 0, &st);
	assert_int_equal(st.write_errors, 1);
	assert_int_equal(st.events, 2);
	itd_tel_destroy(t);

	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stdout_sink_writes_and_survives_epipe),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
