/* srv_durable.c: answers that wait for durability without holding a
 * thread.  With --data a submission is acknowledged only once its journal
 * record is durable (docs/design/store.md).  Its handler prepares the
 * answer; srv_http.c then parks it here: the connection is suspended and
 * the HTTP thread goes back to serving others.  One waiter thread waits on
 * the store for the smallest parked ticket and resumes every connection
 * whose ticket is settled, so any number of submissions share a commit.
 *
 *   handler: ticket durable already ------------------------> answer now
 *   handler: not yet --mu: MHD_suspend, link (by ticket)---> PARKED
 *   waiter:  PARKED, ticket durable / lost / past deadline
 *            --mu: unlink, result = 0 / ITD_EIO / ITD_EAGAIN--> CLAIMED
 *   waiter:  CLAIMED --MHD_resume (outside mu; w never touched again)-->
 *            MHD calls the access handler again: 202 (or 200), or 503
 *
 * Why this is safe.  An entry is linked only after its connection is
 * suspended (both under mu), and only the waiter resumes it, once, after
 * unlinking it: so every resume is of a live, really suspended connection.
 * A suspended connection cannot end (MHD neither times it out nor notices
 * the peer closing), so the request context holding the entry is freed
 * only after the resume; a client that left gets its answer written to a
 * dead socket and MHD closes it then.
 *
 * Shutdown.  srv_durable_stop (before the daemon stops: MHD must not stop
 * with suspended connections) refuses new parking (hold() then waits
 * inline, briefly), answers entries as they settle and, STOP_GRACE_MS
 * after it began, all the rest with 503; then it waits (ANSWER_GRACE_MS at
 * most) until their requests completed, since stopping the daemon would
 * close resumed connections before their answer is sent.
 *
 * Idempotent duplicates.  The engine tells a duplicate its original's id,
 * not its ticket, and the original may not be durable yet; so submissions
 * with a key note, per hash bucket of the key, that they are inside the
 * engine and the ticket they got (key_enter/key_leave), and a duplicate
 * waits for the largest such ticket (see srv_durable_key_leave).
 *
 * Ordering.  Tickets are handed out in order and each commit makes a
 * prefix of them durable (store_journal.c), except tickets a failed commit
 * lost, which stay lost.  So in the list sorted by ticket the settled
 * entries (durable or lost) are a prefix, up to the first that is neither:
 * one look per settled entry and one more per round.  Waiting on the
 * smallest ticket wakes the thread at the first commit that settles any. */
#include <string.h>
#include <time.h>

#include "srv_int.h"

#define NS_PER_MS UINT64_C(1000000)
#define TIMEOUT_MS 10000       /* a parked answer becomes 503 after this */
#define STOP_GRACE_MS 3000     /* stopping: not durable by then: 503 */
#define SLICE_MS 50            /* longest store wait: deadlines and stop are
				  noticed this often */
#define STOP_SLICE_MS 10       /* ... while stopping */
#define SCAN_MS 100            /* deadlines are scanned this often */
#define INLINE_MS 1000        /* stopping: hold() waits inline this long */
#define ANSWER_GRACE_MS 2000   /* stopping: resumed answers get this long to
				  be sent before the daemon stops */
#define KEY_BUCKETS 4096       /* idempotency key hash buckets */
#define KEY_WAIT_MS 1000       /* a duplicate waits at most this for same-key
				  submissions still in the engine */

/* Submissions whose idempotency key hashes to one bucket. */
struct key_bucket {
	uint32_t inflight;     /* between key_enter and key_leave */
	uint64_t ticket;       /* the largest ticket one of them was given */
};

struct srv_durable {
	struct itd_store *store;           /* the journal */
	pthread_mutex_t mu;                /* guards the list, flags and stats */
	pthread_cond_t work;               /* the list became non-empty, or stop */
	pthread_cond_t answered;           /* answering reached 0 */
	pthread_t thread;                  /* the waiter */
	bool running;                      /* started and not yet joined */
	bool stopping;                     /* stop has begun: no more parking */
	uint64_t stop_ns;                  /* when it began */
	uint64_t next_scan_ns;             /* next deadline scan */
	struct srv_durable_wait *head, *tail; /* parked, ascending ticket */
	uint64_t answering;                /* claimed, their requests not yet
					      completed (srv_durable_release) */
	struct srv_durable_stats stats;    /* counters (waiting = list length) */
	pthread_mutex_t key_mu;            /* guards keys */
	pthread_cond_t key_left;           /* a bucket's inflight reached 0 */
	struct key_bucket keys[KEY_BUCKETS];
	uint64_t repairs;                  /* store repairs so far (atomic) */
};

/* Wait on cv (holding mu) until ns (monotonic); false once past it.  The
 * condition variables use the realtime clock: wait for the remaining time
 * from the realtime now. */
static bool wait_until(pthread_cond_t *cv, pthread_mutex_t *mu, uint64_t ns)
{
	uint64_t now = itd_clock_mono_ns();
	if (now >= ns)
		return false;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t at = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (ns - now);
	ts.tv_sec = (time_t)(at / 1000000000u);
	ts.tv_nsec = (long)(at % 1000000000u);
	pthread_cond_timedwait(cv, mu, &ts);
	return true;
}

/* ------------------------------------------------------------- the list */

/* Under mu: insert w by ticket.  Tickets arrive nearly in order, so the
 * walk from the tail is short. */
static void link_sorted(struct srv_durable *d, struct srv_durable_wait *w)
{
	struct srv_durable_wait *after = d->tail;
	while (after && after->ticket > w->ticket)
		after = after->prev;
	w->prev = after;
	w->next = after ? after->next : d->head;
	if (w->next)
		w->next->prev = w;
	else
		d->tail = w;
	if (after)
		after->next = w;
	else
		d->head = w;
	w->linked = true;
	d->stats.waiting++;
	if (d->stats.waiting > d->stats.waiting_max)
		d->stats.waiting_max = d->stats.waiting;
}

/* Under mu: take w out of the list. */
static void unlink_wait(struct srv_durable *d, struct srv_durable_wait *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else
		d->head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		d->tail = w->prev;
	w->prev = w->next = NULL;
	w->linked = false;
	d->stats.waiting--;
}

/* The claimed entries the waiter resumes, chained through next in
 * claiming order. */
struct batch {
	struct srv_durable_wait *first, *last;
};

/* Under mu: settle w with result and append it to the batch. */
static void claim(struct srv_durable *d, struct srv_durable_wait *w, int result, struct batch *b)
{
	unlink_wait(d, w);
	w->result = result;
	d->answering++;
	if (b->last)
		b->last->next = w;
	else
		b->first = w;
	b->last = w;
	if (!result)
		d->stats.durable++;
	else if (result == ITD_EAGAIN)
		d->stats.timed_out++;
	else
		d->stats.failed++;
}

/* Under mu: claim the settled prefix, and, when a scan is due (or the
 * stop's grace is over), every entry past its deadline.  Returns the batch
 * to resume. */
static struct srv_durable_wait *collect(struct srv_durable *d, uint64_t now)
{
	struct batch done = {0};
	while (d->head) {
		int r = itd_store_wait(d->store, d->head->ticket, 0);
		if (r == ITD_EAGAIN)
			break;
		claim(d, d->head, r, &done);
	}
	bool final = d->stopping && now >= d->stop_ns + STOP_GRACE_MS * NS_PER_MS;
	if (d->head && (final || now >= d->next_scan_ns)) {
		d->next_scan_ns = now + SCAN_MS * NS_PER_MS;
		for (struct srv_durable_wait *w = d->head, *next; w; w = next) {
			next = w->next;
			if (final || now >= w->deadline_ns)
				claim(d, w, ITD_EAGAIN, &done);
		}
	}
	return done.first;
}

/* Resume a claimed batch.  Each entry may be freed as soon as its
 * connection is resumed, so read what is needed first. */
static void resume_all(struct srv_durable_wait *w)
{
	while (w) {
		struct srv_durable_wait *next = w->next;
		MHD_resume_connection(w->conn);
		w = next;
	}
}

/* ----------------------------------------------------------- the waiter */

/* Sleep while nothing is parked; otherwise wait (at most a slice) for the
 * smallest parked ticket, then resume what is settled.  Exits once
 * stopping with nothing parked. */
static void *waiter_main(void *arg)
{
	struct srv_durable *d = arg;
	pthread_setname_np(pthread_self(), "itd-durable");
	pthread_mutex_lock(&d->mu);
	for (;;) {
		if (!d->head) {
			if (d->stopping)
				break;
			pthread_cond_wait(&d->work, &d->mu);
			continue;
		}
		uint64_t ticket = d->head->ticket;
		int64_t slice = d->stopping ? STOP_SLICE_MS : SLICE_MS;
		pthread_mutex_unlock(&d->mu);
		/* The result is read per entry in collect(). */
		(void)itd_store_wait(d->store, ticket, slice);
		pthread_mutex_lock(&d->mu);
		struct srv_durable_wait *done = collect(d, itd_clock_mono_ns());
		if (!done)
			continue;
		pthread_mutex_unlock(&d->mu);
		resume_all(done);
		pthread_mutex_lock(&d->mu);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

int srv_durable_create(struct itd_store *st, struct srv_durable **out)
{
	*out = NULL;
	struct srv_durable *d = itd_calloc(1, sizeof *d);
	if (!d)
		return ITD_ENOMEM;
	d->store = st;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->work, NULL);
	pthread_cond_init(&d->answered, NULL);
	pthread_mutex_init(&d->key_mu, NULL);
	pthread_cond_init(&d->key_left, NULL);
	if (pthread_create(&d->thread, NULL, waiter_main, d)) {
		srv_durable_destroy(d);
		return ITD_EINTERNAL;
	}
	d->running = true;
	*out = d;
	return ITD_OK;
}

void srv_durable_stop(struct srv_durable *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	bool running = d->running;
	if (!d->stopping) {
		d->stopping = true;
		d->stop_ns = itd_clock_mono_ns();
	}
	d->running = false;
	pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->mu);
	if (running)
		pthread_join(d->thread, NULL);
	/* Resumed is not yet answered: MHD sends each answer on its own
	 * threads, and stopping the daemon now would close those connections
	 * unanswered.  Wait (bounded) until their requests complete. */
	uint64_t until = itd_clock_mono_ns() + ANSWER_GRACE_MS * NS_PER_MS;
	pthread_mutex_lock(&d->mu);
	while (d->answering && wait_until(&d->answered, &d->mu, until))
		;
	pthread_mutex_unlock(&d->mu);
}

void srv_durable_destroy(struct srv_durable *d)
{
	if (!d)
		return;
	srv_durable_stop(d);
	pthread_cond_destroy(&d->key_left);
	pthread_mutex_destroy(&d->key_mu);
	pthread_cond_destroy(&d->answered);
	pthread_cond_destroy(&d->work);
	pthread_mutex_destroy(&d->mu);
	itd_free(d);
}

/* ---------------------------------------------------------- the handler */

int srv_durable_hold(struct srv_durable *d, struct srv_durable_wait *w,
		     struct MHD_Connection *conn, uint64_t ticket)
{
	int r = itd_store_wait(d->store, ticket, 0);
	if (r != ITD_EAGAIN)
		return r;
	pthread_mutex_lock(&d->mu);
	if (d->stopping) {
		/* The waiter is draining and takes nothing new: the few
		 * answers that arrive now wait here, briefly. */
		d->stats.inline_waits++;
		pthread_mutex_unlock(&d->mu);
		return itd_store_wait(d->store, ticket, INLINE_MS);
	}
	memset(w, 0, sizeof *w);
	w->conn = conn;
	w->ticket = ticket;
	w->deadline_ns = itd_clock_mono_ns() + TIMEOUT_MS * NS_PER_MS;
	/* Suspend before linking, both under mu: the waiter only ever sees
	 * (and so only ever resumes) a suspended connection. */
	MHD_suspend_connection(conn);
	bool was_empty = !d->head;
	link_sorted(d, w);
	d->stats.parked++;
	if (was_empty)
		pthread_cond_signal(&d->work);
	pthread_mutex_unlock(&d->mu);
	return SRV_DURABLE_PARKED;
}

void srv_durable_release(struct srv_durable *d, struct srv_durable_wait *w)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	if (w->linked) {
		unlink_wait(d, w); /* never claimed: cannot happen while MHD runs */
	} else if (d->answering && --d->answering == 0) {
		pthread_cond_broadcast(&d->answered);
	}
	pthread_mutex_unlock(&d->mu);
}

int srv_durable_refuse(struct srv_resp *out, int rc)
{
	char id[ITD_ID_LEN];
	memcpy(id, out->durable_id, sizeof id);
	id[sizeof id - 1] = '\0';
	itd_free(out->body);
	*out = (struct srv_resp){0};
	if (!id[0])
		return srv_error(out, 503, "store_unavailable", NULL,
				 "the command could not be made durable (%s): it may not "
				 "take effect; retry once the store is back",
				 itd_err_msg(rc));
	return srv_error(out, 503, "store_unavailable", NULL,
			 "%s is queued but could not be made durable (%s); "
			 "retry with an idempotency_key to be sure",
			 id, itd_err_msg(rc));
}

/* ------------------------------------------------ idempotency keys */

uint32_t srv_durable_key_bucket(const char *key)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % KEY_BUCKETS;
}

static struct key_bucket *bucket(struct srv_durable *d, const char *key)
{
	return &d->keys[srv_durable_key_bucket(key)];
}

uint64_t srv_durable_key_enter(struct srv_durable *d, const char *key)
{
	if (!d || !key)
		return 0;
	pthread_mutex_lock(&d->key_mu);
	bucket(d, key)->inflight++;
	pthread_mutex_unlock(&d->key_mu);
	return __atomic_load_n(&d->repairs, __ATOMIC_ACQUIRE);
}

void srv_durable_repaired(struct srv_durable *d)
{
	if (d)
		__atomic_add_fetch(&d->repairs, 1, __ATOMIC_RELEASE);
}

uint64_t srv_durable_key_leave(struct srv_durable *d, const char *key, int rc, uint64_t ticket,
			       uint64_t entered)
{
	if (!d || !key)
		return 0;
	struct key_bucket *b = bucket(d, key);
	pthread_mutex_lock(&d->key_mu);
	if (!rc && ticket > b->ticket)
		b->ticket = ticket;
	if (--b->inflight == 0)
		pthread_cond_broadcast(&d->key_left);
	uint64_t wait_for = 0;
	if (rc == ITD_EEXISTS) {
		/* The original entered before its engine call, which found no
		 * key and so ran before ours: it has left (its ticket is in
		 * b->ticket), or it is still inside and we wait for it. */
		uint64_t until = itd_clock_mono_ns() + KEY_WAIT_MS * NS_PER_MS;
		while (b->inflight && wait_until(&d->key_left, &d->key_mu, until))
			;
		wait_for = b->ticket;
	}
	pthread_mutex_unlock(&d->key_mu);
	/* A ticket a failed commit lost, while the store is healthy again and
	 * no repair finished since this submission entered: the engine that
	 * found the original had been rebuilt from what was durable, so the
	 * original is durable (the lost ticket was another submission's, with
	 * a key in the same bucket).  If a repair finished meanwhile, the
	 * engine may have answered before it, from an original the failure
	 * lost: the lost ticket stands, and the duplicate is answered 503. */
	if (wait_for && itd_store_wait(d->store, wait_for, 0) == ITD_EIO &&
	    itd_store_status(d->store, NULL, 0) == ITD_OK &&
	    __atomic_load_n(&d->repairs, __ATOMIC_ACQUIRE) == entered)
		wait_for = 0;
	return wait_for;
}

/* -------------------------------------------------------------- stats */

void srv_durable_stats(struct srv_durable *d, struct srv_durable_stats *out)
{
	*out = (struct srv_durable_stats){0};
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	*out = d->stats;
	pthread_mutex_unlock(&d->mu);
}
