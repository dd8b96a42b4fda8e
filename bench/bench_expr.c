/* bench_expr.c: how fast the expression VM evaluates the spacecraft
 * scenario's expressions, side by side with the same expressions written
 * as plain C, so the interpretation overhead is plain to see. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "expr/expr.h"

enum { G_BATTERY, G_TEMPERATURE, G_POSITION, G_MODE, G_TICK, N_G };
enum {
	I_TYPE, I_BLOCKED, I_RECOVERY, I_ENERGY, I_DOM_BATTERY, I_DOM_THERMAL, I_GOAL_REF,
	I_GOAL_TOL, I_THRESHOLD, I_TARGET, N_I
};

static const char *const modes[] = { "NOMINAL", "LOW_POWER", "SAFE" };

static const struct {
	const char *name;
	enum itd_type type;
	uint32_t slot;
} slots[] = {
	{ "state.battery", ITD_T_NUM, G_BATTERY },
	{ "state.temperature", ITD_T_NUM, G_TEMPERATURE },
	{ "state.position", ITD_T_NUM, G_POSITION },
	{ "mode", ITD_T_STR, G_MODE },
	{ "tick", ITD_T_NUM, G_TICK },
	{ "intent.type", ITD_T_STR, ITD_SLOT_INTENT | I_TYPE },
	{ "intent.blocked_ticks", ITD_T_NUM, ITD_SLOT_INTENT | I_BLOCKED },
	{ "intent.recovery", ITD_T_BOOL, ITD_SLOT_INTENT | I_RECOVERY },
	{ "intent.flags.energy_intensive", ITD_T_BOOL, ITD_SLOT_INTENT | I_ENERGY },
	{ "intent.domains.battery", ITD_T_BOOL, ITD_SLOT_INTENT | I_DOM_BATTERY },
	{ "intent.domains.thermal", ITD_T_BOOL, ITD_SLOT_INTENT | I_DOM_THERMAL },
	{ "intent.goal.reference", ITD_T_NUM, ITD_SLOT_INTENT | I_GOAL_REF },
	{ "intent.goal.tolerance", ITD_T_NUM, ITD_SLOT_INTENT | I_GOAL_TOL },
	{ "threshold", ITD_T_NUM, ITD_SLOT_INTENT | I_THRESHOLD },
	{ "target", ITD_T_NUM, ITD_SLOT_INTENT | I_TARGET },
};

/* The scenario's constants (spacecraft.yaml `constants:`). */
#define ORBIT_PERIOD 20.0
#define SUNLIT_TICKS 14.0
#define SOLAR_GAIN 1.2
#define SOLAR_EFFICIENCY 0.95
#define POWER_DRAW 0.6
#define BATTERY_SAFE 10.0
#define BATTERY_LOW 25.0
#define BATTERY_CRITICAL 5.0
#define TEMP_SAFE 120.0
#define TEMP_CRITICAL 140.0
#define TEMP_LIMIT 150.0
#define TEMP_NOMINAL 100.0
#define POSITION_LIMIT 10.0

static const struct {
	const char *name;
	double value;
} constants[] = {
	{ "orbit_period", ORBIT_PERIOD }, { "sunlit_ticks", SUNLIT_TICKS },
	{ "solar_gain", SOLAR_GAIN }, { "solar_efficiency", SOLAR_EFFICIENCY },
	{ "power_draw", POWER_DRAW }, { "battery_safe", BATTERY_SAFE },
	{ "battery_low", BATTERY_LOW }, { "battery_critical", BATTERY_CRITICAL },
	{ "temp_safe", TEMP_SAFE }, { "temp_critical", TEMP_CRITICAL },
	{ "temp_limit", TEMP_LIMIT }, { "temp_nominal", TEMP_NOMINAL },
	{ "position_limit", POSITION_LIMIT },
};

static int resolve(void *ctx, const char *name, size_t len, struct itd_expr_sym *sym, char *msg,
		   size_t cap)
{
	(void)ctx;
	(void)msg;
	(void)cap;
	memset(sym, 0, sizeof *sym);
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
		if (strlen(slots[i].name) != len || memcmp(slots[i].name, name, len) != 0)
			continue;
		sym->kind = ITD_SYM_SLOT;
		sym->type = slots[i].type;
		sym->slot = slots[i].slot;
		if (slots[i].slot == G_MODE) {
			sym->enum_values = modes;
			sym->n_enum = 3;
		}
		return 0;
	}
	for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
		if (strlen(constants[i].name) != len || memcmp(constants[i].name, name, len) != 0)
			continue;
		sym->kind = ITD_SYM_CONST;
		sym->type = ITD_T_NUM;
		sym->value = (struct itd_value){ .type = ITD_T_NUM, .num = constants[i].value };
		return 0;
	}
	return ITD_ENOTFOUND;
}

/* ------------------------------------------------ the same, in plain C */

#define G(i) (f->global[i])
#define I(i) (f->intent[i])
#define NOINLINE __attribute__((noinline))

static NOINLINE double c_mode_safe(const struct itd_expr_frame *f)
{
	return G(G_BATTERY).num <= BATTERY_SAFE || G(G_TEMPERATURE).num >= TEMP_SAFE;
}
static NOINLINE double c_mode_nominal(const struct itd_expr_frame *f)
{
	return strcmp(G(G_MODE).str, "SAFE") == 0 && G(G_BATTERY).num >= 19.5 &&
	       G(G_TEMPERATURE).num <= 101;
}
static NOINLINE double c_mode_low_power(const struct itd_expr_frame *f)
{
	return G(G_BATTERY).num <= BATTERY_LOW;
}
static NOINLINE double c_mode_recovered(const struct itd_expr_frame *f)
{
	return strcmp(G(G_MODE).str, "LOW_POWER") == 0 && G(G_BATTERY).num >= 29.5;
}
static NOINLINE double c_dynamics(const struct itd_expr_frame *f)
{
	double t = G(G_TICK).num, m = t - ORBIT_PERIOD * __builtin_floor(t / ORBIT_PERIOD);
	return G(G_BATTERY).num + (m < SUNLIT_TICKS ? SOLAR_GAIN * SOLAR_EFFICIENCY - POWER_DRAW :
					-POWER_DRAW);
}
static NOINLINE double c_orbit_complete(const struct itd_expr_frame *f)
{
	return G(G_POSITION).num >= I(I_GOAL_REF).num - I(I_GOAL_TOL).num;
}
static NOINLINE double c_threshold(const struct itd_expr_frame *f)
{
	return strcmp(G(G_MODE).str, "LOW_POWER") == 0 ? 30 : 20;
}
static NOINLINE double c_target(const struct itd_expr_frame *f)
{
	const char *m = G(G_MODE).str;
	return strcmp(m, "SAFE") == 0 ? 20 :
	       strcmp(m, "LOW_POWER") == 0 ? 30 : G(G_BATTERY).num < 30 ? 30 : 20;
}
static NOINLINE double c_battery_score(const struct itd_expr_frame *f)
{
	double t = I(I_THRESHOLD).num, v = (t - G(G_BATTERY).num) / t;
	return 1000 * (v > 0 ? v : 0);
}
static NOINLINE double c_battery_effect(const struct itd_expr_frame *f)
{
	double t = I(I_TARGET).num, b = G(G_BATTERY).num, v = b + 0.1 * (t - b);
	return v < t ? v : t;
}
static NOINLINE double c_thermal_score(const struct itd_expr_frame *f)
{
	double v = (G(G_TEMPERATURE).num - TEMP_NOMINAL) / TEMP_NOMINAL;
	return 1000 * (v > 0 ? v : 0);
}
static NOINLINE double c_score_adjust(const struct itd_expr_frame *f)
{
	const char *type = I(I_TYPE).str, *m = G(G_MODE).str;
	size_t n = strlen(type);
	bool rec = n >= 9 && memcmp(type + n - 9, "_recovery", 9) == 0;
	return (rec && strcmp(m, "LOW_POWER") == 0 ? 50 : 0) +
	       (rec && strcmp(m, "NOMINAL") == 0 ? -200 : 0) - 0.5 * I(I_BLOCKED).num;
}
static NOINLINE double c_inject_battery(const struct itd_expr_frame *f)
{
	return G(G_BATTERY).num <= BATTERY_SAFE || strcmp(G(G_MODE).str, "LOW_POWER") == 0;
}
static NOINLINE double c_battery_depleted(const struct itd_expr_frame *f)
{
	return G(G_BATTERY).num <= 0 && !I(I_RECOVERY).b;
}
static NOINLINE double c_position_bounds(const struct itd_expr_frame *f)
{
	double p = G(G_POSITION).num;
	return (p < -POSITION_LIMIT || p > POSITION_LIMIT) && !I(I_RECOVERY).b;
}
static NOINLINE double c_safe_mode_blocked(const struct itd_expr_frame *f)
{
	return strcmp(G(G_MODE).str, "SAFE") == 0 && !I(I_RECOVERY).b;
}
static NOINLINE double c_low_power_blocked(const struct itd_expr_frame *f)
{
	return strcmp(G(G_MODE).str, "LOW_POWER") == 0 && I(I_ENERGY).b;
}
static NOINLINE double c_battery_unsafe(const struct itd_expr_frame *f)
{
	return G(G_BATTERY).num <= BATTERY_SAFE && I(I_DOM_BATTERY).b && !I(I_RECOVERY).b;
}

static const struct {
	const char *name;
	const char *src; /* copied from scenarios/spacecraft.yaml */
	double (*native)(const struct itd_expr_frame *f);
} cases[] = {
	{ "mode_safe", "state.battery <= battery_safe or state.temperature >= temp_safe",
	  c_mode_safe },
	{ "mode_nominal", "mode == 'SAFE' and state.battery >= 19.5 and state.temperature <= 101",
	  c_mode_nominal },
	{ "mode_low_power", "state.battery <= battery_low", c_mode_low_power },
	{ "mode_recovered", "mode == 'LOW_POWER' and state.battery >= 29.5", c_mode_recovered },
	{ "dynamics_battery",
	  "state.battery + if(tick % orbit_period < sunlit_ticks,\n"
	  "                   solar_gain * solar_efficiency - power_draw,\n"
	  "                   -power_draw)",
	  c_dynamics },
	{ "orbit_complete",
	  "state.position >= intent.goal.reference - intent.goal.tolerance", c_orbit_complete },
	{ "var_threshold", "if(mode == 'LOW_POWER', 30, 20)", c_threshold },
	{ "var_target",
	  "if(mode == 'SAFE', 20,\n   if(mode == 'LOW_POWER', 30,\n      "
	  "if(state.battery < 30, 30, 20)))",
	  c_target },
	{ "battery_score", "1000 * max(0, (threshold - state.battery) / threshold)",
	  c_battery_score },
	{ "battery_effect", "min(target, state.battery + 0.1 * (target - state.battery))",
	  c_battery_effect },
	{ "thermal_score",
	  "1000 * max(0, (state.temperature - temp_nominal) / temp_nominal)", c_thermal_score },
	{ "score_adjust",
	  "if(ends_with(intent.type, '_recovery') and mode == 'LOW_POWER', 50, 0)\n"
	  "+ if(ends_with(intent.type, '_recovery') and mode == 'NOMINAL', -200, 0)\n"
	  "- 0.5 * intent.blocked_ticks",
	  c_score_adjust },
	{ "inject_battery", "state.battery <= battery_safe or mode == 'LOW_POWER'",
	  c_inject_battery },
	{ "battery_depleted", "state.battery <= 0 and not intent.recovery", c_battery_depleted },
	{ "position_bounds",
	  "(state.position < -position_limit or state.position > position_limit)\n"
	  "and not intent.recovery",
	  c_position_bounds },
	{ "safe_mode_blocked", "mode == 'SAFE' and not intent.recovery", c_safe_mode_blocked },
	{ "low_power_blocked", "mode == 'LOW_POWER' and intent.flags.energy_intensive",
	  c_low_power_blocked },
	{ "battery_unsafe",
	  "state.battery <= battery_safe and intent.domains.battery and not intent.recovery",
	  c_battery_unsafe },
};

#define N_CASES (sizeof cases / sizeof cases[0])
#define ITERS 400000
#define RUNS 5

static struct itd_value g[N_G], in[N_I];
static volatile double sink;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The battery sweeps 0..30 so branches go both ways, as in a real run. */
static double battery_at(long i)
{
	return (double)(i & 63) * 0.5;
}

static double time_expr(const struct itd_expr *e, const struct itd_expr_frame *f)
{
	struct itd_value v;
	double acc = 0;
	uint64_t t0 = now_ns();
	for (long i = 0; i < ITERS; i++) {
		g[G_BATTERY].num = battery_at(i);
		itd_expr_eval(e, f, &v);
		acc += v.type == ITD_T_NUM ? v.num : v.b;
	}
	uint64_t t1 = now_ns();
	sink = acc;
	return (double)(t1 - t0) / ITERS;
}

static double time_native(double (*fn)(const struct itd_expr_frame *),
			  const struct itd_expr_frame *f)
{
	double acc = 0;
	uint64_t t0 = now_ns();
	for (long i = 0; i < ITERS; i++) {
		g[G_BATTERY].num = battery_at(i);
		acc += fn(f);
	}
	uint64_t t1 = now_ns();
	sink = acc;
	return (double)(t1 - t0) / ITERS;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof v[0], cmp_double);
	return v[n / 2];
}

int main(void)
{
	static const struct itd_expr_env env = { .resolve = resolve };
	const struct itd_expr_frame f = { .global = g, .intent = in };
	double sum_e = 0, sum_c = 0;

	g[G_BATTERY] = (struct itd_value){ .type = ITD_T_NUM, .num = 4 };
	g[G_TEMPERATURE] = (struct itd_value){ .type = ITD_T_NUM, .num = 120 };
	g[G_POSITION] = (struct itd_value){ .type = ITD_T_NUM, .num = 0.5 };
	g[G_MODE] = (struct itd_value){ .type = ITD_T_STR, .str = "LOW_POWER" };
	g[G_TICK] = (struct itd_value){ .type = ITD_T_NUM, .num = 17 };
	in[I_TYPE] = (struct itd_value){ .type = ITD_T_STR, .str = "battery_recovery" };
	in[I_BLOCKED] = (struct itd_value){ .type = ITD_T_NUM, .num = 3 };
	in[I_RECOVERY] = (struct itd_value){ .type = ITD_T_BOOL, .b = false };
	in[I_ENERGY] = (struct itd_value){ .type = ITD_T_BOOL, .b = true };
	in[I_DOM_BATTERY] = (struct itd_value){ .type = ITD_T_BOOL, .b = true };
	in[I_DOM_THERMAL] = (struct itd_value){ .type = ITD_T_BOOL, .b = false };
	in[I_GOAL_REF] = (struct itd_value){ .type = ITD_T_NUM, .num = 3 };
	in[I_GOAL_TOL] = (struct itd_value){ .type = ITD_T_NUM, .num = 0.1 };
	in[I_THRESHOLD] = (struct itd_value){ .type = ITD_T_NUM, .num = 30 };
	in[I_TARGET] = (struct itd_value){ .type = ITD_T_NUM, .num = 30 };

	printf("bench_expr: ns per evaluation, median of %d runs of %d evaluations\n", RUNS, ITERS);
	for (size_t c = 0; c < N_CASES; c++) {
		struct itd_expr *e = NULL;
		struct itd_expr_error err;
		int rc = itd_expr_compile(cases[c].src, strlen(cases[c].src), &env, ITD_T_NONE, &e,
					  &err);
		if (rc) {
			fprintf(stderr, "bench_expr: %s: %s at offset %zu: %s\n", cases[c].name,
				itd_err_name(rc), err.offset, err.msg);
			return 1;
		}
		/* Check the native twin computes the same before timing it. */
		for (long i = 0; i < 64; i++) {
			struct itd_value v;
			g[G_BATTERY].num = battery_at(i);
			itd_expr_eval(e, &f, &v);
			double want = cases[c].native(&f), got = v.type == ITD_T_NUM ? v.num : v.b;
			if (got != want) {
				fprintf(stderr, "bench_expr: %s: expr %g != native %g\n",
					cases[c].name, got, want);
				return 1;
			}
		}
		double te[RUNS], tc[RUNS];
		for (int r = 0; r < RUNS; r++) {
			te[r] = time_expr(e, &f);
			tc[r] = time_native(cases[c].native, &f);
		}
		double me = median(te, RUNS), mc = median(tc, RUNS);
		sum_e += me;
		sum_c += mc;
		printf("expr_eval %-18s: %6.1f ns/eval (native C: %5.1f ns, ratio %4.1f)\n",
		       cases[c].name, me, mc, me / mc);
		itd_expr_destroy(e);
	}
	printf("expr_eval %-18s: %6.1f ns/eval (native C: %5.1f ns, ratio %4.1f)\n", "mean",
	       sum_e / N_CASES, sum_c / N_CASES, sum_e / sum_c);
	return 0;
}
