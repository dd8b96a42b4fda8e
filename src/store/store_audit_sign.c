/* store_audit_sign.c: Ed25519 checkpoints of the audit chain (libsodium)
 * and the key files that hold their keys.  Formats in store_audit.h. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "store_audit.h"

static const char cp_tag[27] = "intentd.audit.checkpoint.v1"; /* exactly 27, no NUL */
#define CP_MSG_LEN (sizeof cp_tag + 8 + ITD_AUDIT_HASH_LEN)

/* The signed message: tag || u64 LE index || hash. */
static void cp_message(uint8_t msg[CP_MSG_LEN], uint64_t index, const uint8_t hash[32])
{
	memcpy(msg, cp_tag, sizeof cp_tag);
	itd_le_put64(msg + sizeof cp_tag, index);
	memcpy(msg + sizeof cp_tag + 8, hash, ITD_AUDIT_HASH_LEN);
}

int itd_audit_checkpoint(struct itd_audit_chain *c, uint64_t tick, int64_t time_ms,
			 struct itd_audit_entry *out)
{
	int rc = ITD_ESTATE;
	uint8_t msg[CP_MSG_LEN];
	uint8_t data[ITD_AUDIT_CHECKPOINT_LEN];
	struct itd_audit_entry e = {.tick = tick, .time_ms = time_ms,
				    .kind = ITD_AUDIT_CHECKPOINT_KIND, .subject = "",
				    .actor = "intentd", .data_len = sizeof data};
	if (!c->signing || c->broken || c->index == 0)
		goto fail;
	rc = ITD_ERANGE;
	if (c->index >= (uint64_t)INT64_MAX)
		goto fail;
	rc = ITD_EINTERNAL;
	if (sodium_init() < 0)
		goto fail;
	cp_message(msg, c->index, c->hash);
	itd_le_put64(data, c->index);
	memcpy(data + 8, c->hash, ITD_AUDIT_HASH_LEN);
	if (crypto_sign_detached(data + 8 + ITD_AUDIT_HASH_LEN, NULL, msg, sizeof msg, c->sk))
		goto fail;
	/* Hash it against a local copy of the data, then move both into the
	 * chain only once nothing can fail. */
	e.data = data;
	e.index = c->index + 1;
	memcpy(e.prev_hash, c->hash, ITD_AUDIT_HASH_LEN);
	rc = itd_audit_hash(&e, e.hash);
	if (rc)
		goto fail;
	memcpy(c->cp_data, data, sizeof data);
	e.data = c->cp_data;
	c->index = e.index;
	memcpy(c->hash, e.hash, ITD_AUDIT_HASH_LEN);
	*out = e;
	return ITD_OK;
fail:
	memset(out, 0, sizeof *out);
	return rc;
}

enum itd_audit_fault itd_audit_checkpoint_check(const uint8_t pubkey[ITD_AUDIT_PK_LEN],
						uint64_t index,
						const uint8_t prev_hash[ITD_AUDIT_HASH_LEN],
						const uint8_t *data, size_t len)
{
	uint8_t msg[CP_MSG_LEN];
	if (len != ITD_AUDIT_CHECKPOINT_LEN || index < 2)
		return ITD_AUDIT_BAD_CHECKPOINT;
	if (itd_le_get64(data) != index - 1 ||
	    sodium_memcmp(data + 8, prev_hash, ITD_AUDIT_HASH_LEN) != 0)
		return ITD_AUDIT_BAD_CHECKPOINT;
	if (sodium_init() < 0)
		return ITD_AUDIT_BAD_SIGNATURE;
	cp_message(msg, index - 1, prev_hash);
	if (crypto_sign_verify_detached(data + 8 + ITD_AUDIT_HASH_LEN, msg, sizeof msg, pubkey))
		return ITD_AUDIT_BAD_SIGNATURE;
	return ITD_AUDIT_INTACT;
}

int itd_audit_head_from_checkpoint(const uint8_t pubkey[ITD_AUDIT_PK_LEN], const uint8_t *data,
				   size_t len, struct itd_audit_head *head_out)
{
	memset(head_out, 0, sizeof *head_out);
	if (len != ITD_AUDIT_CHECKPOINT_LEN)
		return ITD_EVERIFY;
	uint64_t index = itd_le_get64(data);
	if (index == 0 || index >= (uint64_t)INT64_MAX)
		return ITD_EVERIFY;
	if (itd_audit_checkpoint_check(pubkey, index + 1, data + 8, data, len))
		return ITD_EVERIFY;
	head_out->index = index;
	memcpy(head_out->hash, data + 8, ITD_AUDIT_HASH_LEN);
	return ITD_OK;
}

/* --------------------------------------------------------------- keys */

/* Write n bytes as hex plus a newline to a new file of the given mode;
 * the file is fsync'd.  It is removed again if anything fails. */
static int write_hex_file(const char *path, const uint8_t *bytes, size_t n, mode_t mode)
{
	char hex[2 * ITD_AUDIT_SK_LEN + 2];
	int rc = ITD_EIO;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0)
		return errno == EEXIST ? ITD_EEXISTS : ITD_EIO;
	sodium_bin2hex(hex, sizeof hex, bytes, n);
	hex[2 * n] = '\n';
	/* fchmod: the umask may have taken bits away (or an 0077 umask added
	 * none); the mode must be exactly what was asked. */
	if (fchmod(fd, mode) != 0)
		goto fail;
	size_t off = 0;
	while (off < 2 * n + 1) {
		ssize_t w = write(fd, hex + off, 2 * n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	sodium_memzero(hex, sizeof hex);
	if (close(fd) != 0) {
		unlink(path);
		return ITD_EIO;
	}
	return ITD_OK;
fail:
	sodium_memzero(hex, sizeof hex);
	close(fd);
	unlink(path);
	return rc;
}

int itd_audit_keygen(const char *path_secret, const char *path_public)
{
	uint8_t pk[ITD_AUDIT_PK_LEN], sk[ITD_AUDIT_SK_LEN];
	int rc = ITD_EINTERNAL;
	if (sodium_init() < 0)
		goto out;
	if (crypto_sign_keypair(pk, sk) != 0)
		goto out;
	rc = write_hex_file(path_secret, sk, sizeof sk, 0600);
	if (rc)
		goto out;
	rc = write_hex_file(path_public, pk, sizeof pk, 0644);
	if (rc)
		unlink(path_secret);
out:
	sodium_memzero(sk, sizeof sk);
	return rc;
}

/* Read a key file of n bytes in hex into out.  If secret, the file must be
 * a regular file private to its owner, checked on the open descriptor. */
static int read_hex_file(const char *path, uint8_t *out, size_t n, bool secret)
{
	char buf[2 * ITD_AUDIT_SK_LEN + 3];
	size_t len = 0, bin_len = 0;
	struct stat sb;
	int rc = ITD_EIO;
	memset(out, 0, n);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return errno == ENOENT ? ITD_ENOTFOUND : ITD_EIO;
	if (fstat(fd, &sb) != 0)
		goto out;
	rc = ITD_ECONFIG;
	if (secret && (!S_ISREG(sb.st_mode) || (sb.st_mode & 077) != 0))
		goto out;
	rc = ITD_EIO;
	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof buf - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0 || (len += (size_t)r) == sizeof buf)
			break;
	}
	rc = ITD_EPARSE;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len != 2 * n)
		goto out;
	if (sodium_hex2bin(out, n, buf, len, NULL, &bin_len, NULL) != 0 || bin_len != n)
		goto out;
	rc = ITD_OK;
out:
	if (rc)
		sodium_memzero(out, n);
	sodium_memzero(buf, sizeof buf);
	close(fd);
	return rc;
}

int itd_audit_key_load_secret(const char *path, uint8_t sk_out[ITD_AUDIT_SK_LEN])
{
	uint8_t seed[crypto_sign_SEEDBYTES], pk[ITD_AUDIT_PK_LEN], sk[ITD_AUDIT_SK_LEN];
	int rc = read_hex_file(path, sk_out, ITD_AUDIT_SK_LEN, true);
	if (rc)
		return rc;
	/* libsodium's secret key is seed || public key: re-derive it from the
	 * seed so a damaged file is refused here, not by every verifier. */
	rc = ITD_EINTERNAL;
	if (sodium_init() < 0)
		goto out;
	crypto_sign_ed25519_sk_to_seed(seed, sk_out);
	rc = ITD_EPARSE;
	if (crypto_sign_seed_keypair(pk, sk, seed) != 0 ||
	    sodium_memcmp(sk, sk_out, ITD_AUDIT_SK_LEN) != 0)
		goto out;
	rc = ITD_OK;
out:
	if (rc)
		sodium_memzero(sk_out, ITD_AUDIT_SK_LEN);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(sk, sizeof sk);
	return rc;
}

int itd_audit_key_load_public(const char *path, uint8_t pk_out[ITD_AUDIT_PK_LEN])
{
	return read_hex_file(path, pk_out, ITD_AUDIT_PK_LEN, false);
}
