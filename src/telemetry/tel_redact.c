/* tel_redact.c: payload redaction (SPEC §7).  Rules are dot paths from the
 * envelope root ("payload.params.operator"); they are compiled into a trie
 * of path components that the writer walks as it writes keys, so a key
 * costs one branch when no rules are configured and one short sibling scan
 * per level when some are.
 *
 * Matching.  The writer keeps, per open container, the trie node its keys
 * are matched against (NULL: nothing below can match).  Arrays are
 * transparent: the objects inside the array under "payload.items" match
 * "payload.items.token".  When a key's node ends a rule, its value (scalar,
 * object or array) is written normally, then replaced, once it is complete,
 * by "REDACTED" or by "hmac-sha256:<hex>" = HMAC-SHA-256 over the value's
 * JSON text exactly as it was written, so equal values stay joinable.  No
 * rule matches inside a value being redacted.  Each rule that fired is
 * listed once, in order of first firing, in payload.redacted_fields.  A
 * redacted value's text counts against max_event_bytes while it is being
 * written. */
#include <string.h>

#include "telemetry/telemetry_int.h"

struct rnode {
	const char *name;  /* path component (points into the rule's path) */
	size_t len;        /* its length */
	int32_t rule;      /* index of the rule ending here, or -1 */
	int32_t child;     /* first child, or -1 */
	int32_t sibling;   /* next sibling, or -1 */
};

struct tel_rule {
	char *path;        /* the rule's dot path (owned) */
	char *json;        /* the path as a quoted JSON string (owned) */
	size_t json_len;   /* its length */
	bool hmac;         /* keyed hash instead of "REDACTED" */
};

struct tel_redactor {
	struct rnode *nodes;      /* node 0: the envelope root */
	size_t n_nodes;           /* nodes in use */
	const struct rnode *payload; /* node of "payload" */
	struct tel_rule *rules;   /* in configuration order */
	size_t n_rules;           /* rules built so far */
	uint8_t *key;             /* HMAC key (owned) */
	size_t key_len;           /* its length */
	size_t fields_max;        /* bytes redacted_fields may take, comma included */
	uint64_t epoch;           /* current event's number, for seen[] */
	uint64_t *seen;           /* per rule: epoch at which it last fired */
	uint32_t *hits;           /* rules fired in this event, in order */
	size_t n_hits;            /* entries in hits */
};

static const char PREFIX[] = "payload.";

/* The child of parent named [name, name + len), added if absent. */
static int32_t child_of(struct tel_redactor *rd, int32_t parent, const char *name, size_t len)
{
	int32_t *link = &rd->nodes[parent].child;
	while (*link >= 0) {
		struct rnode *n = &rd->nodes[*link];
		if (n->len == len && memcmp(n->name, name, len) == 0)
			return *link;
		link = &n->sibling;
	}
	int32_t i = (int32_t)rd->n_nodes++;
	rd->nodes[i] = (struct rnode){ name, len, -1, -1, -1 };
	*link = i;
	return i;
}

/* Quote a path as JSON text into a new string. */
static char *quote(const char *s, size_t *len_out)
{
	size_t n = strlen(s), cap = 6 * n + 4;
	char *buf = itd_malloc(cap);
	if (!buf)
		return NULL;
	struct itd_jw w;
	tel_jw_init(&w, buf, cap);
	tel_jw_rawstr(&w, s, n);
	*len_out = itd_jw_len(&w);
	return buf;
}

/* A rule must be "payload." followed by non-empty components. */
static bool valid_path(const char *p)
{
	size_t n = strlen(p);
	if (n <= sizeof PREFIX - 1 || memcmp(p, PREFIX, sizeof PREFIX - 1) != 0)
		return false;
	if (p[n - 1] == '.' || strstr(p, "..") != NULL)
		return false;
	return true;
}

int tel_redactor_create(const struct itd_tel_redact *rules, size_t n, const uint8_t *key,
			size_t key_len, struct tel_redactor **out)
{
	int rc = ITD_ENOMEM;
	size_t n_comp = 1;
	struct tel_redactor *rd = NULL;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!rules[i].path || !valid_path(rules[i].path))
			return ITD_EINVAL;
		if (rules[i].hmac && (!key || key_len == 0))
			return ITD_EINVAL; /* never hash with an empty key */
		for (const char *c = rules[i].path; *c; c++)
			n_comp += *c == '.';
		n_comp++;
	}
	rd = itd_calloc(1, sizeof *rd);
	if (!rd)
		goto fail;
	rd->nodes = itd_calloc(n_comp, sizeof *rd->nodes);
	rd->rules = itd_calloc(n ? n : 1, sizeof *rd->rules);
	rd->seen = itd_calloc(n ? n : 1, sizeof *rd->seen);
	rd->hits = itd_calloc(n ? n : 1, sizeof *rd->hits);
	if (!rd->nodes || !rd->rules || !rd->seen || !rd->hits)
		goto fail;
	if (key_len) {
		rd->key = itd_malloc(key_len);
		if (!rd->key)
			goto fail;
		memcpy(rd->key, key, key_len);
		rd->key_len = key_len;
	}
	rd->nodes[0] = (struct rnode){ "", 0, -1, -1, -1 };
	rd->n_nodes = 1;
	rd->fields_max = sizeof ",\"redacted_fields\":[]" - 1;
	for (size_t i = 0; i < n; i++) {
		struct tel_rule *r = &rd->rules[i];
		r->hmac = rules[i].hmac;
		r->path = itd_strdup(rules[i].path);
		if (!r->path)
			goto fail;
		rd->n_rules++;
		r->json = quote(r->path, &r->json_len);
		if (!r->json)
			goto fail;
		rd->fields_max += r->json_len + 1;
		int32_t node = 0;
		for (const char *c = r->path;;) {
			const char *dot = strchr(c, '.');
			size_t len = dot ? (size_t)(dot - c) : strlen(c);
			node = child_of(rd, node, c, len);
			if (!dot)
				break;
			c = dot + 1;
		}
		if (rd->nodes[node].rule < 0) /* a duplicate path keeps the first rule */
			rd->nodes[node].rule = (int32_t)i;
	}
	rd->payload = rd->nodes[0].child >= 0 ? &rd->nodes[rd->nodes[0].child] : NULL;
	*out = rd;
	return ITD_OK;
fail:
	tel_redactor_destroy(rd);
	return rc;
}

void tel_redactor_destroy(struct tel_redactor *rd)
{
	if (!rd)
		return;
	for (size_t i = 0; i < rd->n_rules; i++) {
		itd_free(rd->rules[i].path);
		itd_free(rd->rules[i].json);
	}
	if (rd->key)
		memset(rd->key, 0, rd->key_len);
	itd_free(rd->key);
	itd_free(rd->hits);
	itd_free(rd->seen);
	itd_free(rd->rules);
	itd_free(rd->nodes);
	itd_free(rd);
}

void tel_redact_begin(struct itd_jw *w, struct tel_redactor *rd)
{
	w->rd = rd;
	w->depth = 0;
	w->is_arr = 0;
	w->pending = NULL;
	w->red_state = TEL_RED_NONE;
	w->node[0] = rd->payload;
	rd->epoch++;
	rd->n_hits = 0;
}

size_t tel_redact_fields_max(const struct tel_redactor *rd)
{
	return rd ? rd->fields_max : sizeof ",\"redacted_fields\":[]" - 1;
}

size_t tel_redact_hits(const struct tel_redactor *rd)
{
	return rd ? rd->n_hits : 0;
}

void tel_redact_write_fields(struct itd_jw *w, const struct tel_redactor *rd)
{
	static const char head[] = ",\"redacted_fields\":[";
	if (w->comma)
		tel_jw_raw(w, head, sizeof head - 1);
	else
		tel_jw_raw(w, head + 1, sizeof head - 2);
	for (size_t i = 0; rd && i < rd->n_hits; i++) {
		const struct tel_rule *r = &rd->rules[rd->hits[i]];
		if (i)
			tel_jw_raw(w, ",", 1);
		tel_jw_raw(w, r->json, r->json_len);
	}
	tel_jw_raw(w, "]", 1);
	w->comma = true;
}

static const struct rnode *node_at(const struct itd_jw *w, uint32_t depth)
{
	return depth <= TEL_JW_MAX_DEPTH ? w->node[depth] : NULL;
}

void tel_red_key(struct itd_jw *w, const char *key, size_t n)
{
	const struct rnode *cur = node_at(w, w->depth);
	w->pending = NULL;
	if (w->red_state != TEL_RED_NONE || !cur)
		return;
	const struct rnode *nodes = w->rd->nodes;
	for (int32_t c = cur->child; c >= 0; c = nodes[c].sibling) {
		if (nodes[c].len != n || memcmp(nodes[c].name, key, n) != 0)
			continue;
		if (nodes[c].rule >= 0) {
			w->red_state = TEL_RED_ARMED;
			w->red_rule = (uint32_t)nodes[c].rule;
			w->red_start = w->p;
		} else {
			w->pending = &nodes[c];
		}
		return;
	}
}

void tel_red_push(struct itd_jw *w, bool is_arr)
{
	const struct rnode *n = NULL;
	if (w->red_state == TEL_RED_ARMED) {
		w->red_state = TEL_RED_INSIDE;
		w->red_depth = w->depth;
	} else if (w->red_state == TEL_RED_NONE) {
		bool in_arr = w->depth <= TEL_JW_MAX_DEPTH && (w->is_arr >> w->depth & 1);
		n = in_arr ? node_at(w, w->depth) : w->pending;
	}
	w->pending = NULL;
	w->depth++;
	if (w->depth <= TEL_JW_MAX_DEPTH) {
		w->node[w->depth] = n;
		uint64_t bit = UINT64_C(1) << w->depth;
		w->is_arr = is_arr ? w->is_arr | bit : w->is_arr & ~bit;
	}
}

void tel_red_pop(struct itd_jw *w)
{
	if (w->depth == 0)
		return; /* unbalanced: the caller's bug, keep the counts sane */
	w->depth--;
	if (w->red_state == TEL_RED_INSIDE && w->depth == w->red_depth)
		tel_red_finish(w);
}

void tel_red_finish(struct itd_jw *w)
{
	struct tel_redactor *rd = w->rd;
	const struct tel_rule *r = &rd->rules[w->red_rule];
	char text[TEL_REDACT_MAX_TEXT];
	size_t n;

	w->red_state = TEL_RED_NONE;
	if (w->overflow)
		return;
	uint8_t mac[ITD_SHA256_LEN];
	if (r->hmac && itd_hmac_sha256(rd->key, rd->key_len, w->red_start,
				       (size_t)(w->p - w->red_start), mac) == ITD_OK) {
		char hex[2 * ITD_SHA256_LEN + 1];
		itd_hex(mac, sizeof mac, hex);
		n = 0;
		text[n++] = '"';
		memcpy(text + n, TEL_HMAC_PREFIX, sizeof TEL_HMAC_PREFIX - 1);
		n += sizeof TEL_HMAC_PREFIX - 1;
		memcpy(text + n, hex, 2 * ITD_SHA256_LEN);
		n += 2 * ITD_SHA256_LEN;
		text[n++] = '"';
	} else {
		/* Also when the MAC cannot be computed: never leak the value. */
		n = sizeof "\"REDACTED\"" - 1;
		memcpy(text, "\"REDACTED\"", n);
	}
	w->p = w->red_start;
	if ((size_t)(w->end - w->p) < n) {
		w->overflow = true;
		w->end = w->p;
		return;
	}
	memcpy(w->p, text, n);
	w->p += n;
	if (rd->seen[w->red_rule] != rd->epoch) {
		rd->seen[w->red_rule] = rd->epoch;
		rd->hits[rd->n_hits++] = w->red_rule;
	}
}
