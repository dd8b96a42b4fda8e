/* store_journal_block.c: the journal's input blocks (format 4).  A commit
 * stores the inputs it carries as one row of `input_block` rather than one
 * row each: one B-tree insert per commit instead of one per submission,
 * which was most of the writer's work per durable input.
 *
 * A block's data is its records back to back, in arrival order, each:
 *
 *   u64 arrival | u64 seq | i64 wall_ms | u32 kind | u32 actor_len |
 *   u64 data_len | actor bytes, then a NUL (none when actor_len is
 *   0xffffffff: no actor) | data bytes
 *
 * integers little-endian, no padding.  The row also holds the block's
 * first and last arrival and its record count, which a reader checks
 * against the data: a block that does not decode exactly is damage
 * (ITD_EVERIFY), never read past. */
#include <string.h>

#include "store_journal_int.h"

#define JBLOCK_HDR 40u /* the fixed part of a record */
#define NO_ACTOR UINT32_MAX

void itd_jblock_reset(struct jblock *b)
{
	b->len = 0;
	b->n = b->first = b->last = 0;
}

void itd_jblock_free(struct jblock *b)
{
	itd_free(b->buf);
	memset(b, 0, sizeof *b);
}

int itd_jblock_add(struct jblock *b, uint64_t arrival, uint64_t seq, int64_t wall_ms,
		   uint32_t kind, const char *actor, size_t actor_len, const void *data, size_t len)
{
	if (actor && actor_len >= NO_ACTOR)
		return ITD_EINVAL;
	if (b->n && arrival <= b->last)
		return ITD_EINVAL; /* arrivals only grow */
	size_t need = JBLOCK_HDR + (actor ? actor_len + 1 : 0) + len;
	if (need > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 64u << 10;
		while (cap - b->len < need)
			cap *= 2;
		uint8_t *np = itd_realloc(b->buf, cap);
		if (!np)
			return ITD_ENOMEM;
		b->buf = np;
		b->cap = cap;
	}
	uint8_t *p = b->buf + b->len;
	itd_le_put64(p, arrival);
	itd_le_put64(p + 8, seq);
	itd_le_put64(p + 16, (uint64_t)wall_ms);
	itd_le_put32(p + 24, kind);
	itd_le_put32(p + 28, actor ? (uint32_t)actor_len : NO_ACTOR);
	itd_le_put64(p + 32, len);
	p += JBLOCK_HDR;
	if (actor) {
		memcpy(p, actor, actor_len);
		p[actor_len] = '\0';
		p += actor_len + 1;
	}
	if (len)
		memcpy(p, data, len);
	b->len += need;
	if (!b->n++)
		b->first = arrival;
	b->last = arrival;
	return ITD_OK;
}

/* The record at *pp (before end) into rec, moving *pp past it; false if
 * it does not fit or its actor is not one NUL-terminated string. */
static bool decode(const uint8_t **pp, const uint8_t *end, struct itd_journal_input *rec)
{
	const uint8_t *p = *pp;
	if ((size_t)(end - p) < JBLOCK_HDR)
		return false;
	*rec = (struct itd_journal_input){
		.arrival = itd_le_get64(p),
		.seq = itd_le_get64(p + 8),
		.wall_ms = (int64_t)itd_le_get64(p + 16),
		.kind = itd_le_get32(p + 24),
	};
	uint32_t alen = itd_le_get32(p + 28);
	uint64_t dlen = itd_le_get64(p + 32);
	p += JBLOCK_HDR;
	if (alen != NO_ACTOR) {
		if ((size_t)(end - p) <= alen || p[alen] != '\0' || memchr(p, 0, alen))
			return false;
		rec->actor = (const char *)p;
		p += (size_t)alen + 1;
	}
	if ((uint64_t)(end - p) < dlen)
		return false;
	rec->data = dlen ? p : NULL;
	rec->len = (size_t)dlen;
	*pp = p + dlen;
	return true;
}

int itd_jblock_walk(const uint8_t *data, size_t len, uint64_t first, uint64_t last, uint64_t n,
		    uint64_t after, itd_journal_input_fn fn, void *ctx)
{
	/* The whole block is checked before any record is handed out. */
	const uint8_t *p = data, *end = data + len;
	struct itd_journal_input rec;
	uint64_t seen = 0, prev = 0;
	while (p < end) {
		if (!decode(&p, end, &rec))
			return ITD_EVERIFY;
		if ((seen == 0 && rec.arrival != first) || (seen && rec.arrival <= prev))
			return ITD_EVERIFY;
		prev = rec.arrival;
		seen++;
	}
	if (seen != n || !seen || prev != last)
		return ITD_EVERIFY;
	for (p = data; p < end;) {
		decode(&p, end, &rec);
		if (rec.arrival > after) {
			int rc = fn(ctx, &rec);
			if (rc)
				return rc;
		}
	}
	return ITD_OK;
}
