/* fuzz_snapshot.c: libFuzzer target for engine snapshots: any bytes given
 * to itd_engine_load are refused or leave an engine that runs, takes input
 * and saves again; never a crash, a hang, an over-read or undefined
 * behaviour.  An input whose first byte is odd is an edit of a real
 * snapshot made at start-up (bit 1: cut it to the length in bytes 1-2;
 * then (u16 offset, u8 xor) triples), so the fuzzer gets past the header
 * and the scenario fingerprint without a seed corpus; any other input is
 * loaded as it is, after its first byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/engine.h"

static struct itd_scenario *scn;
static struct itd_engine *eng;
static uint8_t *valid, *work, *out;
static size_t valid_len, cap;

/* A little of everything: submissions with keys and parameters-free goals,
 * cancellations, state faults and console notes. */
static void inputs(uint64_t *x, int n)
{
	char msg[160], id[32];
	struct itd_receipt r;
	for (int i = 0; i < n; i++) {
		*x = *x * 6364136223846793005ull + 1442695040888963407ull;
		uint64_t v = *x >> 33;
		struct itd_submission sub = {
			.type = (uint32_t)(v % scn->n_types),
			.goal = {.present = true, .metric = 0, .reference = (double)(v % 5),
				 .tolerance = 0.1},
			.idempotency_key = v % 3 ? NULL : (v % 2 ? "a" : "b"), .body_hash = v % 2,
			.actor = "fuzz"};
		if (scn->types[sub.type].goal == ITD_GOAL_NONE)
			sub.goal.present = false;
		snprintf(id, sizeof id, "i-%06llu", (unsigned long long)(v % 12 + 1));
		switch (v % 4) {
		case 0:
			itd_engine_submit(eng, &sub, &r, msg, sizeof msg);
			break;
		case 1:
			itd_engine_cancel(eng, id, "fuzz", NULL, NULL);
			break;
		case 2:
			itd_engine_set_field(eng, 1, (struct itd_value){.type = ITD_T_NUM,
									.num = (double)(v % 40)},
					     NULL, NULL);
			break;
		default:
			itd_engine_console(eng, ITD_CONSOLE_NOTE, "n", NULL, NULL);
			break;
		}
	}
}

static void setup(void)
{
	static const struct itd_override ovr[] = {{"engine.max_intents", "8"},
						  {"engine.intake_capacity", "8"},
						  {"engine.history_per_intent", "4"}};
	struct itd_diags d = {0};
	if (itd_scenario_load_builtin("spacecraft", ovr, 3, &scn, &d))
		abort();
	itd_diags_fini(&d);
	struct itd_engine_config cfg = {.scn = scn, .seed = 1, .clock = ITD_CLOCK_SIM};
	if (itd_engine_create(&cfg, &eng))
		abort();
	uint64_t x = 1;
	for (int t = 0; t < 60; t++) {
		inputs(&x, 2);
		itd_engine_step(eng);
	}
	inputs(&x, 3);
	cap = itd_engine_snapshot_bound(eng);
	valid = malloc(cap);
	work = malloc(cap);
	out = malloc(cap);
	if (!valid || !work || !out || itd_engine_save(eng, valid, cap, &valid_len, NULL))
		abort();
	itd_engine_reset(eng, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!eng)
		setup();
	const uint8_t *src = size ? data + 1 : data;
	size_t len = size ? size - 1 : 0;
	if (size && (data[0] & 1)) {
		size_t i = 1;
		len = valid_len;
		if ((data[0] & 2) && size >= 3) {
			len = (size_t)(data[1] | data[2] << 8) % (valid_len + 1);
			i = 3;
		}
		memcpy(work, valid, len);
		for (; len && i + 3 <= size; i += 3)
			work[(size_t)(data[i] | data[i + 1] << 8) % len] ^= data[i + 2];
		src = work;
	}
	/* A buffer of exactly len bytes, so a read past its end is caught. */
	uint8_t *snap = malloc(len ? len : 1);
	if (!snap)
		return 0;
	memcpy(snap, src, len);
	if (itd_engine_load(eng, snap, len, NULL) == ITD_OK) {
		uint64_t x = 7;
		for (int t = 0; t < 6; t++) {
			inputs(&x, 2);
			itd_engine_step(eng);
		}
		size_t n;
		itd_engine_save(eng, out, cap, &n, NULL);
	}
	free(snap);
	itd_engine_reset(eng, 1); /* every input starts from the same engine */
	return 0;
}
