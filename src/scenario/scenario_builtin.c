/* scenario_builtin.c: the scenarios compiled into the binary from the YAML
 * files of scenarios/ (the build generates the table). */
#include "scenario/scenario_int.h"

extern const struct itd_embedded itd_builtin_scenarios[];

const struct itd_embedded *itd_scenario_builtins(void)
{
	return itd_builtin_scenarios;
}
