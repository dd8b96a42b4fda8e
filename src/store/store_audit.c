/* store_audit.c: the audit chain's canonical encoding and hash, the chain
 * writer.  Storage (blocks of entries) lives in store_audit_block.c,
 * verification and the tail restore in store_audit_verify.c, keys and
 * checkpoints in store_audit_sign.c; the byte layouts are documented in
 * store_audit.h. */
#include <string.h>

#include <sodium.h>

#include "store_audit_int.h"

static const char format_tag[16] = "intentd.audit.v1"; /* exactly 16, no NUL */

static const char *const fault_names[] = {
	[ITD_AUDIT_INTACT] = "intact",
	[ITD_AUDIT_HASH_MISMATCH] = "hash_mismatch",
	[ITD_AUDIT_PREV_MISMATCH] = "prev_mismatch",
	[ITD_AUDIT_MISSING] = "missing",
	[ITD_AUDIT_TRUNCATED] = "truncated",
	[ITD_AUDIT_ORDER] = "order",
	[ITD_AUDIT_MALFORMED] = "malformed",
	[ITD_AUDIT_BAD_SIGNATURE] = "bad_signature",
	[ITD_AUDIT_BAD_CHECKPOINT] = "bad_checkpoint",
	[ITD_AUDIT_NO_CHECKPOINT] = "no_checkpoint",
	[ITD_AUDIT_HEAD_MISMATCH] = "head_mismatch",
};

const char *itd_audit_fault_name(enum itd_audit_fault f)
{
	if ((unsigned)f >= sizeof fault_names / sizeof fault_names[0])
		return "?";
	return fault_names[f];
}


int itd_audit_sql_err(int src)
{
	if (src == SQLITE_IOERR_NOMEM)
		return ITD_ENOMEM;
	switch (src & 0xff) {
	case SQLITE_NOMEM:
		return ITD_ENOMEM;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return ITD_EAGAIN;
	case SQLITE_CONSTRAINT:
		return ITD_EEXISTS;
	default:
		return ITD_EIO;
	}
}

/* ---------------------------------------------------------- encoding */

/* Where encoded bytes go: a bounded buffer (the length counts on past it). */
struct sink {
	uint8_t *buf;                  /* copy them here */
	size_t cap;                    /* buf's size */
	size_t len;                    /* bytes emitted so far */
};

static void put(struct sink *s, const void *p, size_t n)
{
	if (n && s->len + n <= s->cap)
		memcpy(s->buf + s->len, p, n);
	s->len += n;
}

static void put_u64(struct sink *s, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put(s, b, sizeof b);
}

static void put_field(struct sink *s, const void *p, size_t n)
{
	put_u64(s, n);
	put(s, p, n);
}

static void put_int(struct sink *s, uint64_t v)
{
	put_u64(s, 8);
	put_u64(s, v);
}

int itd_audit_check(const struct itd_audit_entry *e, size_t len[3])
{
	const char *t[3] = {e->kind, e->subject ? e->subject : "", e->actor ? e->actor : ""};
	if (!e->kind || (!e->data && e->data_len))
		return ITD_EINVAL;
	for (int i = 0; i < 3; i++) {
		len[i] = strnlen(t[i], ITD_AUDIT_MAX_TEXT + 1);
		if (len[i] > ITD_AUDIT_MAX_TEXT)
			return ITD_ELIMIT;
	}
	if (e->data_len > ITD_AUDIT_MAX_DATA)
		return ITD_ELIMIT;
	return ITD_OK;
}

/* The nine fields of store_audit.h's table, in order. */
static void emit(struct sink *s, const struct itd_audit_entry *e, const size_t len[3])
{
	put_field(s, format_tag, sizeof format_tag);
	put_int(s, e->index);
	put_int(s, e->tick);
	put_int(s, (uint64_t)e->time_ms);
	put_field(s, e->kind, len[0]);
	put_field(s, e->subject ? e->subject : "", len[1]);
	put_field(s, e->actor ? e->actor : "", len[2]);
	put_field(s, e->data ? (const void *)e->data : "", e->data_len);
	put_field(s, e->prev_hash, ITD_AUDIT_HASH_LEN);
}

int itd_audit_encode(const struct itd_audit_entry *e, uint8_t *buf, size_t cap, size_t *len_out)
{
	size_t len[3];
	*len_out = 0;
	int rc = itd_audit_check(e, len);
	if (rc)
		return rc;
	struct sink s = {.buf = buf, .cap = buf ? cap : 0};
	emit(&s, e, len);
	if (s.len > s.cap)
		return ITD_EFULL;
	*len_out = s.len;
	return ITD_OK;
}

int itd_audit_hash(const struct itd_audit_entry *e, uint8_t out[ITD_AUDIT_HASH_LEN])
{
	size_t len[3];
	memset(out, 0, ITD_AUDIT_HASH_LEN);
	int rc = itd_audit_check(e, len);
	if (rc)
		return rc;
	/* Most entries encode into a few hundred bytes: lay them out on the
	 * stack and hash them in one call (a digest update per field costs
	 * about a fifth of the hashing); a large one gets a buffer of its own. */
	uint8_t buf[2048];
	struct sink s = {.buf = buf, .cap = sizeof buf};
	emit(&s, e, len);
	if (s.len <= sizeof buf)
		return itd_sha256(buf, s.len, out);
	size_t need = s.len;
	s = (struct sink){.buf = itd_malloc(need), .cap = need};
	if (!s.buf)
		return ITD_ENOMEM;
	emit(&s, e, len);
	rc = itd_sha256(s.buf, s.len, out);
	itd_free(s.buf);
	return rc;
}

/* ------------------------------------------------------------- chain */

void itd_audit_chain_init(struct itd_audit_chain *c)
{
	memset(c, 0, sizeof *c);
}

void itd_audit_chain_fini(struct itd_audit_chain *c)
{
	sodium_memzero(c, sizeof *c);
}

int itd_audit_chain_set_signer(struct itd_audit_chain *c, const uint8_t sk[ITD_AUDIT_SK_LEN],
			       uint64_t every)
{
	if (every == 0)
		return ITD_EINVAL;
	memcpy(c->sk, sk, ITD_AUDIT_SK_LEN);
	c->checkpoint_every = every;
	c->signing = true;
	return ITD_OK;
}

bool itd_audit_checkpoint_due(const struct itd_audit_chain *c)
{
	return c->signing && !c->broken && (c->index + 1) % (c->checkpoint_every + 1) == 0;
}

int itd_audit_append(struct itd_audit_chain *c, const struct itd_audit_entry *in,
		     struct itd_audit_entry *out)
{
	int rc = ITD_ESTATE;
	struct itd_audit_entry e;
	if (c->broken)
		goto fail;
	rc = ITD_EINVAL;
	if (!in->kind || strcmp(in->kind, ITD_AUDIT_CHECKPOINT_KIND) == 0)
		goto fail;
	rc = ITD_ERANGE;
	if (c->index >= (uint64_t)INT64_MAX)
		goto fail;
	e = *in;
	e.index = c->index + 1;
	memcpy(e.prev_hash, c->hash, ITD_AUDIT_HASH_LEN);
	rc = itd_audit_hash(&e, e.hash);
	if (rc)
		goto fail;
	c->index = e.index;
	memcpy(c->hash, e.hash, ITD_AUDIT_HASH_LEN);
	*out = e;
	return ITD_OK;
fail:
	memset(out, 0, sizeof *out);
	return rc;
}

/* Append and insert a checkpoint if one is due, moving c past it. */
static int checkpoint_if_due(struct itd_audit_store *st, struct itd_audit_chain *c,
			     uint64_t tick, int64_t time_ms)
{
	if (!itd_audit_checkpoint_due(c))
		return ITD_OK;
	struct itd_audit_chain next = *c;
	struct itd_audit_entry cp;
	int rc = itd_audit_checkpoint(&next, tick, time_ms, &cp);
	if (rc == ITD_OK)
		rc = itd_audit_insert(st, &cp);
	if (rc == ITD_OK)
		*c = next;
	sodium_memzero(&next, sizeof next);
	return rc;
}

int itd_audit_record(struct itd_audit_store *st, struct itd_audit_chain *c,
		     const struct itd_audit_entry *in, struct itd_audit_entry *out)
{
	/* The chain moves past each row only once it is in, so after a failure
	 * it still matches the table as the caller's transaction sees it.  The
	 * first checkpoint_if_due only fires if a previous call failed between
	 * its entry and its checkpoint. */
	struct itd_audit_chain next;
	struct itd_audit_entry e;
	int rc = checkpoint_if_due(st, c, in->tick, in->time_ms);
	if (rc)
		goto fail;
	next = *c;
	rc = itd_audit_append(&next, in, &e);
	if (rc == ITD_OK)
		rc = itd_audit_insert(st, &e);
	if (rc == ITD_OK)
		*c = next;
	sodium_memzero(&next, sizeof next);
	if (rc)
		goto fail;
	rc = checkpoint_if_due(st, c, in->tick, in->time_ms);
	if (rc)
		goto fail;
	if (out)
		*out = e;
	return ITD_OK;
fail:
	if (out)
		memset(out, 0, sizeof *out);
	return rc;
}
