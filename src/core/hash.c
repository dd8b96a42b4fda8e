/* hash.c: XXH3 for state hashes; SHA-256 from OpenSSL's libcrypto (it uses
 * the CPU's SHA instructions: 4x libsodium's portable code on a 360-byte
 * audit entry here), HMAC-SHA-256 from libsodium (no allocation, as the
 * tick's telemetry redaction needs). */
#include <assert.h>
#include <pthread.h>
#include <sodium.h>

#include <openssl/evp.h>
#include <string.h>
#define XXH_STATIC_LINKING_ONLY /* for XXH3_state_t, so streams need no malloc */
#include <xxhash.h>

#include "core.h"

static_assert(sizeof(XXH3_state_t) <= sizeof(((struct itd_hash_stream *)0)->opaque),
	      "itd_hash_stream too small for XXH3_state_t");
static_assert(_Alignof(XXH3_state_t) <= 64, "XXH3_state_t alignment");

uint64_t itd_hash64(const void *data, size_t len, uint64_t seed)
{
	return XXH3_64bits_withSeed(data, len, seed);
}

void itd_hash_stream_init(struct itd_hash_stream *h, uint64_t seed)
{
	/* XXH3's reset keeps the secret of a state whose seed already
	 * matches, so stack garbage could pass for one: start from zeros. */
	memset(h->opaque, 0, sizeof h->opaque);
	XXH3_64bits_reset_withSeed((XXH3_state_t *)(void *)h->opaque, seed);
}

void itd_hash_stream_update(struct itd_hash_stream *h, const void *data, size_t len)
{
	XXH3_64bits_update((XXH3_state_t *)(void *)h->opaque, data, len);
}

uint64_t itd_hash_stream_digest(const struct itd_hash_stream *h)
{
	return XXH3_64bits_digest((const XXH3_state_t *)(const void *)h->opaque);
}

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static int crypto_rc;
static EVP_MD *sha256_md; /* fetched once: a fetch per digest costs as much as the digest */

static void crypto_setup(void)
{
	crypto_rc = sodium_init();
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static int crypto_ready(void)
{
	pthread_once(&crypto_once, crypto_setup);
	return crypto_rc < 0 ? ITD_EINTERNAL : ITD_OK;
}

int itd_sha256(const void *data, size_t len, uint8_t out[ITD_SHA256_LEN])
{
	int rc = crypto_ready();
	if (rc)
		return rc;
	if (!sha256_md || !EVP_Digest(data, len, out, NULL, sha256_md, NULL)) {
		memset(out, 0, ITD_SHA256_LEN);
		return ITD_EINTERNAL;
	}
	return ITD_OK;
}

int itd_hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
		    uint8_t out[ITD_SHA256_LEN])
{
	int rc = crypto_ready();
	if (rc)
		return rc;
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, key, key_len);
	crypto_auth_hmacsha256_update(&st, data, len);
	crypto_auth_hmacsha256_final(&st, out);
	sodium_memzero(&st, sizeof st);
	return ITD_OK;
}

void itd_hex(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}
