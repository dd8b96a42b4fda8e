/* srv_core.c: the live runtime: builds engine, telemetry (file or stdout
 * sink plus the stream ring), metrics, tokens and the HTTP daemon; runs the
 * tick loop on the calling thread, paced in real time, with pause, resume
 * and step; shuts down gracefully (finish the tick, flush telemetry, end
 * streams, close clients). */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_int.h"

/* ------------------------------------------------ the wrapped observer */

static void on_event(void *ctx, const struct itd_engine *e, const struct itd_event *ev)
{
	struct itd_server *s = ctx;
	if (s->replaying) {
		/* Recovery re-runs ticks that were already reported, except the
		 * last ones, whose events may never have been delivered. */
		if (s->replay_emit && s->obs.event)
			s->obs.event(s->obs.ctx, e, ev);
		return;
	}
	srv_metrics_event(s->metrics, ev);
	if (s->obs.event)
		s->obs.event(s->obs.ctx, e, ev);
}

/* How far a durable loop may run ahead of its last durable tick before it
 * waits for the disk (the events of the ticks in between are held): 64
 * ticks, or twice the ticks of a commit interval if more. */
#define DURABLE_LAG_MIN 64

static uint64_t durable_lag_max(const struct itd_server *s)
{
	double rate = s->cfg.rate_hz > 0 ? s->cfg.rate_hz : s->cfg.scn->rate_hz;
	double ticks = 2.0 * (double)s->cfg.commit_interval_ms / 1000.0 * rate;
	return ticks > DURABLE_LAG_MIN ? (uint64_t)ticks + 1 : DURABLE_LAG_MIN;
}

/* The store could not make the tick durable: refuse input at once (503),
 * stop ticking, and let the loop repair the store (repair_store).  What
 * telemetry held is published: store.repaired will say which cycles were
 * void. */
static void store_failed(struct itd_server *s, const struct itd_engine *e)
{
	s->store_failed = true;
	itd_engine_intake_gate(s->engine, ITD_EIO);
	itd_engine_hold(s->engine);
	__atomic_store_n(&s->ready, false, __ATOMIC_RELEASE);
	char why[256] = "";
	itd_store_status(s->store, why, sizeof why);
	uint64_t durable = 0;
	itd_store_last(s->store, &durable, NULL);
	fprintf(stderr, "intentd: the store cannot make tick %llu durable (%s): input is "
			"refused (503) and ticking stops until it is repaired\n",
		(unsigned long long)itd_engine_tick(e), why[0] ? why : "timed out");
	struct itd_jw *w = itd_tel_begin(s->tel, "store.failed", "store", itd_engine_tick(e),
					 itd_engine_now_ms(e));
	itd_jw_kstr(w, "reason", why[0] ? why : "timed out");
	itd_jw_ku64(w, "durable_tick", durable);
	itd_tel_end(s->tel);
	itd_tel_release_all(s->tel);
}

/* Wait for the ticks run so far to be durable, and publish their events:
 * before the loop idles (pause, stop), so nothing it ran stays held. */
static void settle(struct itd_server *s)
{
	if (!s->store || s->store_failed)
		return;
	if (itd_store_wait_tick(s->store, 10000)) {
		store_failed(s, s->engine);
		return;
	}
	uint64_t durable = 0;
	itd_store_last(s->store, &durable, NULL);
	itd_tel_release(s->tel, durable);
}

/* After each tick, outside the state lock (readers of the state and the
 * API are not held up while the tick's commit is awaited). */
static void on_after_tick(void *ctx, const struct itd_engine *e)
{
	struct itd_server *s = ctx;
	if (s->replaying) {
		/* Replayed ticks are durable already. */
		if (s->replay_emit && s->obs.tick_end) {
			s->obs.tick_end(s->obs.ctx, e);
			itd_tel_release_all(s->tel);
		}
		return;
	}
	if (s->obs.tick_end)
		s->obs.tick_end(s->obs.ctx, e);
	srv_metrics_tick(s->metrics, itd_clock_mono_ns() - itd_engine_tick_start_ns(e));
	if (!s->store || s->store_failed) {
		itd_tel_release_all(s->tel);
		return;
	}
	/* A tick's effects are reported only once the tick is durable: after
	 * a crash it is replayed, never reported twice.  The loop waits for
	 * its commit only until the next tick is due: if the disk is slower
	 * than that, the next tick runs on time and this one's events are
	 * published once it is durable, unless the loop is too far ahead of
	 * the disk, or telemetry holds too much, when it waits. */
	uint64_t tick = itd_engine_tick(e), durable = 0;
	itd_store_last(s->store, &durable, NULL);
	uint64_t due = itd_engine_next_due_ns(e);
	bool must = !due || tick - durable >= durable_lag_max(s) || itd_tel_hold_pressed(s->tel);
	int rc = must ? itd_store_wait_tick(s->store, 10000)
		      : itd_store_wait_tick_until(s->store, due - (due > 200000 ? 200000 : 0));
	if (rc && (must || rc != ITD_EAGAIN)) {
		store_failed(s, e);
		return;
	}
	itd_store_last(s->store, &durable, NULL);
	itd_tel_release(s->tel, durable);
}

/* ------------------------------------------------------- directories */

/* The directory for generated files (snapshots): the data directory, or a
 * private runtime directory. */
static int make_run_dir(struct itd_server *s, char *err, size_t cap)
{
	if (s->cfg.data_dir) {
		snprintf(s->run_dir, sizeof s->run_dir, "%s", s->cfg.data_dir);
	} else {
		/* The same choice as the generated admin token's (srv_auth.c). */
		const char *xdg = getenv("XDG_RUNTIME_DIR");
		if (xdg && xdg[0] == '/')
			snprintf(s->run_dir, sizeof s->run_dir, "%s/intentd", xdg);
		else
			snprintf(s->run_dir, sizeof s->run_dir, "/tmp/intentd-%u", (unsigned)geteuid());
	}
	/* mkdir -p: every missing component, private to us. */
	char path[sizeof s->run_dir];
	snprintf(path, sizeof path, "%s", s->run_dir);
	for (char *p = path + 1;; p++) {
		if (*p && *p != '/')
			continue;
		char saved = *p;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			snprintf(err, cap, "%s: %s", path, strerror(errno));
			return ITD_EIO;
		}
		*p = saved;
		if (!saved)
			break;
	}
	return ITD_OK;
}

/* ------------------------------------------------------------- store */

static uint64_t tel_seq(void *ctx)
{
	return itd_tel_events(ctx);
}

/* Audit entries carry their event's telemetry payload. */
static int audit_payload(void *ctx, const struct itd_engine *e, const struct itd_event *ev,
			 const struct itd_value *pre, char *buf, size_t cap, size_t *len_out)
{
	return itd_tel_payload(ctx, e, ev, pre, buf, cap, len_out);
}

/* Before each tick a recovery re-runs: a tick within the stream ring's
 * reach of the journal's end has its events emitted again, with the seqs
 * they had.  A client that resumes from its last seq after a crash finds
 * what was durable but not yet delivered; the telemetry file skips what it
 * already holds (itd_sink_file_resume), and stdout, which cannot tell what
 * it printed, gets none of them (a crash can leave it a gap, never a
 * repeat, and a pipe nobody reads cannot hold the start up). */
static void on_replay_tick(void *ctx, uint64_t tick, uint64_t seq_before, uint64_t seq_after,
			   uint64_t seq_end)
{
	struct itd_server *s = ctx;
	(void)tick;
	if (s->cfg.telemetry && !strcmp(s->cfg.telemetry, "-"))
		itd_tel_skip_through(s->tel, "stdout", seq_end);
	s->replay_emit = seq_end - seq_after < s->cfg.stream_ring;
	if (s->replay_emit)
		itd_tel_set_seq(s->tel, seq_before);
}

/* Open the journal in the data dir, replay it (the run continues where its
 * last durable tick left off), then journal from here on. */
static int open_store(struct itd_server *s, char *err, size_t cap)
{
	const struct itd_server_config *cfg = &s->cfg;
	struct itd_store_config sc = {
		.dir = cfg->data_dir, .scenario_name = cfg->scn->name, .identity = cfg->identity,
		.identity_len = cfg->identity_len, .seed = cfg->seed,
		.rate = cfg->rate_hz > 0 ? cfg->rate_hz : cfg->scn->rate_hz,
		.audit_key = cfg->audit_key, .audit_every = cfg->audit_every,
		.snapshot_every = cfg->snapshot_every, .keep_snapshots = cfg->keep_snapshots,
		.commit_interval_ms = cfg->commit_interval_ms};
	int rc = itd_store_open(&sc, &s->store, err, cap);
	if (rc)
		return rc;
	struct itd_store_recovery rec;
	uint64_t t0 = itd_clock_mono_ns();
	/* The live stream starts with what the telemetry file holds of this
	 * run, so a client resuming after a restart misses nothing. */
	if (!cfg->telemetry || (strcmp(cfg->telemetry, "off") && strcmp(cfg->telemetry, "-"))) {
		char path[4096];
		itd_tel_file_path(cfg->telemetry, cfg->run_id, path, sizeof path);
		int trc = itd_tel_file_tail(path, cfg->run_id, srv_stream_arena_bytes(s->stream),
					    srv_stream_preload, s->stream);
		if (trc) {
			fprintf(stderr, "intentd: cannot read %s to refill the live stream: %s\n",
				path, itd_err_msg(trc));
		} else {
			/* The file may lack the events of ticks up to the newest
			 * snapshot (a crash between a tick's commit and the
			 * delivery of its events): start from an older snapshot
			 * if need be. */
			itd_store_replay_since(s->store, srv_stream_last_seq(s->stream),
					       cfg->stream_ring);
		}
	}
	/* Start-up may wait for the sinks: no re-emitted event is dropped. */
	s->replaying = true;
	itd_tel_set_policy(s->tel, ITD_TEL_BLOCK);
	itd_store_on_replay(s->store, on_replay_tick, s);
	rc = itd_store_recover(s->store, s->engine, true, &rec, err, cap);
	itd_store_on_replay(s->store, NULL, NULL);
	itd_store_replay_since(s->store, 0, 0);
	s->replaying = false;
	s->replay_emit = false;
	if (!rc)
		itd_tel_drain(s->tel);
	itd_tel_set_policy(s->tel, ITD_TEL_DROP_OLDEST);
	if (rc)
		return rc;
	srv_stream_resume_at(s->stream, rec.tel_seq);
	if (rec.snapshots_bad)
		fprintf(stderr, "intentd: %s (%llu skipped); the journal covers it\n", rec.note,
			(unsigned long long)rec.snapshots_bad);
	itd_tel_set_seq(s->tel, rec.tel_seq);
	itd_store_attach(s->store, s->engine, tel_seq, s->tel);
	/* From here on every decision is also an audit entry of its tick. */
	struct itd_observer tel = s->obs;
	if ((rc = itd_store_observer(s->store, &tel, audit_payload, s->tel, &s->obs))) {
		snprintf(err, cap, "cannot set up the audit chain: %s", itd_err_msg(rc));
		return rc;
	}
	if (rec.last_tick) /* worth saying even when quiet: the run continued */
		fprintf(stderr,
			"intentd: recovered to tick %llu (snapshot of tick %llu + %llu ticks "
			"replayed), %llu intents in memory, from %s in %.3f s\n",
			(unsigned long long)rec.last_tick, (unsigned long long)rec.snapshot_tick,
			(unsigned long long)rec.ticks,
			(unsigned long long)itd_engine_intents_c(s->engine)->n, cfg->data_dir,
			(double)(itd_clock_mono_ns() - t0) / 1e9);
	return ITD_OK;
}

/* ------------------------------------------------------------ create */

int itd_server_create(const struct itd_server_config *cfg, struct itd_server **out, char *err,
		      size_t cap)
{
	*out = NULL;
	err[0] = '\0';
	struct itd_server *s = itd_calloc(1, sizeof *s);
	if (!s)
		return ITD_ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.listen)
		s->cfg.listen = "127.0.0.1:5050";
	if (!s->cfg.stream_ring)
		s->cfg.stream_ring = 65536;
	if (!s->cfg.client_buffer)
		s->cfg.client_buffer = 1 << 20;
	if (!s->cfg.max_body)
		s->cfg.max_body = 64 * 1024;
	if (!s->cfg.timeout_s)
		s->cfg.timeout_s = 30;
	if (!s->cfg.max_conns)
		s->cfg.max_conns = 4096;
	int rc = ITD_ENOMEM;
	pthread_rwlock_init(&s->state_lock, NULL);
	pthread_mutex_init(&s->loop_lock, NULL);
	pthread_cond_init(&s->loop_cond, NULL);

	if ((rc = make_run_dir(s, err, cap)))
		goto fail;
	if ((rc = srv_metrics_create(&s->metrics)))
		goto fail;
	if ((rc = srv_stream_create(s, s->cfg.stream_ring, s->cfg.client_buffer, &s->stream)))
		goto fail;

	/* Telemetry: drop-oldest (a live loop never waits for a sink),
	 * flushed every tick so the stream is prompt. */
	/* With a store, a tick's events wait for the tick to be durable. */
	struct itd_tel_options to = {.run_id = cfg->run_id, .policy = ITD_TEL_DROP_OLDEST,
				     .flush_every_tick = true,
				     .hold_ticks = cfg->data_dir != NULL};
	if ((rc = itd_tel_create_for(cfg->scn, &to, &s->tel, err, cap)))
		goto fail;
	if (!cfg->telemetry || strcmp(cfg->telemetry, "off")) {
		/* With a data dir the run continues across restarts, and so does
		 * its telemetry file. */
		if ((rc = itd_tel_open_sink(s->tel, cfg->telemetry, cfg->run_id, cfg->data_dir != NULL,
					    err, cap)))
			goto fail;
	}
	if ((rc = itd_tel_add_sink(s->tel, "stream", srv_stream_sink(), s->stream))) {
		snprintf(err, cap, "cannot attach the live stream: %s", itd_err_msg(rc));
		goto fail;
	}
	itd_tel_observer(s->tel, &s->obs);

	struct itd_observer wrap = {.event = on_event, .after_tick = on_after_tick, .ctx = s};
	struct itd_engine_config ec = {.scn = cfg->scn, .seed = cfg->seed,
				       .clock = ITD_CLOCK_REAL, .rate_hz = cfg->rate_hz,
				       .obs = &wrap, .state_lock = &s->state_lock};
	if ((rc = itd_engine_create(&ec, &s->engine))) {
		snprintf(err, cap, "cannot create the engine: %s", itd_err_msg(rc));
		goto fail;
	}
	if (cfg->data_dir && (rc = open_store(s, err, cap)))
		goto fail;
	if ((rc = srv_auth_init(&s->auth, &s->cfg, err, cap)))
		goto fail;
	if ((rc = srv_http_start(s, err, cap)))
		goto fail;
	*out = s;
	return ITD_OK;
fail:
	if (!err[0])
		snprintf(err, cap, "%s", itd_err_msg(rc));
	itd_server_destroy(s);
	return rc;
}

/* -------------------------------------------------------- loop control */

bool srv_loop_paused(struct itd_server *s)
{
	pthread_mutex_lock(&s->loop_lock);
	bool p = s->paused;
	pthread_mutex_unlock(&s->loop_lock);
	return p;
}

int srv_loop_pause(struct itd_server *s, const char *actor, uint64_t *ticket)
{
	/* Applied (and reported) by the next tick; the loop then holds. */
	if (srv_loop_paused(s))
		return ITD_ESTATE;
	return itd_engine_console(s->engine, ITD_CONSOLE_PAUSE, "", actor, ticket);
}

int srv_loop_resume(struct itd_server *s, const char *actor, uint64_t *ticket)
{
	pthread_mutex_lock(&s->loop_lock);
	if (!s->paused) {
		pthread_mutex_unlock(&s->loop_lock);
		return ITD_ESTATE;
	}
	int rc = itd_engine_console(s->engine, ITD_CONSOLE_RESUME, "", actor, ticket);
	if (!rc) {
		s->paused = false;
		s->steps = 0;
		pthread_cond_broadcast(&s->loop_cond);
	}
	pthread_mutex_unlock(&s->loop_lock);
	return rc;
}

int srv_loop_step(struct itd_server *s, uint64_t n, const char *actor, uint64_t *ticket)
{
	char args[32];
	snprintf(args, sizeof args, "%llu", (unsigned long long)n);
	pthread_mutex_lock(&s->loop_lock);
	if (!s->paused) {
		pthread_mutex_unlock(&s->loop_lock);
		return ITD_ESTATE;
	}
	int rc = itd_engine_console(s->engine, ITD_CONSOLE_STEP, args, actor, ticket);
	if (!rc) {
		s->steps += n;
		pthread_cond_broadcast(&s->loop_cond);
	}
	pthread_mutex_unlock(&s->loop_lock);
	return rc;
}

/* Wait while paused with nothing to step; returns the ticks to step (0:
 * resumed, or stopping). */
static uint64_t hold(struct itd_server *s, const volatile int *stop)
{
	pthread_mutex_lock(&s->loop_lock);
	while (s->paused && !s->steps && !*stop) {
		/* A signal sets *stop without touching the condition: look
		 * again every 100 ms. */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 100 * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->loop_cond, &s->loop_lock, &ts);
	}
	uint64_t n = s->paused ? s->steps : 0;
	s->steps = 0;
	pthread_mutex_unlock(&s->loop_lock);
	return n;
}

/* Sleep ms, waking every 100 ms to look at *stop. */
static void nap(unsigned ms, const volatile int *stop)
{
	for (unsigned t = 0; t < ms && !*stop; t += 100) {
		struct timespec ts = {.tv_nsec = 100 * 1000000L};
		nanosleep(&ts, NULL);
	}
}

/* The store failed (a commit, or the background integrity check): input
 * is refused and the loop stopped.  Reopen it (every page checked, the
 * audit chain's tail rehashed), rebuild the engine from what is durable
 * (the newest snapshot, then the journal after it, every tick's hash
 * checked), and only then take input and tick again.  Ticks that ran but
 * never became durable are rewound: their telemetry was already
 * published, so store.repaired says which cycles were void.  Retries with
 * backoff while the fault lasts (a full disk, say). */
static void repair_store(struct itd_server *s, const volatile int *stop)
{
	uint64_t failed_tick = itd_engine_tick(s->engine);
	unsigned backoff = 250;
	unsigned attempts = 0;
	char err[512];
	while (!*stop) {
		attempts++;
		int rc = itd_store_reopen(s->store, err, sizeof err);
		struct itd_store_recovery rec;
		if (!rc) {
			uint64_t t0 = itd_clock_mono_ns();
			itd_engine_reset(s->engine, s->cfg.seed);
			s->replaying = true;
			rc = itd_store_recover(s->store, s->engine, true, &rec, err, sizeof err);
			s->replaying = false;
			if (!rc) {
				double secs = (double)(itd_clock_mono_ns() - t0) / 1e9;
				fprintf(stderr,
					"intentd: store repaired after %u attempt%s: back at tick %llu "
					"(%llu non-durable tick%s rewound), rebuilt in %.3f s\n",
					attempts, attempts == 1 ? "" : "s",
					(unsigned long long)rec.last_tick,
					(unsigned long long)(failed_tick - rec.last_tick),
					failed_tick - rec.last_tick == 1 ? "" : "s", secs);
				struct itd_jw *w = itd_tel_begin(s->tel, "store.repaired", "store",
								 rec.last_tick,
								 itd_engine_now_ms(s->engine));
				itd_jw_ku64(w, "resumed_after_tick", rec.last_tick);
				itd_jw_ku64(w, "void_from_cycle", rec.last_tick + 1);
				itd_jw_ku64(w, "void_to_cycle", failed_tick);
				itd_jw_ku64(w, "attempts", attempts);
				itd_tel_end(s->tel);
				itd_tel_tick_end(s->tel, rec.last_tick, itd_engine_now_ms(s->engine));
				s->store_failed = false;
				srv_durable_repaired(s->durable);
				itd_engine_intake_gate(s->engine, 0);
				__atomic_store_n(&s->ready, true, __ATOMIC_RELEASE);
				return;
			}
		}
		fprintf(stderr, "intentd: store repair attempt %u failed: %s; next in %.1f s\n",
			attempts, err, backoff / 1000.0);
		nap(backoff, stop);
		backoff = backoff < 4000 ? backoff * 2 : 5000;
	}
}

int itd_server_run(struct itd_server *s, const volatile int *stop)
{
	/* The loop's rate is the promise; requests can wait a little.  Run
	 * the tick thread ahead of the HTTP threads where we may: real-time
	 * (SCHED_FIFO) on request, else a raised nice value.  Both need
	 * privilege; without it the loop runs as it is.  The loop sleeps
	 * between ticks, so a real-time loop cannot starve the machine. */
	if (s->cfg.realtime) {
		struct sched_param sp = {.sched_priority = 10};
		int e = pthread_setschedparam(pthread_self(), SCHED_FIFO, &sp);
		if (e)
			fprintf(stderr, "intentd: cannot run the tick thread real-time: %s\n",
				strerror(e));
	} else if (setpriority(PRIO_PROCESS, (id_t)gettid(), -5) && !s->cfg.quiet) {
		fprintf(stderr, "intentd: note: could not raise the tick thread's priority (%s)\n",
			strerror(errno));
	}
	__atomic_store_n(&s->ready, true, __ATOMIC_RELEASE);
	int rc = ITD_OK;
	while (!*stop && !rc) {
		if (s->store_failed) {
			repair_store(s, stop);
			continue;
		}
		if (srv_loop_paused(s)) {
			uint64_t n = hold(s, stop);
			if (n) {
				itd_engine_resume(s->engine);
				rc = itd_engine_run(s->engine, n, stop);
				settle(s);
			}
			continue;
		}
		itd_engine_resume(s->engine);
		rc = itd_engine_run(s->engine, 0, stop);
		settle(s);
		/* A store failure holds the engine too; that is not a pause. */
		if (itd_engine_paused(s->engine) && !s->store_failed) {
			pthread_mutex_lock(&s->loop_lock);
			s->paused = true;
			pthread_mutex_unlock(&s->loop_lock);
		}
	}
	/* Graceful: the last tick is complete; flush, then end the streams. */
	__atomic_store_n(&s->ready, false, __ATOMIC_RELEASE);
	itd_tel_drain(s->tel);
	srv_stream_close_all(s->stream);
	return rc;
}

const char *itd_server_url(const struct itd_server *s)
{
	return s->url;
}

const char *itd_server_token_path(const struct itd_server *s)
{
	return s->auth.generated_path[0] ? s->auth.generated_path : NULL;
}

void itd_server_destroy(struct itd_server *s)
{
	if (!s)
		return;
	if (s->stream)
		srv_stream_close_all(s->stream);
	srv_http_stop(s);
	/* Telemetry before the stream: its sink thread writes into the ring. */
	itd_tel_destroy(s->tel);
	itd_store_close(s->store);
	itd_engine_destroy(s->engine);
	srv_stream_destroy(s->stream);
	srv_metrics_destroy(s->metrics);
	srv_auth_fini(&s->auth);
	pthread_rwlock_destroy(&s->state_lock);
	pthread_mutex_destroy(&s->loop_lock);
	pthread_cond_destroy(&s->loop_cond);
	itd_free(s);
}
