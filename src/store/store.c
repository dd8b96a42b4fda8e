/* store.c: the store facade: the journal wired to the engine's hooks, and
 * recovery by replaying the journal tick by tick with state-hash checks. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "store_audit.h"
#include "store_int.h"

int itd_store_open(const struct itd_store_config *cfg, struct itd_store **out, char *err,
		   size_t cap)
{
	*out = NULL;
	struct itd_store *st = itd_calloc(1, sizeof *st);
	if (!st)
		return ITD_ENOMEM;
	uint8_t sk[ITD_AUDIT_SK_LEN];
	struct itd_journal_config jc = {
		.dir = cfg->dir, .create = true,
		.meta = {.scenario_name = cfg->scenario_name, .scenario_text = cfg->identity,
			 .scenario_len = cfg->identity_len, .seed = cfg->seed, .rate = cfg->rate},
		.audit_every = cfg->audit_every};
	int rc = ITD_OK;
	if (cfg->audit_key) {
		rc = itd_audit_key_load_secret(cfg->audit_key, sk);
		if (rc) {
			snprintf(err, cap, "%s: %s", cfg->audit_key,
				 rc == ITD_ECONFIG ? "the audit key file must be a regular file "
						     "that only its owner can read (chmod 600)" :
				 rc == ITD_EPARSE ? "not an Ed25519 secret key (128 hex digits; "
						    "make one with intentd audit keygen)" :
						    itd_err_msg(rc));
			itd_free(st);
			return rc;
		}
		jc.audit_sk = sk;
	}
	rc = itd_journal_open(&jc, &st->j, err, cap);
	sodium_memzero(sk, sizeof sk);
	if (rc) {
		itd_free(st);
		return rc;
	}
	*out = st;
	return ITD_OK;
}

int itd_store_open_existing(const char *dir, struct itd_store **out, char **identity_out,
			    size_t *len_out, uint64_t *seed_out, double *rate_out, char *err,
			    size_t cap)
{
	*out = NULL;
	*identity_out = NULL;
	struct itd_store *st = itd_calloc(1, sizeof *st);
	if (!st)
		return ITD_ENOMEM;
	struct itd_journal_config jc = {.dir = dir, .create = false, .readonly = true,
					.meta = {.scenario_name = "(as recorded)"}};
	int rc = itd_journal_open(&jc, &st->j, err, cap);
	if (rc) {
		itd_free(st);
		return rc;
	}
	rc = itd_journal_read_meta(st->j, identity_out, len_out, seed_out, rate_out);
	if (rc) {
		snprintf(err, cap, "%s: the store records no scenario (%s)", dir, itd_err_msg(rc));
		itd_store_close(st);
		return rc;
	}
	*out = st;
	return ITD_OK;
}

int itd_store_close(struct itd_store *st)
{
	if (!st)
		return ITD_OK;
	int rc = itd_journal_close(st->j);
	itd_free(st->pre);
	itd_free(st->pbuf);
	itd_free(st->notes);
	itd_free(st);
	return rc;
}

void itd_store_last(struct itd_store *st, uint64_t *tick_out, uint64_t *arrival_out)
{
	itd_journal_last(st->j, tick_out, arrival_out);
}

int itd_store_wait(struct itd_store *st, uint64_t ticket, int64_t timeout_ms)
{
	return ticket ? itd_journal_wait(st->j, ticket, timeout_ms) : ITD_OK;
}

int itd_store_wait_tick(struct itd_store *st, int64_t timeout_ms)
{
	return itd_store_wait(st, st->tick_ticket, timeout_ms);
}

/* ------------------------------------------------------------ live */

static int on_input(void *ctx, uint64_t arrival, const void *data, size_t len,
		    uint64_t *ticket)
{
	struct itd_store *st = ctx;
	struct itd_journal_input rec = {.arrival = arrival, .wall_ms = itd_clock_wall_ms(),
					.data = data, .len = len};
	return itd_journal_input(st->j, &rec, ticket);
}

static void on_tick(void *ctx, uint64_t tick, uint64_t last_arrival, uint64_t hash,
		    const uint64_t *attempts, size_t n)
{
	struct itd_store *st = ctx;
	if (st->payload)
		itd_store_notes_close(st, tick, itd_engine_now_ms(st->e));
	struct itd_journal_tick rec = {
		.tick = tick, .last_arrival = last_arrival, .state_hash = hash,
		.tel_seq = st->tel_seq ? st->tel_seq(st->tel_ctx) : 0,
		.auto_seqs = attempts, .n_auto_seqs = (uint32_t)n,
		.notes = st->notes, .notes_len = st->notes_used};
	int rc = itd_journal_tick(st->j, &rec, &st->tick_ticket);
	if (rc == ITD_EFULL) {
		/* The writer is behind: let it catch up (batch runs), then
		 * try once more.  A failure stays visible to the next wait. */
		itd_journal_wait(st->j, st->tick_ticket, -1);
		rc = itd_journal_tick(st->j, &rec, &st->tick_ticket);
	}
	if (rc)
		st->tick_ticket = UINT64_MAX; /* never durable: waits report it */
	st->notes_used = 0;
}

void itd_store_attach(struct itd_store *st, struct itd_engine *e,
		      uint64_t (*tel_seq)(void *ctx), void *ctx)
{
	st->e = e;
	st->tel_seq = tel_seq;
	st->tel_ctx = ctx;
	struct itd_journal_hooks h = {.input = on_input, .tick = on_tick, .ctx = st};
	itd_engine_set_journal(e, &h);
}

/* --------------------------------------------------------- recovery */

struct tick_list {
	struct itd_journal_tick *t;    /* records (auto_seqs copied into seqs) */
	uint64_t *seqs;                /* all attempts, back to back */
	size_t n, cap, n_seqs, cap_seqs;
};

static int collect_tick(void *ctx, const struct itd_journal_tick *rec)
{
	struct tick_list *l = ctx;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 1024;
		void *p = itd_realloc(l->t, cap * sizeof *l->t);
		if (!p)
			return ITD_ENOMEM;
		l->t = p;
		l->cap = cap;
	}
	if (l->n_seqs + rec->n_auto_seqs > l->cap_seqs) {
		size_t cap = l->cap_seqs ? 2 * l->cap_seqs : 1024;
		while (cap < l->n_seqs + rec->n_auto_seqs)
			cap *= 2;
		void *p = itd_realloc(l->seqs, cap * sizeof *l->seqs);
		if (!p)
			return ITD_ENOMEM;
		l->seqs = p;
		l->cap_seqs = cap;
	}
	l->t[l->n] = *rec;
	l->t[l->n].auto_seqs = (const uint64_t *)(uintptr_t)l->n_seqs; /* an offset for now */
	if (rec->n_auto_seqs)
		memcpy(l->seqs + l->n_seqs, rec->auto_seqs, rec->n_auto_seqs * sizeof *l->seqs);
	l->n_seqs += rec->n_auto_seqs;
	l->n++;
	return ITD_OK;
}

struct replay {
	struct itd_engine *e;          /* the engine being rebuilt */
	struct tick_list *l;           /* every journaled tick */
	size_t next;                   /* the next tick to run */
	char *err;                     /* where a divergence is described */
	size_t cap;
};

/* Run journaled tick r->next and check it. */
static int run_tick(struct replay *r)
{
	const struct itd_journal_tick *t = &r->l->t[r->next];
	const uint64_t *seqs = r->l->seqs + (uintptr_t)t->auto_seqs;
	int rc = itd_engine_replay_seqs(r->e, seqs, t->n_auto_seqs);
	if (!rc)
		rc = itd_engine_step(r->e);
	if (rc)
		return rc;
	if (itd_engine_tick(r->e) != t->tick || itd_engine_state_hash(r->e) != t->state_hash) {
		snprintf(r->err, r->cap,
			 "replay diverged at tick %" PRIu64 ": state hash %016" PRIx64
			 ", the journal says %016" PRIx64,
			 t->tick, itd_engine_state_hash(r->e), t->state_hash);
		return ITD_EVERIFY;
	}
	r->next++;
	return ITD_OK;
}

static int feed_input(void *ctx, const struct itd_journal_input *rec)
{
	struct replay *r = ctx;
	/* Every tick that ran before this input arrived runs first. */
	while (r->next < r->l->n && r->l->t[r->next].last_arrival < rec->arrival) {
		int rc = run_tick(r);
		if (rc)
			return rc;
	}
	int rc = itd_engine_replay_input(r->e, rec->data, rec->len);
	if (rc)
		snprintf(r->err, r->cap, "journaled input %" PRIu64 " does not replay: %s",
			 rec->arrival, itd_err_msg(rc));
	return rc;
}

int itd_store_recover(struct itd_store *st, struct itd_engine *e, uint64_t *ticks_out,
		      uint64_t *tel_seq_out, char *err, size_t cap)
{
	struct tick_list l = {0};
	struct replay r = {.e = e, .l = &l, .err = err, .cap = cap};
	*ticks_out = *tel_seq_out = 0;
	err[0] = '\0';
	int rc = itd_journal_read_ticks(st->j, 0, collect_tick, &l);
	if (!rc)
		rc = itd_journal_read_inputs(st->j, 0, feed_input, &r);
	while (!rc && r.next < l.n)
		rc = run_tick(&r);
	if (!rc && l.n) {
		*ticks_out = l.n;
		*tel_seq_out = l.t[l.n - 1].tel_seq;
	}
	if (rc && !err[0])
		snprintf(err, cap, "cannot read the journal: %s", itd_err_msg(rc));
	itd_free(l.t);
	itd_free(l.seqs);
	return rc;
}
