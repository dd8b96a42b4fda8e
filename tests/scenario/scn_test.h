/* scn_test.h: helpers shared by the scenario suites: load a scenario text
 * and get its diagnostics as the "FILE:LINE:COL: message" lines that
 * `intentd validate` prints. */
#ifndef ITD_SCN_TEST_H
#define ITD_SCN_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/scenario.h"
#include "test_support.h"

/* Load text (as "t.yaml") with overrides; expect rc; return the printed
 * diagnostics (caller frees). */
static inline char *scn_load_diags(const char *text, const struct itd_override *o, size_t n,
				   int expect_rc)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = (struct itd_scenario *)&d;
	int rc = itd_scenario_load_text(text, strlen(text), "t.yaml", o, n, &s, &d);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	itd_diags_print(&d, f);
	fclose(f);
	if (rc != expect_rc)
		fail_msg("rc %d, expected %d; diagnostics:\n%s", rc, expect_rc, buf);
	if (rc)
		assert_null(s);
	else
		assert_non_null(s);
	itd_scenario_destroy(rc ? NULL : s);
	itd_diags_fini(&d);
	return buf;
}

/* Assert that loading text fails with exactly the diagnostics `want`. */
#define assert_diags(text, want)                                            \
	do {                                                                \
		char *got_ = scn_load_diags((text), NULL, 0, ITD_ECONFIG); \
		assert_string_equal(got_, (want));                          \
		free(got_);                                                 \
	} while (0)

/* Load text that must be valid; the caller destroys the result. */
static inline struct itd_scenario *scn_load_ok(const char *text, const struct itd_override *o,
					       size_t n)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	int rc = itd_scenario_load_text(text, strlen(text), "t.yaml", o, n, &s, &d);
	if (rc) {
		itd_diags_print(&d, stderr);
		fail_msg("load failed: rc %d", rc);
	}
	assert_int_equal(d.n, 0);
	itd_diags_fini(&d);
	return s;
}

#endif
