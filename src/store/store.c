/* store.c: the store facade: the journal wired to the engine's hooks, and
 * recovery by replaying the journal tick by tick with state-hash checks. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>
#include <sys/statvfs.h>

#include "store_audit.h"
#include "store_int.h"

int itd_store_open(const struct itd_store_config *cfg, struct itd_store **out, char *err,
		   size_t cap)
{
	*out = NULL;
	struct itd_store *st = itd_calloc(1, sizeof *st);
	if (!st)
		return ITD_ENOMEM;
	st->tel_start = UINT64_MAX;
	uint8_t sk[ITD_AUDIT_SK_LEN];
	struct itd_journal_config jc = {
		.dir = cfg->dir, .create = true,
		.meta = {.scenario_name = cfg->scenario_name, .scenario_text = cfg->identity,
			 .scenario_len = cfg->identity_len, .seed = cfg->seed, .rate = cfg->rate},
		.audit_every = cfg->audit_every, .linger_ms = cfg->commit_interval_ms,
		.keep_snapshots = cfg->keep_snapshots == UINT64_MAX ? 0 :
				  cfg->keep_snapshots	      ? cfg->keep_snapshots :
								ITD_STORE_KEEP_SNAPSHOTS};
	st->batch = cfg->batch;
	st->snap_every = cfg->snapshot_every == UINT64_MAX ? 0 :
			 cfg->snapshot_every	       ? cfg->snapshot_every :
							 ITD_STORE_SNAPSHOT_EVERY;
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
	if (!rc && !(st->dir = itd_strdup(cfg->dir))) {
		itd_journal_close(st->j);
		rc = ITD_ENOMEM;
	}
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
	st->tel_start = UINT64_MAX;
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
	itd_free(st->dir);
	itd_free(st->snap_buf[0]);
	itd_free(st->snap_buf[1]);
	itd_free(st->pre);
	itd_free(st->pbuf);
	itd_free(st->notes);
	itd_free(st);
	return rc;
}

int itd_store_status(struct itd_store *st, char *why, size_t cap)
{
	return itd_journal_status(st->j, why, cap);
}

/* Free space the store wants before it takes writes again after a
 * failure: a full disk that freed a few bytes would fail again at once. */
#define REOPEN_MIN_FREE (4u << 20)

int itd_store_reopen(struct itd_store *st, char *err, size_t cap)
{
	struct statvfs fs;
	if (!statvfs(st->dir, &fs) && (uint64_t)fs.f_bavail * fs.f_frsize < REOPEN_MIN_FREE) {
		snprintf(err, cap, "%s: only %llu KiB free (wanted %u KiB before writing again)",
			 st->dir, (unsigned long long)((uint64_t)fs.f_bavail * fs.f_frsize / 1024),
			 REOPEN_MIN_FREE / 1024);
		return ITD_EIO;
	}
	int rc = itd_journal_reopen(st->j, err, cap);
	if (rc)
		return rc;
	/* What was pending died with the failure. */
	st->tick_ticket = 0;
	st->tel_start = UINT64_MAX;
	st->notes_used = 0;
	st->notes_dropped = 0;
	return ITD_OK;
}

bool itd_store_holds_run(const char *dir, uint64_t *last_tick_out)
{
	bool inputs;
	itd_journal_peek(dir, last_tick_out, &inputs);
	return *last_tick_out || inputs;
}

void itd_store_last(struct itd_store *st, uint64_t *tick_out, uint64_t *arrival_out)
{
	itd_journal_last(st->j, tick_out, arrival_out);
}

int itd_store_upgrade(const char *dir, int *from_out, int *to_out, char *err, size_t cap)
{
	int64_t from = 0;
	int rc = itd_journal_upgrade(dir, &from, err, cap);
	*from_out = (int)from;
	*to_out = ITD_JOURNAL_FORMAT;
	return rc;
}

void itd_store_stats(struct itd_store *st, struct itd_store_stats *out)
{
	struct itd_journal_stats js;
	itd_journal_stats(st->j, &js);
	uint64_t tick = 0;
	itd_journal_last(st->j, &tick, NULL);
	*out = (struct itd_store_stats){
		.commits = js.commits, .records = js.records, .bytes = js.bytes,
		.max_batch = js.max_batch, .failures = js.failures, .refused = js.full,
		.durable_tick = tick,
		.snapshots_taken = __atomic_load_n(&st->snap_taken, __ATOMIC_RELAXED),
		.snapshots_skipped = __atomic_load_n(&st->snap_skipped, __ATOMIC_RELAXED),
		.snapshots_pruned = js.snapshots_pruned,
		.snapshots_off = __atomic_load_n(&st->snap_nomem, __ATOMIC_RELAXED),
		.notes_lost = itd_store_notes_lost(st)};
}

int itd_store_wait(struct itd_store *st, uint64_t ticket, int64_t timeout_ms)
{
	return ticket ? itd_journal_wait(st->j, ticket, timeout_ms) : ITD_OK;
}

int itd_store_wait_tick(struct itd_store *st, int64_t timeout_ms)
{
	return itd_store_wait(st, st->tick_ticket, timeout_ms);
}

int itd_store_wait_tick_until(struct itd_store *st, uint64_t deadline_ns)
{
	return st->tick_ticket ? itd_journal_wait_until(st->j, st->tick_ticket, deadline_ns)
			       : ITD_OK;
}

/* ------------------------------------------------------------ live */

static int on_input(void *ctx, const struct itd_journal_info *info, const void *data,
		    size_t len, uint64_t *ticket)
{
	struct itd_store *st = ctx;
	struct itd_journal_input rec = {.arrival = info->arrival, .kind = info->kind,
					.seq = info->seq, .actor = info->actor,
					.wall_ms = itd_clock_wall_ms(), .data = data, .len = len,
					.control = info->kind != ITD_JOURNAL_SUBMIT};
	return itd_journal_input(st->j, &rec, ticket);
}

/* Every snapshot_every ticks, on the tick thread: the engine's state into
 * the free one of two buffers, handed to the journal by reference (no
 * copy into its queue).  A buffer is reused only once its last snapshot
 * is durable (or failed); if neither is free the snapshot is skipped and
 * counted: the next one will do, since recovery only gets shorter. */
static void take_snapshot(struct itd_store *st, uint64_t tick)
{
	int b = -1;
	for (int i = 0; i < 2 && b < 0; i++) {
		int k = (st->snap_next + i) & 1;
		if (!st->snap_ticket[k] || itd_journal_wait(st->j, st->snap_ticket[k], 0) != ITD_EAGAIN)
			b = k;
	}
	if (b < 0 && st->batch) {
		/* A batch run has no pace to keep: wait for the older one. */
		b = st->snap_next;
		itd_journal_wait(st->j, st->snap_ticket[b], -1);
	}
	size_t len = 0;
	int rc = b < 0 ? ITD_EFULL :
			 itd_engine_save(st->e, st->snap_buf[b], st->snap_cap, &len, NULL);
	if (!rc)
		rc = itd_journal_snapshot_ref(st->j, tick, st->snap_buf[b], len,
					      &st->snap_ticket[b]);
	if (rc) {
		if (b >= 0)
			st->snap_ticket[b] = 0;
		__atomic_add_fetch(&st->snap_skipped, 1, __ATOMIC_RELAXED);
		return;
	}
	st->snap_next = (b + 1) & 1;
	__atomic_add_fetch(&st->snap_taken, 1, __ATOMIC_RELAXED);
}

static void on_tick(void *ctx, uint64_t tick, uint64_t last_arrival, uint64_t hash,
		    const uint64_t *attempts, size_t n)
{
	struct itd_store *st = ctx;
	if (st->payload)
		itd_store_notes_close(st, tick, itd_engine_now_ms(st->e));
	uint64_t tel_end = st->tel_seq ? st->tel_seq(st->tel_ctx) : 0;
	/* Where its telemetry began: known when the audit observer saw the
	 * tick's events (none seen: it had none). */
	uint64_t tel_start = st->tel_start;
	if (tel_start == UINT64_MAX && st->payload && st->tel_seq)
		tel_start = tel_end;
	st->tel_start = UINT64_MAX;
	struct itd_journal_tick rec = {
		.tick = tick, .last_arrival = last_arrival, .state_hash = hash,
		.tel_seq = tel_end, .slip_ns = itd_engine_tick_slip_ns(st->e), .tel_start = tel_start,
		.time_ms = itd_engine_now_ms(st->e),
		.auto_seqs = attempts, .n_auto_seqs = (uint32_t)n,
		.notes = st->notes, .notes_len = st->notes_used};
	uint64_t prev = st->tick_ticket;
	int rc = itd_journal_tick(st->j, &rec, &st->tick_ticket);
	if (rc == ITD_EFULL) {
		/* The writer is behind: let it catch up (batch runs), then
		 * try once more.  A failure stays visible to the next wait. */
		if (prev && prev != UINT64_MAX)
			itd_journal_wait(st->j, prev, -1);
		rc = itd_journal_tick(st->j, &rec, &st->tick_ticket);
	}
	if (rc)
		st->tick_ticket = UINT64_MAX; /* never durable: waits report it */
	st->notes_used = 0;
	if (!rc && st->snap_every && tick % st->snap_every == 0)
		take_snapshot(st, tick);
}

void itd_store_attach(struct itd_store *st, struct itd_engine *e,
		      uint64_t (*tel_seq)(void *ctx), void *ctx)
{
	st->e = e;
	st->tel_seq = tel_seq;
	st->tel_ctx = ctx;
	if (st->snap_every) {
		/* The bound is for a full table; pages are touched only as far
		 * as snapshots really reach. */
		st->snap_cap = itd_engine_snapshot_bound(e);
		st->snap_buf[0] = itd_malloc(st->snap_cap);
		st->snap_buf[1] = itd_malloc(st->snap_cap);
		if (!st->snap_buf[0] || !st->snap_buf[1]) {
			itd_free(st->snap_buf[0]);
			itd_free(st->snap_buf[1]);
			st->snap_buf[0] = st->snap_buf[1] = NULL;
			st->snap_every = 0; /* recovery replays further; said in stats */
			__atomic_store_n(&st->snap_nomem, true, __ATOMIC_RELAXED);
		}
	}
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
	bool nocheck;                  /* do not compare hashes (divergence report) */
	uint64_t until;                /* stop after this tick (0: run all) */
	uint64_t diverged;             /* the tick whose hash did not match */
	uint64_t seq_before;           /* the telemetry seq before tick r->next */
	itd_store_replay_fn on_tick;   /* told before each tick, or NULL */
	void *ctx;                     /* its argument */
	char *err;                     /* where a divergence is described */
	size_t cap;
};

/* Returned by run_tick when r->until is reached: not an error. */
#define REPLAY_DONE 1

/* Run journaled tick r->next and check it. */
static int run_tick(struct replay *r)
{
	const struct itd_journal_tick *t = &r->l->t[r->next];
	const uint64_t *seqs = r->l->seqs + (uintptr_t)t->auto_seqs;
	if (r->on_tick)
		r->on_tick(r->ctx, t->tick,
			   t->tel_start != UINT64_MAX ? t->tel_start : r->seq_before, t->tel_seq,
			   r->l->t[r->l->n - 1].tel_seq);
	r->seq_before = t->tel_seq;
	itd_engine_replay_timing(r->e, t->time_ms, t->slip_ns);
	int rc = itd_engine_replay_seqs(r->e, seqs, t->n_auto_seqs);
	if (!rc)
		rc = itd_engine_step(r->e);
	if (rc)
		return rc;
	if (!r->nocheck &&
	    (itd_engine_tick(r->e) != t->tick || itd_engine_state_hash(r->e) != t->state_hash)) {
		r->diverged = t->tick;
		snprintf(r->err, r->cap,
			 "replay diverged at tick %" PRIu64 ": state hash %016" PRIx64
			 ", the journal says %016" PRIx64,
			 t->tick, itd_engine_state_hash(r->e), t->state_hash);
		return ITD_EVERIFY;
	}
	r->next++;
	return r->until && t->tick >= r->until ? REPLAY_DONE : ITD_OK;
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

/* A skipped snapshot, for the recovery's report. */
static void corrupt_snapshot(void *ctx, uint64_t tick, const char *why)
{
	struct itd_store_recovery *r = ctx;
	r->snapshots_bad++;
	snprintf(r->note, sizeof r->note, "snapshot of tick %" PRIu64 " skipped: %s", tick, why);
}

/* The newest tick recovery may start at: the last whose events the sinks
 * all hold (itd_store_replay_since), when that is within reach of the
 * journal's end; else any (INT64_MAX, as SQLite compares ticks). */
static int start_bound(struct itd_store *st, uint64_t *bound)
{
	*bound = (uint64_t)INT64_MAX;
	if (!st->since_have)
		return ITD_OK;
	uint64_t tick, end;
	int rc = itd_journal_tick_at_seq(st->j, st->since_have, &tick, &end);
	if (!rc && end > st->since_have && end - st->since_have < st->since_reach)
		*bound = tick; /* 0: from the start */
	return rc;
}

/* Load the newest valid snapshot (at or before start_bound) into e; 0
 * with r->snapshot_tick and *arrivals set, or ITD_ENOTFOUND (none usable:
 * start from tick 0). */
static int load_snapshot(struct itd_store *st, struct itd_engine *e,
			 struct itd_store_recovery *r, uint64_t *arrivals)
{
	uint64_t tick, bound;
	void *data = NULL;
	size_t len = 0;
	int rc = start_bound(st, &bound);
	if (!rc)
		rc = itd_journal_snapshot_at_most(st->j, bound, &tick, &data, &len,
						  corrupt_snapshot, r);
	if (rc)
		return rc;
	rc = itd_engine_load(e, data, len, arrivals);
	itd_free(data);
	if (rc == ITD_ENOMEM)
		return rc;
	if (rc) {
		/* The checksum held but the engine refuses it (another build's
		 * format, say): never trusted, the journal has it all. */
		r->snapshots_bad++;
		snprintf(r->note, sizeof r->note,
			 "snapshot of tick %" PRIu64 " skipped: the engine refuses it (%s)", tick,
			 itd_err_msg(rc));
		return ITD_ENOTFOUND;
	}
	r->snapshot_tick = tick;
	return ITD_OK;
}

static int recover(struct itd_store *st, struct itd_engine *e, bool from_snapshot,
		   uint64_t until, struct itd_store_recovery *out, char *err, size_t cap)
{
	struct tick_list l = {0};
	struct replay r = {.e = e, .l = &l, .nocheck = until != 0, .until = until, .err = err,
			   .cap = cap, .on_tick = until ? NULL : st->on_replay, .ctx = st->replay_ctx};
	memset(out, 0, sizeof *out);
	err[0] = '\0';
	uint64_t arrivals = 0;
	int rc = ITD_ENOTFOUND;
	if (from_snapshot)
		rc = load_snapshot(st, e, out, &arrivals);
	if (rc == ITD_ENOTFOUND)
		rc = ITD_OK; /* from the start */
	/* The snapshot's own tick record too: its telemetry seq is where the
	 * run stands if nothing came after it. */
	uint64_t from = out->snapshot_tick;
	if (!rc)
		rc = itd_journal_read_ticks(st->j, from ? from - 1 : 0, collect_tick, &l);
	if (!rc && from) {
		if (!l.n || l.t[0].tick != from) {
			snprintf(err, cap, "the snapshot of tick %" PRIu64 " has no tick record",
				 from);
			rc = ITD_EVERIFY;
		} else {
			out->tel_seq = l.t[0].tel_seq;
			out->last_tick = from;
			r.seq_before = l.t[0].tel_seq;
			r.next = 1;
		}
	}
	if (!rc)
		rc = itd_journal_read_inputs(st->j, arrivals, feed_input, &r);
	while (!rc && r.next < l.n)
		rc = run_tick(&r);
	if (rc == REPLAY_DONE)
		rc = ITD_OK;
	out->diverged_tick = r.diverged;
	if (!rc && l.n && !until) {
		out->ticks = l.n - (from ? 1 : 0);
		out->last_tick = l.t[l.n - 1].tick;
		out->tel_seq = l.t[l.n - 1].tel_seq;
	}
	if (rc && !err[0])
		snprintf(err, cap, "cannot read the journal: %s", itd_err_msg(rc));
	itd_free(l.t);
	itd_free(l.seqs);
	return rc;
}

void itd_store_on_replay(struct itd_store *st, itd_store_replay_fn fn, void *ctx)
{
	st->on_replay = fn;
	st->replay_ctx = ctx;
}

void itd_store_replay_since(struct itd_store *st, uint64_t have, uint64_t reach)
{
	st->since_have = have;
	st->since_reach = reach;
}

int itd_store_recover(struct itd_store *st, struct itd_engine *e, bool from_snapshot,
		      struct itd_store_recovery *out, char *err, size_t cap)
{
	return recover(st, e, from_snapshot, 0, out, err, cap);
}

int itd_store_divergence(struct itd_store *st, struct itd_engine *fresh,
			 struct itd_engine *scratch, uint64_t tick, itd_store_diff_fn fn, void *ctx,
			 uint64_t *snap_tick_out, char *err, size_t cap)
{
	*snap_tick_out = 0;
	err[0] = '\0';
	uint64_t snap;
	void *data = NULL;
	size_t len = 0;
	int rc = itd_journal_snapshot_from(st->j, tick, &snap, &data, &len);
	if (rc == ITD_ENOTFOUND) {
		snprintf(err, cap, "no snapshot at or after tick %" PRIu64 " to compare fields with",
			 tick);
		return rc;
	}
	if (!rc && (rc = itd_engine_load(scratch, data, len, NULL)))
		snprintf(err, cap, "the snapshot of tick %" PRIu64 " does not load here (%s)", snap,
			 itd_err_msg(rc));
	itd_free(data);
	if (rc)
		return rc;
	/* The replay again, unchecked, as far as the snapshot. */
	struct itd_store_recovery rec;
	if ((rc = recover(st, fresh, false, snap, &rec, err, cap)))
		return rc;
	if (itd_engine_tick(fresh) != snap) {
		snprintf(err, cap, "the journal ends before the snapshot of tick %" PRIu64, snap);
		return ITD_EVERIFY;
	}
	*snap_tick_out = snap;
	const struct itd_scenario *s = itd_engine_scenario(fresh);
	const struct itd_value *a = itd_engine_state(scratch), *b = itd_engine_state(fresh);
	for (size_t i = 0; i <= s->n_fields; i++) {
		uint32_t slot = i < s->n_fields ? (uint32_t)i : s->slots.mode;
		const struct itd_value *va = &a[slot], *vb = &b[slot];
		bool same = va->type == vb->type &&
			    (va->type == ITD_T_NUM  ? va->num == vb->num :
			     va->type == ITD_T_BOOL ? va->b == vb->b :
			     va->type == ITD_T_STR  ? !strcmp(va->str, vb->str) :
						      true);
		if (!same && (rc = fn(ctx, i < s->n_fields ? s->fields[i].name : "mode", va, vb)))
			return rc;
	}
	return ITD_OK;
}
