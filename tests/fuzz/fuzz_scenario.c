/* fuzz_scenario.c: libFuzzer target for the scenario loader: any input is
 * loaded as a scenario (with and without an override) and everything is
 * freed; the loader must never crash, hang or leak. */
#include <stddef.h>
#include <stdint.h>

#include "scenario/scenario.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct itd_diags d = {0};
	struct itd_scenario *s = NULL;
	struct itd_override ovr[] = {{"state.battery.initial", "24"}};

	itd_scenario_load_text((const char *)data, size, "fuzz.yaml", NULL, 0, &s, &d);
	itd_scenario_destroy(s);
	s = NULL;
	itd_scenario_load_text((const char *)data, size, "fuzz.yaml", ovr, 1, &s, &d);
	itd_scenario_destroy(s);
	itd_diags_fini(&d);
	return 0;
}
