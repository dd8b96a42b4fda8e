/* test_tel_sink_file.c: the file sink end to end: missing directories are
 * created, every event lands once and in seq order, append and truncate
 * modes, and clear errors for paths it cannot use. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/telemetry.h"
#include "test_support.h"

/* Write n events through a file sink at path. */
static void run(const char *path, bool truncate, uint64_t n)
{
	const struct itd_sink_ops *ops;
	void *ctx;
	char err[256];
	/* Block: this test is about the file, not about drops. */
	struct itd_tel_config cfg = {
		.run_id = "file-run",
		.flush_every_tick = true,
		.policy = ITD_TEL_BLOCK,
	};
	struct itd_tel *t;
	assert_int_equal(itd_tel_create(&cfg, &t), 0);
	assert_int_equal(itd_sink_file_open(path, truncate, &ops, &ctx, err, sizeof err), 0);
	assert_string_equal(ops->kind, "file");
	assert_int_equal(itd_tel_add_sink(t, "file", ops, ctx), 0);
	for (uint64_t i = 0; i < n; i++) {
		struct itd_jw *w = itd_tel_begin(t, "engine.tick", "engine", i / 100 + 1, 0);
		itd_jw_ku64(w, "i", i);
		itd_jw_kstr(w, "pad", "some text so lines are of a realistic length, more or less");
		itd_tel_end(t);
		if (i % 100 == 99)
			itd_tel_tick_end(t, i / 100 + 1, 0);
	}
	itd_tel_destroy(t);
}

/* Check the file holds runs of seq 1..n_i back to back. */
static void check(const char *path, const uint64_t *runs, size_t n_runs)
{
	size_t len;
	char *data = itd_test_read_file(path, &len);
	char *line = data;
	for (size_t r = 0; r < n_runs; r++) {
		for (uint64_t seq = 1; seq <= runs[r]; seq++) {
			char *nl = strchr(line, '\n');
			assert_non_null(nl);
			*nl = '\0'; /* search this line only */
			const char *p = strstr(line, "\"seq\":");
			assert_non_null(p);
			assert_int_equal(strtoull(p + 6, NULL, 10), seq);
			line = nl + 1;
		}
	}
	assert_int_equal(*line, '\0');
	free(data);
}

static void test_file_sink_appends_all_events_in_order(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("telfile");
	char path[4096];
	snprintf(path, sizeof path, "%s/logs/telemetry/deep/run.jsonl", dir);
	run(path, false, 50000);
	uint64_t runs[] = { 50000, 300 };
	check(path, runs, 1);
	run(path, false, 300); /* appends */
	check(path, runs, 2);
	run(path, true, 7); /* truncates */
	runs[0] = 7;
	check(path, runs, 1);
	unlink(path);
	free(dir);
}

static void test_file_sink_errors(void **state)
{
	(void)state;
	const struct itd_sink_ops *ops = (const struct itd_sink_ops *)1;
	void *ctx = (void *)1;
	char err[256] = "";
	assert_int_equal(itd_sink_file_open("-", false, &ops, &ctx, err, sizeof err), ITD_EINVAL);
	assert_null(ops);
	assert_null(ctx);
	assert_true(strlen(err) > 0);
	assert_int_equal(itd_sink_file_open("", false, &ops, &ctx, err, sizeof err), ITD_EINVAL);
	/* A directory cannot be made under a regular file. */
	assert_int_equal(itd_sink_file_open("/dev/null/sub/x.jsonl", false, &ops, &ctx, err,
					    sizeof err), ITD_EIO);
	assert_non_null(strstr(err, "/dev/null/sub/x.jsonl"));
	/* The path is a directory. */
	char *dir = itd_test_tmpdir("telfile");
	assert_int_equal(itd_sink_file_open(dir, false, &ops, &ctx, err, sizeof err), ITD_EIO);
	assert_non_null(strstr(err, dir));
	free(dir);
}

/* Appending after a crash that tore the last line: the torn part is cut
 * off, whole lines stay, and the next write starts a line of its own. */
static void test_append_drops_a_torn_last_line(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("torn");
	char path[4200];
	snprintf(path, sizeof path, "%s/t.jsonl", dir);
	static const char *const cases[][2] = {
		{"{\"a\":1}\n{\"b\":2}\n{\"c\":", "{\"a\":1}\n{\"b\":2}\n"},
		{"{\"a\":1}\n", "{\"a\":1}\n"},
		{"{\"torn", ""},
		{"", ""},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		fputs(cases[i][0], f);
		fclose(f);
		const struct itd_sink_ops *ops;
		void *ctx;
		char err[256];
		assert_int_equal(itd_sink_file_open(path, false, &ops, &ctx, err, sizeof err), ITD_OK);
		assert_int_equal(ops->write(ctx, "{\"z\":9}\n", 8), ITD_OK);
		ops->close(ctx);
		char want[256];
		snprintf(want, sizeof want, "%s{\"z\":9}\n", cases[i][1]);
		size_t len;
		char *got = itd_test_read_file(path, &len);
		assert_string_equal(got, want);
		free(got);
	}
	unlink(path);
	rmdir(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_file_sink_appends_all_events_in_order),
		cmocka_unit_test(test_file_sink_errors),
		cmocka_unit_test(test_append_drops_a_torn_last_line),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
