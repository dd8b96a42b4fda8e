/* scenario_fixture.h: load scenarios for tests, failing the test with the
 * loader's diagnostics if they do not load. */
#ifndef ITD_SCENARIO_FIXTURE_H
#define ITD_SCENARIO_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario/scenario.h"
#include "test_support.h"

static inline struct itd_scenario *fixture_builtin(const char *name,
						   const struct itd_override *ovr, size_t n)
{
	struct itd_scenario *s = NULL;
	struct itd_diags d = {0};
	int rc = itd_scenario_load_builtin(name, ovr, n, &s, &d);
	if (rc)
		itd_diags_print(&d, stderr);
	itd_diags_fini(&d);
	assert_int_equal(rc, ITD_OK);
	return s;
}

static inline struct itd_scenario *fixture_text(const char *yaml)
{
	struct itd_scenario *s = NULL;
	struct itd_diags d = {0};
	int rc = itd_scenario_load_text(yaml, strlen(yaml), "fixture.yaml", NULL, 0, &s, &d);
	if (rc)
		itd_diags_print(&d, stderr);
	itd_diags_fini(&d);
	assert_int_equal(rc, ITD_OK);
	return s;
}

#endif
