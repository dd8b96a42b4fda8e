/* cli_audit.c: `intentd audit verify --data DIR` recomputes a store's audit
 * chain and names the first bad entry (exit 3); `intentd audit export
 * --data DIR` prints its entries as JSON lines; `intentd audit keygen
 * SECRET PUBLIC` makes the Ed25519 key pair that signs its checkpoints. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "cli_int.h"
#include "store/store.h"
#include "store/store_audit.h"

/* "INDEX:HEX" (what verify prints as the head) into *h. */
static int parse_head(const char *v, struct itd_audit_head *h)
{
	char *end;
	unsigned long long idx = strtoull(v, &end, 10);
	if (end == v || *end != ':' || idx == 0 || strlen(end + 1) != 2 * ITD_AUDIT_HASH_LEN)
		return ITD_EPARSE;
	h->index = idx;
	const char *x = end + 1;
	for (size_t i = 0; i < ITD_AUDIT_HASH_LEN; i++) {
		unsigned b;
		if (sscanf(x + 2 * i, "%2x", &b) != 1 || !strchr("0123456789abcdefABCDEF", x[2 * i]) ||
		    !strchr("0123456789abcdefABCDEF", x[2 * i + 1]))
			return ITD_EPARSE;
		h->hash[i] = (uint8_t)b;
	}
	return ITD_OK;
}

static int verify(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	if (!dir || c->n_pos != 1) {
		fprintf(stderr, "intentd audit verify: needs --data DIR\n");
		return ITD_EXIT_USAGE;
	}
	bool quiet = itd_cli_opt(c, "quiet") != NULL;
	uint8_t pk[ITD_AUDIT_PK_LEN];
	struct itd_audit_head head;
	struct itd_audit_verify_opts o = {0};
	const char *v;
	int rc;
	if ((v = itd_cli_opt(c, "public-key"))) {
		if ((rc = itd_audit_key_load_public(v, pk))) {
			fprintf(stderr, "intentd audit verify: %s: %s\n", v,
				rc == ITD_EPARSE ? "not an Ed25519 public key (64 hex digits)" :
						   itd_err_msg(rc));
			return ITD_EXIT_USAGE;
		}
		o.pubkey = pk;
		unsigned long long every = 1000;
		if ((v = itd_cli_opt(c, "checkpoint-every")) &&
		    (rc = itd_cli_u64("checkpoint-every", v, 0, 1ull << 40, &every)))
			return rc;
		o.checkpoint_every = every;
	} else if (itd_cli_opt(c, "checkpoint-every")) {
		fprintf(stderr, "intentd audit verify: --checkpoint-every needs --public-key\n");
		return ITD_EXIT_USAGE;
	}
	if ((v = itd_cli_opt(c, "head"))) {
		if (parse_head(v, &head)) {
			fprintf(stderr, "intentd audit verify: --head: expected INDEX:HASH (64 hex "
					"digits), as verify prints it, got '%s'\n", v);
			return ITD_EXIT_USAGE;
		}
		o.head = &head;
	}
	struct itd_store *st = NULL;
	char err[1024];
	if ((rc = itd_cli_open_store("audit verify", dir, &st)))
		return rc;
	/* The file first: a damaged page would make the chain's verdict moot. */
	uint64_t t0 = itd_clock_mono_ns();
	if ((rc = itd_store_check(st, err, sizeof err))) {
		itd_store_close(st);
		fprintf(stderr, "intentd audit verify: %s\n", err);
		return rc == ITD_EVERIFY ? ITD_EXIT_VERIFY : ITD_EXIT_RUNTIME;
	}
	struct itd_audit_report r;
	rc = itd_store_audit_verify(st, &o, &r);
	double secs = (double)(itd_clock_mono_ns() - t0) / 1e9;
	itd_store_close(st);
	char h[2 * ITD_AUDIT_HASH_LEN + 1];
	itd_hex(r.last_hash, ITD_AUDIT_HASH_LEN, h);
	if (rc == ITD_EVERIFY) {
		fprintf(stderr, "intentd audit verify: %s: the chain is broken at entry %llu: %s\n",
			dir, (unsigned long long)r.bad_index, r.why);
		fprintf(stderr, "  %llu entries before it hold\n", (unsigned long long)r.n_verified);
		return ITD_EXIT_VERIFY;
	}
	if (rc) {
		fprintf(stderr, "intentd audit verify: %s: cannot read the audit chain: %s\n", dir,
			itd_err_msg(rc));
		return ITD_EXIT_RUNTIME;
	}
	if (!quiet) {
		printf("audit chain intact: %llu entries verified in %.3f s", (unsigned long long)r.n_verified,
		       secs);
		if (o.pubkey)
			printf(", %llu signed checkpoints", (unsigned long long)r.n_checkpoints);
		printf("\nhead %llu:%s\n", (unsigned long long)r.last_index, h);
	}
	return ITD_EXIT_OK;
}

/* One entry as a JSON line: its fields, the payload as JSON when it is
 * (as the engine's always are), else as a string, and both hashes. */
static int export_entry(void *ctx, const struct itd_audit_entry *e)
{
	(void)ctx;
	char prev[2 * ITD_AUDIT_HASH_LEN + 1], h[2 * ITD_AUDIT_HASH_LEN + 1];
	itd_hex(e->prev_hash, ITD_AUDIT_HASH_LEN, prev);
	itd_hex(e->hash, ITD_AUDIT_HASH_LEN, h);
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return ITD_ENOMEM;
	cJSON_AddNumberToObject(o, "index", (double)e->index);
	cJSON_AddNumberToObject(o, "tick", (double)e->tick);
	cJSON_AddNumberToObject(o, "time_ms", (double)e->time_ms);
	cJSON_AddStringToObject(o, "kind", e->kind);
	cJSON_AddStringToObject(o, "subject", e->subject);
	cJSON_AddStringToObject(o, "actor", e->actor);
	const char *data = e->data ? (const char *)e->data : "";
	cJSON *d = cJSON_ParseWithLength(data, e->data_len);
	if (d && !strcmp(e->kind, ITD_AUDIT_CHECKPOINT_KIND)) {
		cJSON_Delete(d); /* binary: signed index, hash and signature */
		d = NULL;
	}
	if (d) {
		cJSON_AddItemToObject(o, "data", d);
	} else {
		char *x = itd_malloc(2 * e->data_len + 1);
		if (!x) {
			cJSON_Delete(o);
			return ITD_ENOMEM;
		}
		itd_hex(e->data ? e->data : (const uint8_t *)"", e->data_len, x);
		cJSON_AddStringToObject(o, "data_hex", x);
		itd_free(x);
	}
	cJSON_AddStringToObject(o, "prev_hash", prev);
	cJSON_AddStringToObject(o, "hash", h);
	char *line = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!line)
		return ITD_ENOMEM;
	int bad = puts(line) < 0;
	cJSON_free(line);
	return bad ? ITD_EIO : ITD_OK;
}

static int export(struct itd_cmd_ctx *c)
{
	const char *dir = itd_cli_opt(c, "data");
	if (!dir || c->n_pos != 1) {
		fprintf(stderr, "intentd audit export: needs --data DIR\n");
		return ITD_EXIT_USAGE;
	}
	unsigned long long from = 1;
	const char *v = itd_cli_opt(c, "from");
	int rc;
	if (v && (rc = itd_cli_u64("from", v, 1, (unsigned long long)INT64_MAX, &from)))
		return rc;
	struct itd_store *st = NULL;
	if ((rc = itd_cli_open_store("audit export", dir, &st)))
		return rc;
	rc = itd_store_audit_walk(st, from, export_entry, NULL);
	itd_store_close(st);
	if (fflush(stdout) && !rc)
		rc = ITD_EIO;
	if (rc) {
		fprintf(stderr, "intentd audit export: %s: %s%s\n", dir, itd_err_msg(rc),
			rc == ITD_EVERIFY ? " (a damaged block: run intentd audit verify)" : "");
		return rc == ITD_EVERIFY ? ITD_EXIT_VERIFY : ITD_EXIT_RUNTIME;
	}
	return ITD_EXIT_OK;
}

static int keygen(struct itd_cmd_ctx *c)
{
	if (c->n_pos != 3) {
		fprintf(stderr, "intentd audit keygen: expected SECRET_FILE PUBLIC_FILE\n");
		return ITD_EXIT_USAGE;
	}
	int rc = itd_audit_keygen(c->pos[1], c->pos[2]);
	if (rc) {
		fprintf(stderr, "intentd audit keygen: %s\n",
			rc == ITD_EEXISTS ? "a key file already exists; keys are never overwritten" :
					    itd_err_msg(rc));
		return rc == ITD_EEXISTS ? ITD_EXIT_USAGE : ITD_EXIT_RUNTIME;
	}
	if (!itd_cli_opt(c, "quiet"))
		printf("secret key %s (mode 0600: give it to intentd serve --audit-key)\n"
		       "public key %s (give it to intentd audit verify --public-key)\n",
		       c->pos[1], c->pos[2]);
	return ITD_EXIT_OK;
}

int itd_cmd_audit(struct itd_cmd_ctx *c)
{
	if (c->n_pos && !strcmp(c->pos[0], "verify"))
		return verify(c);
	if (c->n_pos && !strcmp(c->pos[0], "export"))
		return export(c);
	if (c->n_pos && !strcmp(c->pos[0], "keygen"))
		return keygen(c);
	fprintf(stderr, "intentd audit: expected verify, export or keygen%s%s%s\n",
		c->n_pos ? ", got '" : "", c->n_pos ? c->pos[0] : "", c->n_pos ? "'" : "");
	return ITD_EXIT_USAGE;
}
