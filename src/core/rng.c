/* rng.c: named random streams (xoshiro256**, seeded by splitmix64 from the
 * run seed and the stream name). */
#include <string.h>

#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

void itd_rng_seed(struct itd_rng *r, uint64_t seed, const char *name)
{
	uint64_t x = seed ^ itd_hash64(name, strlen(name), UINT64_C(0x696e74656e7464));
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

uint64_t itd_rng_next(struct itd_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

double itd_rng_uniform(struct itd_rng *r)
{
	return (double)(itd_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t itd_rng_below(struct itd_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t v;
	do
		v = itd_rng_next(r);
	while (v >= limit);
	return v % n;
}

void itd_rng_save(const struct itd_rng *r, uint8_t out[ITD_RNG_STATE_LEN])
{
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 8; b++)
			out[i * 8 + b] = (uint8_t)(r->s[i] >> (8 * b));
}

int itd_rng_restore(struct itd_rng *r, const uint8_t in[ITD_RNG_STATE_LEN])
{
	uint64_t s[4] = {0, 0, 0, 0};
	for (int i = 0; i < 4; i++)
		for (int b = 0; b < 8; b++)
			s[i] |= (uint64_t)in[i * 8 + b] << (8 * b);
	if (!(s[0] | s[1] | s[2] | s[3]))
		return ITD_EINVAL;
	memcpy(r->s, s, sizeof s);
	return ITD_OK;
}
