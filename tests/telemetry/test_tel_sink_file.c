/* test_tel_sink_file.c: the file sink end to end: missing directories are
 * created, every event lands once and in seq order, append and truncate
 * modes, and clear errors for paths it cannot use. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "telemetry/telemetry.h"
#include "telemetry/telemetry_events.h"
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

/* A line as the telemetry envelope has it. */
static int ev_line(char *buf, size_t cap, const char *run, uint64_t seq)
{
	return snprintf(buf, cap,
			"{\"schema_version\":\"1.0\",\"timestamp\":\"t\",\"source\":\"engine\","
			"\"run_id\":\"%s\",\"cycle\":1,\"seq\":%llu,\"event\":\"engine.tick\","
			"\"payload\":{\"note\":\",\\\"seq\\\":1\"}}\n",
			run, (unsigned long long)seq);
}

/* Write seq from..to of run into buf (whole lines); returns the length. */
static size_t ev_lines(char *buf, size_t cap, const char *run, uint64_t from, uint64_t to)
{
	size_t n = 0;
	for (uint64_t s = from; s <= to; s++)
		n += (size_t)ev_line(buf + n, cap - n, run, s);
	return n;
}

/* The seqs the file holds, in order, as "1,2,3". */
static void seqs_of(const char *path, char *out, size_t cap)
{
	size_t len, n = 0;
	char *data = itd_test_read_file(path, &len);
	out[0] = '\0';
	for (char *p = data; (p = strstr(p, ",\"seq\":")); p++)
		n += (size_t)snprintf(out + n, cap - n, "%s%llu", n ? "," : "",
				      strtoull(p + 7, NULL, 10));
	free(data);
}

/* A run resumed at seq `from` (its telemetry appended to path) emits n
 * events; with skip, that sink is told to skip through seq `through`. */
static void emit_run(const char *path, const char *run, uint64_t from, int n, const char *skip,
		     uint64_t through)
{
	char err[256];
	struct itd_tel_config cfg = {.run_id = run, .policy = ITD_TEL_BLOCK};
	struct itd_tel *t;
	assert_int_equal(itd_tel_create(&cfg, &t), ITD_OK);
	assert_int_equal(itd_tel_open_sink(t, path, run, true, err, sizeof err), ITD_OK);
	if (skip)
		itd_tel_skip_through(t, skip, through);
	itd_tel_set_seq(t, from);
	for (int i = 0; i < n; i++) {
		struct itd_jw *w = itd_tel_begin(t, "engine.tick", "engine", 1, 0);
		itd_jw_kstr(w, "note", ",\"seq\":1");
		itd_tel_end(t);
	}
	itd_tel_tick_end(t, 1, 0);
	itd_tel_destroy(t);
}

struct tail {
	int n;                 /* lines seen */
	bool whole;            /* each a whole event line */
};

static void tail_line(void *ctx, const char *line, size_t len)
{
	struct tail *t = ctx;
	t->n++;
	t->whole = t->n == 1 ? len > 2 && line[0] == '{' && line[len - 1] == '}'
			     : t->whole && line[0] == '{' && line[len - 1] == '}';
}

/* A run resumed from its journal re-emits events the file may hold
 * already: the sink skips those, up to the last event of the same run,
 * and writes the rest once.  Another run's file is not skipped into. */
static void test_resume_skips_what_the_file_holds(void **state)
{
	(void)state;
	char *dir = itd_test_tmpdir("resume");
	char path[4200], buf[8192], got[512];
	snprintf(path, sizeof path, "%s/t.jsonl", dir);
	char err[256];

	/* seq 1..5 of run r1, the last line torn by a crash. */
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	size_t n = ev_lines(buf, sizeof buf, "r1", 1, 5);
	fwrite(buf, 1, n - 10, f);
	fclose(f);
	const struct itd_sink_ops *ops;
	void *ctx;
	assert_int_equal(itd_sink_file_open(path, false, &ops, &ctx, err, sizeof err), ITD_OK);
	assert_int_equal(itd_sink_file_resume(ctx, "r1"), 4);
	assert_int_equal(itd_sink_file_resume(ctx, "r2"), 0);
	ops->close(ctx);

	/* r1 resumed: re-emitted 3..8, of which the file had 1..4. */
	emit_run(path, "r1", 2, 6, NULL, 0);
	seqs_of(path, got, sizeof got);
	assert_string_equal(got, "1,2,3,4,5,6,7,8");
	/* Another run's events: nothing skipped. */
	emit_run(path, "r2", 0, 2, NULL, 0);
	seqs_of(path, got, sizeof got);
	assert_string_equal(got, "1,2,3,4,5,6,7,8,1,2");
	/* A sink told to skip (as a server does for stdout) gets only what
	 * comes after. */
	emit_run(path, "r3", 0, 4, "file", 3);
	seqs_of(path, got, sizeof got);
	assert_string_equal(got, "1,2,3,4,5,6,7,8,1,2,4");

	/* The tail of the file, r1's lines only. */
	struct tail t = {0};
	assert_int_equal(itd_tel_file_tail(path, "r1", 100000, tail_line, &t), ITD_OK);
	assert_int_equal(t.n, 8);
	assert_true(t.whole);
	t.n = 0;
	/* A short tail starts at a whole line. */
	assert_int_equal(itd_tel_file_tail(path, "r1", 1000, tail_line, &t), ITD_OK);
	assert_true(t.n >= 1 && t.n < 8 && t.whole);
	t.n = 0;
	assert_int_equal(itd_tel_file_tail(path, "r9", 100000, tail_line, &t), ITD_OK);
	assert_int_equal(t.n, 0);
	/* A missing file has no tail, and that is no error. */
	char missing[4300];
	snprintf(missing, sizeof missing, "%s/none.jsonl", dir);
	assert_int_equal(itd_tel_file_tail(missing, "r1", 100, tail_line, &t), ITD_OK);
	assert_int_equal(t.n, 0);
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
		cmocka_unit_test(test_resume_skips_what_the_file_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
