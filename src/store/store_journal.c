/* store_journal.c: the journal's queue, writer thread and tickets.
 * Appenders copy records into a preallocated byte ring and get tickets; one
 * writer thread commits everything queued in one transaction (group commit).
 *
 * States of the journal (under j->lock):
 *
 *     open ──► HEALTHY ──commit or checkpoint fails──► FAILED
 *                 ▲                                       │
 *                 └───────────── reopen ◄─────────────────┘
 *     HEALTHY/FAILED ── close ──► (drained, freed)
 *
 *   transition                     function
 *   queue a record                 append()           (HEALTHY only)
 *   commit a batch, publish        writer_main() → publish()
 *   commit fails                   writer_main() → fail()
 *   FAILED → HEALTHY               itd_journal_reopen()
 *
 * Invariants: tickets are handed out in ring order, so the writer's batch
 * [tail, tail + used) holds exactly tickets durable+1 .. next_ticket-1;
 * durable only grows; a ticket a failure discarded is remembered in lost[]
 * and never reported durable, even after a reopen; the ring never grows. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store_journal_int.h"

/* ------------------------------------------------------------------ ring */

/* Reserve `need` bytes (a multiple of JREC_ALIGN, at most cap) for one
 * record, under the lock.  Returns the offset, or SIZE_MAX if the ring has
 * no contiguous room.  Skipping the ring's end to wrap counts the skipped
 * bytes as used (a PAD header marks them when one fits). */
static size_t ring_reserve(struct itd_journal *j, size_t need)
{
	if (j->used == 0)
		j->head = j->tail = 0; /* no batch in flight: start over */
	if (j->used == j->cap)
		return SIZE_MAX;
	size_t off;
	if (j->head >= j->tail) {
		size_t to_end = j->cap - j->head;
		if (to_end >= need) {
			off = j->head;
		} else if (j->tail >= need) {
			if (to_end >= sizeof(struct jrec_hdr)) {
				struct jrec_hdr pad = {.size = (uint32_t)to_end, .type = JREC_PAD};
				memcpy(j->ring + j->head, &pad, sizeof pad);
			}
			j->used += to_end;
			off = 0;
		} else {
			return SIZE_MAX;
		}
	} else {
		if (j->tail - j->head < need)
			return SIZE_MAX;
		off = j->head;
	}
	j->head = off + need == j->cap ? 0 : off + need;
	j->used += need;
	return off;
}

/* Past this age of the oldest record not yet durable (two ticks at the
 * default 100 Hz), with more than LAG_BYTES of records waiting, the writer
 * is behind the load: inputs are refused until it catches up.  A tick's
 * telemetry waits until its record is durable, behind everything queued
 * before it, so this also bounds how late it is reported (and how far a
 * paced loop runs ahead of the disk).  Each input costs the
 * writer again at its tick (audit entries, the intent index); unrefused,
 * the backlog grew until ticks waited seconds for room and applied tens
 * of thousands of inputs each.  A slow disk under light load (few
 * records, each commit slow) is not refused: the queue must also hold
 * more than LAG_BYTES. */
#define LAG_NS (20 * UINT64_C(1000000))
#define LAG_BYTES (256u << 10) /* about 1,500 submissions */

static bool input_lagging(const struct itd_journal *j, uint64_t now)
{
	return j->used > LAG_BYTES && now - j->oldest_ns > LAG_NS;
}

/* Copy one record into the ring and hand out its ticket.  `fixed` is the
 * type's fixed part; a and b are its variable parts (either may be empty).
 * With `last`, the record's `key` must exceed *last, checked and claimed
 * under the lock so that the ring (and the database) holds keys in order. */
static int append(struct itd_journal *j, uint32_t type, bool yields, const void *fixed,
		  size_t fixed_len, const void *a, size_t alen, const void *b, size_t blen,
		  uint64_t *last, uint64_t key, uint64_t *ticket_out)
{
	*ticket_out = 0;
	if (alen > j->cap || blen > j->cap)
		return ITD_ELIMIT;
	size_t need = jrec_align(sizeof(struct jrec_hdr) + fixed_len + alen + blen);
	if (need > j->cap || need > UINT32_MAX)
		return ITD_ELIMIT;
	int rc = ITD_OK;
	pthread_mutex_lock(&j->lock);
	if (j->failed || j->closing) {
		rc = ITD_EIO;
		goto out;
	}
	if (last && key <= *last) {
		rc = ITD_EINVAL;
		goto out;
	}
	/* A record that yields (a submission) leaves a quarter of the queue
	 * to tick records, and is refused while a tick record waits for room
	 * and while the writer is far behind (input_lagging): a burst of
	 * submissions is refused (the submitter retries), never the tick,
	 * which the whole run waits for, nor an operator's control input. */
	uint64_t now = itd_clock_mono_ns();
	bool empty = j->used == 0;
	size_t off = SIZE_MAX;
	if (!yields || (!j->holding_inputs && j->used + need <= j->cap - j->cap / 4 &&
			!input_lagging(j, now)))
		off = ring_reserve(j, need);
	if (off == SIZE_MAX) {
		j->stats.full++;
		rc = ITD_EFULL;
		goto out;
	}
	if (empty) /* nothing else waits: the oldest */
		j->oldest_ns = now;
	else if (!j->after_take) /* the first after the batch in flight, if any */
		j->after_take_ns = now;
	j->after_take = true;
	struct jrec_hdr h = {.size = (uint32_t)need, .type = type, .ticket = j->next_ticket++};
	uint8_t *p = j->ring + off;
	memcpy(p, &h, sizeof h);
	memcpy(p + sizeof h, fixed, fixed_len);
	if (alen)
		memcpy(p + sizeof h + fixed_len, a, alen);
	if (blen)
		memcpy(p + sizeof h + fixed_len + alen, b, blen);
	if (last)
		*last = key;
	/* No lingering for an input (it is acknowledged only once durable) or
	 * a tick that decided something (its audit notes): their answers and
	 * telemetry are what users wait for.  Only idle ticks linger. */
	if (type == JREC_INPUT ||
	    (type == JREC_TICK && ((const struct jrec_tick *)fixed)->notes_len))
		j->urgent = true;
	*ticket_out = h.ticket;
	pthread_cond_signal(&j->work);
out:
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int itd_journal_input(struct itd_journal *j, const struct itd_journal_input *rec,
		      uint64_t *ticket_out)
{
	*ticket_out = 0;
	if (!rec || (rec->len && !rec->data))
		return ITD_EINVAL;
	size_t actor_len = rec->actor ? strlen(rec->actor) : 0;
	if (actor_len >= UINT32_MAX)
		return ITD_ELIMIT;
	struct jrec_input f = {.arrival = rec->arrival, .seq = rec->seq, .wall_ms = rec->wall_ms,
			       .kind = rec->kind,
			       .actor_len = rec->actor ? (uint32_t)actor_len : UINT32_MAX,
			       .len = rec->len};
	return append(j, JREC_INPUT, !rec->control, &f, sizeof f, rec->actor, actor_len, rec->data,
		      rec->len,
		      &j->q_arrival, rec->arrival, ticket_out);
}

/* Tick records store their auto seqs as the host's u64 array, which the
 * database keeps as a little-endian blob. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "auto_seqs blob is little-endian");

int itd_journal_tick(struct itd_journal *j, const struct itd_journal_tick *rec,
		     uint64_t *ticket_out)
{
	*ticket_out = 0;
	if (!rec || (rec->n_auto_seqs && !rec->auto_seqs))
		return ITD_EINVAL;
	if (rec->notes_len && !rec->notes)
		return ITD_EINVAL;
	struct jrec_tick f = {.tick = rec->tick, .last_arrival = rec->last_arrival,
			      .state_hash = rec->state_hash, .tel_seq = rec->tel_seq,
			      .slip_ns = rec->slip_ns, .tel_start = rec->tel_start,
			      .time_ms = rec->time_ms,
			      .n_auto = rec->n_auto_seqs, .notes_len = rec->notes_len};
	const void *notes = rec->notes;
	size_t notes_len = rec->notes_len;
	int rc;
	for (int tries = 0;; tries++) {
		rc = append(j, JREC_TICK, false, &f, sizeof f, rec->auto_seqs,
			    (size_t)rec->n_auto_seqs * sizeof(uint64_t), notes, notes_len,
			    &j->q_tick, rec->tick, ticket_out);
		if (rc == ITD_ELIMIT && notes_len && !f.notes_ref) {
			/* A tick with more notes than the queue holds (a huge
			 * intake in one tick): the writer reads them where they
			 * are, and the caller gets its buffer back only once they
			 * are written (below). */
			f.notes_ref = (uint64_t)(uintptr_t)notes;
			notes = NULL;
			notes_len = 0;
			continue;
		}
		if (rc != ITD_EFULL || tries > 2)
			break;
		/* The writer is behind: hold inputs off and wait until it has
		 * committed everything queued; then the record fits. */
		pthread_mutex_lock(&j->lock);
		j->holding_inputs++;
		while (!j->failed && !j->closing && j->used)
			pthread_cond_wait(&j->done, &j->lock);
		j->holding_inputs--;
		pthread_mutex_unlock(&j->lock);
	}
	if (!rc && f.notes_ref)
		itd_journal_wait(j, *ticket_out, -1); /* durable or failed: unread now */
	return rc;
}

int itd_journal_note_put(uint8_t *buf, size_t cap, size_t *used, const struct itd_journal_note *n)
{
	if (!n->kind || !n->kind[0] || (n->len && !n->data))
		return ITD_EINVAL;
	const char *txt[5] = {n->kind, n->subject, n->actor, n->type, n->status};
	struct jnote h = {.time_ms = n->time_ms, .seq = n->seq};
	size_t total = sizeof h;
	for (int i = 0; i < 5; i++) {
		size_t l = txt[i] ? strlen(txt[i]) : 0;
		if (l > ITD_AUDIT_MAX_TEXT)
			return ITD_ELIMIT;
		h.len[i] = (uint32_t)l;
		total += l;
	}
	if (n->len > ITD_AUDIT_MAX_DATA)
		return ITD_ELIMIT;
	h.len[5] = (uint32_t)n->len;
	total = jrec_align(total + n->len);
	if (total > cap - *used)
		return ITD_EFULL;
	uint8_t *p = buf + *used;
	memcpy(p, &h, sizeof h);
	p += sizeof h;
	for (int i = 0; i < 5; i++) {
		if (h.len[i])
			memcpy(p, txt[i], h.len[i]);
		p += h.len[i];
	}
	if (n->len)
		memcpy(p, n->data, n->len);
	p += n->len;
	memset(p, 0, (size_t)(buf + *used + total - p)); /* padding */
	*used += total;
	return ITD_OK;
}

int itd_journal_snapshot(struct itd_journal *j, uint64_t tick, const void *data, size_t len,
			 uint64_t *ticket_out)
{
	*ticket_out = 0;
	if (len && !data)
		return ITD_EINVAL;
	/* The checksum is computed here, outside the lock. */
	struct jrec_snap f = {.tick = tick, .len = len,
			      .checksum = itd_hash64(len ? data : "", len, JSNAP_SEED)};
	return append(j, JREC_SNAPSHOT, false, &f, sizeof f, data, len, NULL, 0, NULL, 0, ticket_out);
}

int itd_journal_snapshot_ref(struct itd_journal *j, uint64_t tick, const void *data, size_t len,
			     uint64_t *ticket_out)
{
	*ticket_out = 0;
	if (!data || !len)
		return ITD_EINVAL;
	struct jrec_snap f = {.tick = tick, .len = len,
			      .checksum = itd_hash64(data, len, JSNAP_SEED),
			      .ref = (uint64_t)(uintptr_t)data};
	return append(j, JREC_SNAPSHOT, false, &f, sizeof f, NULL, 0, NULL, 0, NULL, 0, ticket_out);
}

/* ---------------------------------------------------------------- writer */

/* The batch committed: make it durable for waiters and free its bytes. */
static void publish(struct itd_journal *j, const struct jbatch *b)
{
	j->durable = b->last_ticket;
	j->oldest_ns = j->after_take_ns; /* meaningful only if more wait */
	j->tail = (b->start + b->bytes) % j->cap;
	j->used -= b->bytes;
	if (b->last_arrival > j->d_arrival)
		j->d_arrival = b->last_arrival;
	if (b->last_tick > j->d_tick)
		j->d_tick = b->last_tick;
	j->stats.commits++;
	j->stats.records += b->records;
	j->stats.bytes += b->bytes;
	if (b->records > j->stats.max_batch)
		j->stats.max_batch = b->records;
	j->stats.durable_ticket = j->durable;
	j->stats.snapshots_pruned += b->snaps_pruned;
	pthread_cond_broadcast(&j->done);
}

/* A commit (or checkpoint) failed: everything not yet durable is lost and
 * reported so; refuse appends until reopen.  Called by the writer, so no
 * batch is in flight. */
static void fail(struct itd_journal *j, const char *why)
{
	if (j->next_ticket - 1 > j->durable) {
		struct jlost *l = &j->lost[j->n_lost++ % JLOST_MAX];
		l->lo = j->durable + 1;
		l->hi = j->next_ticket - 1;
	}
	j->used = j->head = j->tail = 0;
	j->failed = true;
	snprintf(j->why, sizeof j->why, "%s", why);
	j->stats.failures++;
	pthread_cond_broadcast(&j->done);
}

/* The writer thread: sleep until records are queued, take all of them,
 * write and commit them in one transaction (one fsync), publish, and
 * checkpoint the WAL when it has grown (after publishing, so waiters do not
 * pay for it).  On stop it drains the queue first. */
/* Under lock: while only records nobody waits for are queued (idle ticks,
 * snapshots: their telemetry waits, no answer does), let them wait for
 * company up to linger_ns after the oldest, so an idle paced run commits a
 * few times a second instead of at every tick.  An input (an answer waits
 * for it), a hurried wait, a quarter of the queue filled, a stop or a
 * failed check ends it. */
/* A CLOCK_MONOTONIC time in ns (itd_clock_mono_ns) as the condition
 * variables' deadline. */
static struct timespec mono_ts(uint64_t ns)
{
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

static void linger(struct itd_journal *j)
{
	while (j->linger_ns && j->used && !j->urgent && !j->hurry && !j->stop &&
	       !j->check_failed && j->used < j->cap / 4) {
		uint64_t due = j->oldest_ns + j->linger_ns;
		if (itd_clock_mono_ns() >= due)
			return;
		struct timespec ts = mono_ts(due);
		pthread_cond_timedwait(&j->work, &j->lock, &ts);
	}
}

static void *writer_main(void *arg)
{
	struct itd_journal *j = arg;
	pthread_setname_np(pthread_self(), "itd-journal");
	char why[sizeof j->why];
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (!j->used && !j->stop && !j->check_failed)
			pthread_cond_wait(&j->work, &j->lock);
		linger(j);
		if (j->check_failed) {
			j->check_failed = false;
			fail(j, j->check_why);
			continue;
		}
		if (!j->used)
			break;
		struct jbatch b = {.start = j->tail, .bytes = j->used,
				   .last_ticket = j->next_ticket - 1};
		j->after_take = false;
		j->urgent = false;
		pthread_mutex_unlock(&j->lock);
		int rc = itd_journal_db_write(j, &b, why, sizeof why);
		pthread_mutex_lock(&j->lock);
		if (rc) {
			fail(j, why);
			continue;
		}
		publish(j, &b);
		pthread_mutex_unlock(&j->lock);
		rc = itd_journal_db_checkpoint(j, why, sizeof why);
		pthread_mutex_lock(&j->lock);
		if (rc)
			fail(j, why);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

static int writer_start(struct itd_journal *j)
{
	j->stop = false;
	if (pthread_create(&j->writer, NULL, writer_main, j))
		return ITD_EINTERNAL;
	j->writer_running = true;
	return ITD_OK;
}

/* The background integrity check of a large database (db_open left it
 * pending): a fault found fails the journal through the writer. */
static void *checker_main(void *arg)
{
	struct itd_journal *j = arg;
	pthread_setname_np(pthread_self(), "itd-check");
	sqlite3 *db = NULL;
	char why[256] = "";
	if (itd_journal_db_reader(j, &db))
		return NULL;
	pthread_mutex_lock(&j->lock);
	j->check_db = db;
	pthread_mutex_unlock(&j->lock);
	int rc = itd_journal_db_integrity(j, db, why, sizeof why);
	pthread_mutex_lock(&j->lock);
	j->check_db = NULL;
	if (rc == ITD_EVERIFY && !j->closing) {
		snprintf(j->check_why, sizeof j->check_why, "%s", why);
		j->check_failed = true;
		pthread_cond_signal(&j->work);
	}
	pthread_mutex_unlock(&j->lock);
	sqlite3_close(db);
	return NULL;
}

static void checker_start(struct itd_journal *j)
{
	if (j->check_pending && !pthread_create(&j->checker, NULL, checker_main, j))
		j->checker_running = true;
}

static void checker_stop(struct itd_journal *j)
{
	if (!j->checker_running)
		return;
	pthread_mutex_lock(&j->lock);
	if (j->check_db)
		sqlite3_interrupt(j->check_db);
	pthread_mutex_unlock(&j->lock);
	pthread_join(j->checker, NULL);
	j->checker_running = false;
}

/* Ask the writer to drain and finish, and join it.  Appends are refused
 * from now on (closing). */
static void writer_stop(struct itd_journal *j)
{
	pthread_mutex_lock(&j->lock);
	j->closing = true;
	j->stop = true;
	pthread_cond_signal(&j->work);
	pthread_mutex_unlock(&j->lock);
	checker_stop(j);
	if (j->writer_running)
		pthread_join(j->writer, NULL);
	j->writer_running = false;
}

/* ----------------------------------------------------------------- waits */

static bool is_lost(const struct itd_journal *j, uint64_t ticket)
{
	unsigned n = j->n_lost < JLOST_MAX ? j->n_lost : JLOST_MAX;
	for (unsigned i = 0; i < n; i++)
		if (ticket >= j->lost[i].lo && ticket <= j->lost[i].hi)
			return true;
	return false;
}

/* Wait for ticket: forever (deadline NULL, !poll), until *deadline
 * (CLOCK_MONOTONIC), or not at all (poll).  With hurry, the writer stops
 * lingering (linger_ns) while this waits. */
static int wait_ticket(struct itd_journal *j, uint64_t ticket, const struct timespec *deadline,
		       bool poll, bool hurry)
{
	int rc;
	pthread_mutex_lock(&j->lock);
	if (ticket == 0 || ticket >= j->next_ticket) {
		rc = ITD_EINVAL; /* never handed out */
		goto out;
	}
	hurry = hurry && !poll;
	if (hurry && !j->hurry++)
		pthread_cond_signal(&j->work);
	for (;;) {
		if (is_lost(j, ticket)) {
			rc = ITD_EIO;
			break;
		}
		if (ticket <= j->durable) {
			rc = ITD_OK;
			break;
		}
		if (j->failed) {
			rc = ITD_EIO;
			break;
		}
		if (poll) {
			rc = ITD_EAGAIN;
			break;
		}
		if (!deadline)
			pthread_cond_wait(&j->done, &j->lock);
		else if (pthread_cond_timedwait(&j->done, &j->lock, deadline) == ETIMEDOUT)
			poll = true; /* look once more, then give up */
	}
	if (hurry)
		j->hurry--;
out:
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int itd_journal_wait(struct itd_journal *j, uint64_t ticket, int64_t timeout_ms)
{
	if (timeout_ms <= 0)
		return wait_ticket(j, ticket, NULL, timeout_ms == 0, true);
	struct timespec deadline;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(timeout_ms / 1000);
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	return wait_ticket(j, ticket, &deadline, false, true);
}

int itd_journal_wait_until(struct itd_journal *j, uint64_t ticket, uint64_t deadline_ns)
{
	struct timespec deadline = mono_ts(deadline_ns);
	return wait_ticket(j, ticket, &deadline, deadline_ns <= itd_clock_mono_ns(), false);
}

int itd_journal_status(struct itd_journal *j, char *why, size_t cap)
{
	pthread_mutex_lock(&j->lock);
	int rc = j->failed ? ITD_EIO : ITD_OK;
	if (cap)
		snprintf(why, cap, "%s", j->failed ? j->why : "");
	pthread_mutex_unlock(&j->lock);
	return rc;
}

void itd_journal_stats(struct itd_journal *j, struct itd_journal_stats *out)
{
	pthread_mutex_lock(&j->lock);
	*out = j->stats;
	pthread_mutex_unlock(&j->lock);
}

void itd_journal_last(struct itd_journal *j, uint64_t *last_tick_out,
		      uint64_t *last_arrival_out)
{
	pthread_mutex_lock(&j->lock);
	if (last_tick_out)
		*last_tick_out = j->d_tick;
	if (last_arrival_out)
		*last_arrival_out = j->d_arrival;
	pthread_mutex_unlock(&j->lock);
}

/* ------------------------------------------------------- open and close */

/* Free everything j holds (the writer is stopped, the database closed). */
static void journal_free(struct itd_journal *j)
{
	if (!j)
		return;
	if (j->sync_ready) {
		pthread_cond_destroy(&j->done);
		pthread_cond_destroy(&j->work);
		pthread_mutex_destroy(&j->lock);
	}
	itd_audit_chain_fini(&j->chain);
	itd_free(j->ring);
	itd_free(j->latest);
	itd_jblock_free(&j->iblock);
	itd_free(j->scenario_name);
	itd_free(j->vfs);
	itd_free(j->path);
	itd_free(j->dir);
	itd_free(j);
}

static int sync_init(struct itd_journal *j)
{
	pthread_condattr_t ca;
	if (pthread_condattr_init(&ca))
		return ITD_EINTERNAL;
	int rc = ITD_EINTERNAL;
	if (pthread_condattr_setclock(&ca, CLOCK_MONOTONIC))
		goto out;
	if (pthread_mutex_init(&j->lock, NULL))
		goto out;
	if (pthread_cond_init(&j->work, &ca))
		goto fail_lock;
	if (pthread_cond_init(&j->done, &ca))
		goto fail_work;
	j->sync_ready = true;
	rc = ITD_OK;
	goto out;
fail_work:
	pthread_cond_destroy(&j->work);
fail_lock:
	pthread_mutex_destroy(&j->lock);
out:
	pthread_condattr_destroy(&ca);
	return rc;
}

/* Make sure the data directory exists (creating it 0700 when allowed). */
static int ensure_dir(const char *dir, bool create, char *err, size_t cap)
{
	struct stat st;
	if (stat(dir, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return ITD_OK;
		snprintf(err, cap, "%s: not a directory", dir);
		return ITD_ECONFIG;
	}
	if (errno != ENOENT) {
		snprintf(err, cap, "%s: %s", dir, strerror(errno));
		return ITD_EIO;
	}
	if (!create) {
		snprintf(err, cap, "%s: no such data directory", dir);
		return ITD_ENOTFOUND;
	}
	if (mkdir(dir, 0700) && errno != EEXIST) {
		snprintf(err, cap, "%s: cannot create: %s", dir, strerror(errno));
		return ITD_EIO;
	}
	return ITD_OK;
}

int itd_journal_open(const struct itd_journal_config *cfg, struct itd_journal **out,
		     char *err, size_t cap)
{
	int rc;
	struct itd_journal *j = NULL;
	*out = NULL;
	if (cap)
		err[0] = '\0';
	if (!cfg || !cfg->dir || !cfg->dir[0] ||
	    (cfg->meta.scenario_len && !cfg->meta.scenario_text)) {
		snprintf(err, cap, "journal: no data directory or bad scenario");
		return ITD_EINVAL;
	}
	rc = ITD_ENOMEM;
	j = itd_calloc(1, sizeof *j);
	if (!j)
		goto fail;
	size_t dlen = strlen(cfg->dir);
	j->dir = itd_strdup(cfg->dir);
	j->path = itd_malloc(dlen + sizeof "/" ITD_JOURNAL_DB);
	j->scenario_name = itd_strdup(cfg->meta.scenario_name ? cfg->meta.scenario_name
							     : "(unnamed)");
	if (!j->dir || !j->path || !j->scenario_name)
		goto fail;
	memcpy(j->path, cfg->dir, dlen);
	memcpy(j->path + dlen, "/" ITD_JOURNAL_DB, sizeof "/" ITD_JOURNAL_DB);
	if (cfg->vfs && !(j->vfs = itd_strdup(cfg->vfs)))
		goto fail;
	size_t qb = cfg->queue_bytes ? cfg->queue_bytes : ITD_JOURNAL_QUEUE_DEFAULT;
	if (qb < 4096)
		qb = 4096;
	j->cap = jrec_align(qb);
	if (!(j->ring = itd_malloc(j->cap)))
		goto fail;
	j->meta = cfg->meta;
	j->meta.scenario_name = NULL;
	/* The scenario text is the caller's: kept only while open() writes it
	 * into a new database's meta (offline tools read it back). */
	j->busy_ms = cfg->busy_timeout_ms > 0 ? cfg->busy_timeout_ms : 5000;
	j->readonly = cfg->readonly;
	j->keep_snapshots = cfg->keep_snapshots;
	j->linger_ns = cfg->linger_ms * UINT64_C(1000000);
	j->next_ticket = 1;
	itd_audit_chain_init(&j->chain);
	if (cfg->audit_sk &&
	    (rc = itd_audit_chain_set_signer(&j->chain, cfg->audit_sk,
					     cfg->audit_every ? cfg->audit_every : 1000))) {
		snprintf(err, cap, "journal: cannot set the audit signer");
		goto fail;
	}
	if (cfg->meta.scenario_text) {
		if ((rc = itd_sha256(cfg->meta.scenario_text, cfg->meta.scenario_len, j->sha))) {
			snprintf(err, cap, "journal: SHA-256 unavailable");
			goto fail;
		}
		j->have_sha = true;
	}
	if ((rc = ensure_dir(cfg->dir, cfg->create, err, cap)))
		goto fail;
	if ((rc = sync_init(j))) {
		snprintf(err, cap, "journal: cannot initialise locks");
		goto fail;
	}
	uint64_t last_tick, last_arrival;
	rc = itd_journal_db_open(j, cfg->create && !cfg->readonly, &last_tick, &last_arrival, err,
				 cap);
	j->meta.scenario_text = NULL;
	if (rc)
		goto fail;
	j->d_tick = j->q_tick = last_tick;
	j->d_arrival = j->q_arrival = last_arrival;
	if (j->readonly) {
		j->failed = true;
		snprintf(j->why, sizeof j->why, "opened read-only");
	} else if ((rc = writer_start(j))) {
		snprintf(err, cap, "journal: cannot start the writer thread");
		goto fail_db;
	}
	checker_start(j);
	*out = j;
	return ITD_OK;
fail_db:
	itd_journal_db_close(j);
fail:
	if (rc == ITD_ENOMEM && cap && !err[0])
		snprintf(err, cap, "journal: out of memory");
	journal_free(j);
	return rc;
}

int itd_journal_close(struct itd_journal *j)
{
	if (!j)
		return ITD_OK;
	writer_stop(j);
	int rc = j->failed && !j->readonly ? ITD_EIO : ITD_OK;
	itd_journal_db_close(j);
	journal_free(j);
	return rc;
}

int itd_journal_reopen(struct itd_journal *j, char *err, size_t cap)
{
	if (cap)
		err[0] = '\0';
	if (j->readonly) {
		snprintf(err, cap, "%s: opened read-only", j->path);
		return ITD_EINVAL;
	}
	writer_stop(j);
	itd_journal_db_close(j);
	uint64_t last_tick = 0, last_arrival = 0;
	/* After a failure the whole file is checked before writes resume. */
	j->full_check = true;
	int rc = itd_journal_db_open(j, false, &last_tick, &last_arrival, err, cap);
	j->full_check = false;
	pthread_mutex_lock(&j->lock);
	if (rc) {
		if (!j->failed)
			j->stats.failures++;
		j->failed = true;
		snprintf(j->why, sizeof j->why, "reopen failed: %s", cap ? err : "");
		goto out;
	}
	j->failed = false;
	j->closing = false;
	j->why[0] = '\0';
	j->d_tick = j->q_tick = last_tick;
	j->d_arrival = j->q_arrival = last_arrival;
	if ((rc = writer_start(j))) {
		j->failed = true;
		snprintf(j->why, sizeof j->why, "reopen: cannot start the writer thread");
		snprintf(err, cap, "%s", j->why);
	}
out:
	pthread_mutex_unlock(&j->lock);
	return rc;
}
