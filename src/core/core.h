/* core.h: the vocabulary every intentd module shares: one allocator, one
 * error table, clocks, named RNG streams and hashing.  Nothing here knows
 * about scenarios, intents or I/O beyond the clock. */
#ifndef ITD_CORE_H
#define ITD_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* ---------------------------------------------------------------- errors */

/* X(NAME, value, message).  0 is success; every failure is negative and has
 * a stable name (printed in logs and JSON error bodies) and a message. */
#define ITD_ERRORS(X)                                              \
	X(OK, 0, "success")                                        \
	X(NOMEM, -1, "out of memory")                              \
	X(INVAL, -2, "invalid argument")                           \
	X(IO, -3, "input/output error")                            \
	X(PARSE, -4, "syntax error")                               \
	X(TYPE, -5, "type error")                                  \
	X(NOTFOUND, -6, "not found")                               \
	X(EXISTS, -7, "already exists")                            \
	X(CONFLICT, -8, "conflict")                                \
	X(FULL, -9, "capacity exhausted")                          \
	X(STATE, -10, "transition not allowed in this state")      \
	X(RANGE, -11, "value out of range")                        \
	X(LIMIT, -12, "limit exceeded")                            \
	X(CONFIG, -13, "invalid configuration")                    \
	X(VERIFY, -14, "verification failed")                      \
	X(AGAIN, -15, "temporarily unavailable")                   \
	X(INTERNAL, -16, "internal error")

enum itd_err {
#define ITD_ERR_ENUM(name, val, msg) ITD_E##name = (val),
	ITD_ERRORS(ITD_ERR_ENUM)
#undef ITD_ERR_ENUM
	ITD_OK = ITD_EOK, /* the success code, spelled as callers read it */
};

/* Stable upper-case name of an error code ("NOMEM"); "UNKNOWN" otherwise. */
const char *itd_err_name(int rc);
/* Human message for an error code; never NULL. */
const char *itd_err_msg(int rc);

/* ------------------------------------------------------------- allocator */

/* All heap memory goes through these.  They behave like their libc
 * namesakes; itd_free(NULL) is a no-op.  They fail (return NULL) when the
 * failure-injection hook says so, which is how tests walk every allocation
 * failure path of the parsers. */
void *itd_malloc(size_t n);
void *itd_calloc(size_t n, size_t size);
void *itd_realloc(void *p, size_t n);
void itd_free(void *p);
/* Copies of a string (or its first n bytes); NULL on allocation failure.
 * The caller owns the result. */
char *itd_strdup(const char *s);
char *itd_strndup(const char *s, size_t n);

/* Test hook: make the nth allocation from now fail (1 = the next one).
 * 0 disables injection.  Each call resets the allocation counter. */
void itd_alloc_fail_at(long n);
/* Allocations attempted since the last itd_alloc_fail_at() call. */
long itd_alloc_count(void);
/* True if an injected failure has fired since the last itd_alloc_fail_at(). */
bool itd_alloc_failed(void);

/* ----------------------------------------------------------------- clock */

enum itd_clock_mode {
	ITD_CLOCK_SIM,  /* time is epoch + tick * period: byte-identical runs */
	ITD_CLOCK_REAL, /* wall time for stamps, monotonic time for pacing */
};

struct itd_clock {
	enum itd_clock_mode mode; /* sim or real */
	uint64_t period_ns;       /* tick period; 0 means "as fast as possible" */
	int64_t epoch_ms;         /* sim mode: wall time of tick 0 */
	uint64_t start_ns;        /* real mode: monotonic time of tick 0 */
};

/* The fixed sim epoch, 2025-01-01T00:00:00.000Z, in Unix milliseconds. */
#define ITD_CLOCK_SIM_EPOCH_MS INT64_C(1735689600000)

/* Initialise a clock.  rate_hz <= 0 means unpaced (period 0).  In sim mode
 * the stamp period is 1/rate_hz (1 s when unpaced), so stamps stay
 * meaningful and deterministic. */
void itd_clock_init(struct itd_clock *c, enum itd_clock_mode mode, double rate_hz);
/* Monotonic nanoseconds (CLOCK_MONOTONIC). */
uint64_t itd_clock_mono_ns(void);
/* Wall-clock Unix milliseconds (CLOCK_REALTIME). */
int64_t itd_clock_wall_ms(void);
/* The timestamp (Unix ms) of a tick: deterministic in sim mode, wall time
 * now in real mode. */
int64_t itd_clock_tick_ms(const struct itd_clock *c, uint64_t tick);
/* Monotonic deadline (ns) at which tick `tick` is due in real mode. */
uint64_t itd_clock_due_ns(const struct itd_clock *c, uint64_t tick);
/* Sleep until the monotonic time `ns` (returns early on a signal). */
void itd_clock_sleep_until(uint64_t ns);
/* Format Unix ms as ISO 8601 UTC with milliseconds and Z, e.g.
 * "2025-01-01T00:00:01.000Z".  out must hold ITD_ISO_LEN + 1 bytes.
 * Returns the length written (always ITD_ISO_LEN for years 0..9999). */
#define ITD_ISO_LEN 24
size_t itd_clock_iso(int64_t ms, char *out);

/* ------------------------------------------------------------------- rng */

/* A named random stream (xoshiro256**).  Each stream's starting state is
 * derived from the run seed and the stream's name, so adding a stream never
 * perturbs the others, and its state can be saved and restored exactly. */
struct itd_rng {
	uint64_t s[4]; /* generator state; never all zero */
};
#define ITD_RNG_STATE_LEN 32

void itd_rng_seed(struct itd_rng *r, uint64_t seed, const char *name);
uint64_t itd_rng_next(struct itd_rng *r);
/* Uniform double in [0, 1) with 53 random bits. */
double itd_rng_uniform(struct itd_rng *r);
/* Uniform integer in [0, n); n must be > 0.  Unbiased (rejection). */
uint64_t itd_rng_below(struct itd_rng *r, uint64_t n);
/* Serialise to / restore from 32 little-endian bytes.  Restore fails with
 * ITD_EINVAL for the all-zero state, which the generator cannot hold. */
void itd_rng_save(const struct itd_rng *r, uint8_t out[ITD_RNG_STATE_LEN]);
int itd_rng_restore(struct itd_rng *r, const uint8_t in[ITD_RNG_STATE_LEN]);

/* ------------------------------------------------------------------ hash */

/* 64-bit non-cryptographic hash (XXH3) for state hashes and tables. */
uint64_t itd_hash64(const void *data, size_t len, uint64_t seed);

/* Streaming form of itd_hash64, for hashing a state field by field
 * without building a buffer.  The state is opaque storage large enough
 * for XXH3's state; init/update/digest never allocate. */
struct itd_hash_stream {
	_Alignas(64) unsigned char opaque[640]; /* XXH3_state_t */
};
void itd_hash_stream_init(struct itd_hash_stream *h, uint64_t seed);
void itd_hash_stream_update(struct itd_hash_stream *h, const void *data, size_t len);
uint64_t itd_hash_stream_digest(const struct itd_hash_stream *h);

#define ITD_SHA256_LEN 32
/* SHA-256 of a buffer (libsodium).  Returns 0, or ITD_EINTERNAL if the
 * crypto library could not be initialised. */
int itd_sha256(const void *data, size_t len, uint8_t out[ITD_SHA256_LEN]);
/* HMAC-SHA-256 with a key of any length (libsodium). */
int itd_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		    uint8_t out[ITD_SHA256_LEN]);
/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
void itd_hex(const uint8_t *in, size_t n, char *out);

/* ----------------------------------------------------------------- bytes */

/* Little-endian integers in byte buffers (the on-disk layouts). */
static inline void itd_le_put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline void itd_le_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static inline uint64_t itd_le_get64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint32_t itd_le_get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

#endif
