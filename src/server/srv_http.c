/* srv_http.c: the HTTP front door (libmicrohttpd): listening, TLS, limits
 * and timeouts, request bodies, routing by srv_routes, role checks, and the
 * JSON error bodies every handler shares.  A request is answered in three
 * steps: headers (route, auth, size checked before any body is read), body
 * (collected up to max_body), then the handler.  An answer that must wait
 * for durability (srv_resp.durable_ticket) is parked with srv_durable.c:
 * the connection is suspended and the access handler, called again once
 * it is resumed, sends the answer (or a 503). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "srv_int.h"

/* The daemon's threads.  With a store, answers waiting for a commit are
 * parked without a thread, so the pool needs no more. */
#define HTTP_THREADS 2

/* Per-request state, from the first call of the access handler to the
 * completion notice. */
struct req_ctx {
	const struct srv_route *route; /* matched route, or NULL */
	char id[64];                   /* {id} segment */
	const struct srv_token *who;   /* authenticated caller */
	char *body;                    /* collected body (itd_malloc) */
	size_t len, cap;               /* its length and allocation */
	bool too_large;                /* the body exceeded max_body */
	bool parked;                   /* suspended until held is durable */
	bool was_parked;               /* parked once: release it at completion */
	struct srv_resp held;          /* the answer waiting for durability */
	struct srv_durable_wait wait;  /* its place among the waiters */
};

/* ---------------------------------------------------------- responses */

int srv_text(struct srv_resp *out, unsigned status, const char *content_type, const char *text,
	     size_t len)
{
	out->status = status;
	out->content_type = content_type;
	out->body = itd_malloc(len + 1);
	if (!out->body) {
		out->len = 0;
		out->status = 500;
		return ITD_ENOMEM;
	}
	memcpy(out->body, text, len);
	out->body[len] = '\0';
	out->len = len;
	return ITD_OK;
}

int srv_json(struct srv_resp *out, unsigned status, cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	cJSON_Delete(j);
	if (!text) {
		static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
		srv_text(out, 500, NULL, oom, sizeof oom - 1);
		return ITD_ENOMEM;
	}
	int rc = srv_text(out, status, NULL, text, strlen(text));
	cJSON_free(text);
	return rc;
}

int srv_error(struct srv_resp *out, unsigned status, const char *code, cJSON *details,
	      const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	cJSON *root = cJSON_CreateObject();
	cJSON *err = cJSON_CreateObject();
	if (!root || !err) {
		cJSON_Delete(root);
		cJSON_Delete(err);
		cJSON_Delete(details);
		return srv_json(out, status, NULL);
	}
	cJSON_AddItemToObject(root, "error", err);
	cJSON_AddStringToObject(err, "code", code);
	cJSON_AddStringToObject(err, "message", msg);
	if (details)
		cJSON_AddItemToObject(err, "details", details);
	else
		cJSON_AddItemToObject(err, "details", cJSON_CreateObject());
	return srv_json(out, status, root);
}

const char *srv_query(const struct srv_req *r, const char *key)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *srv_header(const struct srv_req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

/* Hand a filled srv_resp to MHD. */
static enum MHD_Result send_resp(struct MHD_Connection *conn, struct srv_resp *out)
{
	struct MHD_Response *resp = out->raw;
	if (!resp) {
		resp = MHD_create_response_from_buffer_with_free_callback(
			out->len, out->body ? out->body : (void *)"", out->body ? itd_free : NULL);
		if (!resp) {
			itd_free(out->body);
			return MHD_NO;
		}
		out->body = NULL;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					out->content_type ? out->content_type : "application/json");
	}
	if (!out->raw) /* streams set their own caching headers */
		MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (out->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, out->retry_after);
	enum MHD_Result ret = MHD_queue_response(conn, out->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool match(const char *pattern, const char *path, char *id, size_t cap);

/* The methods a path answers to, for a 405's Allow header. */
static void allowed_methods(const char *path, char *out, size_t cap)
{
	char id[64];
	size_t n = 0;
	out[0] = '\0';
	for (size_t i = 0; i < srv_n_routes && n < cap; i++)
		if (match(srv_routes[i].pattern, path, id, sizeof id))
			n += (size_t)snprintf(out + n, cap - n, "%s%s%s", n ? ", " : "",
					      srv_routes[i].method,
					      strcmp(srv_routes[i].method, "GET") ? "" : ", HEAD");
}

/* Answer with an error right away (before or after the body), count it. */
static enum MHD_Result fail_now(struct itd_server *s, struct MHD_Connection *conn,
				const struct srv_route *route, unsigned status, const char *code,
				const char *msg, const char *allow)
{
	struct srv_resp out = {0};
	srv_error(&out, status, code, NULL, "%s", msg);
	srv_metrics_request(s->metrics, route, status);
	struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
		out.len, out.body, itd_free);
	if (!resp) {
		itd_free(out.body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	MHD_add_response_header(resp, "Cache-Control", "no-store");
	if (status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					"Bearer realm=\"intentd\"");
	if (allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ------------------------------------------------------------ routing */

/* Match path against a pattern with at most one {id} segment. */
static bool match(const char *pattern, const char *path, char *id, size_t cap)
{
	id[0] = '\0';
	while (*pattern && *path) {
		if (!strncmp(pattern, "{id}", 4)) {
			size_t n = strcspn(path, "/");
			if (n == 0 || n >= cap)
				return false;
			memcpy(id, path, n);
			id[n] = '\0';
			path += n;
			pattern += 4;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return !*pattern && !*path;
}

/* The route for method+path; *path_known says whether any method would
 * have matched (405 rather than 404). */
static const struct srv_route *find_route(const char *method, const char *path, char *id,
					  size_t cap, bool *path_known)
{
	*path_known = false;
	for (size_t i = 0; i < srv_n_routes; i++) {
		if (!match(srv_routes[i].pattern, path, id, cap))
			continue;
		*path_known = true;
		/* HEAD is GET without the body (MHD drops it): probes use it. */
		if (!strcmp(srv_routes[i].method, method) ||
		    (!strcmp(method, "HEAD") && !strcmp(srv_routes[i].method, "GET")))
			return &srv_routes[i];
	}
	return NULL;
}

static enum srv_role needed_role(const struct itd_server *s, const struct srv_route *r)
{
	if (r->handler == srv_h_metrics && s->cfg.metrics_open)
		return SRV_OPEN;
	return r->role;
}

/* --------------------------------------------------------- the handler */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct itd_server *s = cls;
	struct req_ctx *rc = *con_cls;
	(void)version;

	if (!rc) {
		/* First call: headers only.  Route, authenticate, check the
		 * declared size, before reading any body. */
		rc = itd_calloc(1, sizeof *rc);
		if (!rc)
			return MHD_NO;
		*con_cls = rc;
		bool known;
		rc->route = find_route(method, url, rc->id, sizeof rc->id, &known);
		if (!rc->route) {
			if (known) {
				char allow[64];
				allowed_methods(url, allow, sizeof allow);
				return fail_now(s, conn, NULL, 405, "method_not_allowed",
						"method not allowed on this path", allow);
			}
			return fail_now(s, conn, NULL, 404, "not_found", "no such endpoint", NULL);
		}
		enum srv_role need = needed_role(s, rc->route);
		if (need != SRV_OPEN) {
			const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								       MHD_HTTP_HEADER_AUTHORIZATION);
			rc->who = auth ? srv_auth_check(&s->auth, auth) : NULL;
			if (!rc->who)
				return fail_now(s, conn, rc->route, 401, "unauthorized",
						auth ? "invalid token"
						     : "missing token (Authorization: Bearer TOKEN)",
						NULL);
			if (rc->who->role < need) {
				char msg[160];
				snprintf(msg, sizeof msg, "%s '%s' may not do this (needs %s)",
					 srv_role_name(rc->who->role), rc->who->name,
					 srv_role_name(need));
				return fail_now(s, conn, rc->route, 403, "forbidden", msg, NULL);
			}
		}
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) {
			char msg[96];
			snprintf(msg, sizeof msg, "request body larger than %zu bytes",
				 s->cfg.max_body);
			return fail_now(s, conn, rc->route, 413, "payload_too_large", msg, NULL);
		}
		return MHD_YES;
	}

	if (*upload_size) {
		/* Body data: keep it up to the limit, then only note the excess
		 * (the connection is answered 413 and closed at the end). */
		size_t n = *upload_size;
		*upload_size = 0;
		if (rc->too_large || rc->len + n > s->cfg.max_body) {
			rc->too_large = true;
			return MHD_YES;
		}
		if (rc->len + n + 1 > rc->cap) {
			size_t cap = rc->cap ? rc->cap : 1024;
			while (cap < rc->len + n + 1)
				cap *= 2;
			char *b = itd_realloc(rc->body, cap);
			if (!b)
				return MHD_NO;
			rc->body = b;
			rc->cap = cap;
		}
		memcpy(rc->body + rc->len, upload_data, n);
		rc->len += n;
		rc->body[rc->len] = '\0';
		return MHD_YES;
	}

	if (rc->parked) {
		/* Resumed by the durability waiter: the answer, or a 503. */
		struct srv_resp out = rc->held;
		rc->held = (struct srv_resp){0};
		rc->parked = false;
		if (rc->wait.result)
			srv_durable_refuse(&out, rc->wait.result);
		srv_metrics_request(s->metrics, rc->route, out.status);
		return send_resp(conn, &out);
	}
	if (rc->too_large) {
		char msg[96];
		snprintf(msg, sizeof msg, "request body larger than %zu bytes", s->cfg.max_body);
		return fail_now(s, conn, rc->route, 413, "payload_too_large", msg, NULL);
	}
	struct srv_req req = {
		.srv = s, .conn = conn, .route = rc->route, .method = method, .path = url,
		.body = rc->body ? rc->body : "", .body_len = rc->len, .who = rc->who};
	memcpy(req.id, rc->id, sizeof req.id);
	struct srv_resp out = {.status = 200};
	rc->route->handler(&req, &out);
	if (out.durable_ticket && s->durable) {
		/* Held in rc before parking: once parked, a resume may come at
		 * any time (MHD acts on it after we return). */
		rc->held = out;
		rc->parked = true;
		int w = srv_durable_hold(s->durable, &rc->wait, conn, out.durable_ticket);
		if (w == SRV_DURABLE_PARKED) {
			rc->was_parked = true;
			return MHD_YES;
		}
		out = rc->held;
		rc->held = (struct srv_resp){0};
		rc->parked = false;
		if (w)
			srv_durable_refuse(&out, w);
	}
	srv_metrics_request(s->metrics, rc->route, out.status);
	return send_resp(conn, &out);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct itd_server *s = cls;
	(void)conn;
	(void)toe;
	struct req_ctx *rc = *con_cls;
	if (!rc)
		return;
	/* The waiter counts a parked request until it completes (and would
	 * forget it if MHD ever ended it still suspended). */
	if (rc->was_parked)
		srv_durable_release(s->durable, &rc->wait);
	itd_free(rc->held.body);
	itd_free(rc->body);
	itd_free(rc);
	*con_cls = NULL;
}

__attribute__((format(printf, 2, 0))) static void on_mhd_log(void *cls, const char *fmt,
							      va_list ap)
{
	const struct itd_server *s = cls;
	if (s->cfg.quiet)
		return;
	fputs("intentd: http: ", stderr);
	vfprintf(stderr, fmt, ap);
}

/* ---------------------------------------------------------- health */

int srv_h_healthz(struct srv_req *r, struct srv_resp *out)
{
	(void)r;
	static const char ok[] = "{\"status\":\"ok\"}";
	return srv_text(out, 200, NULL, ok, sizeof ok - 1);
}

int srv_h_readyz(struct srv_req *r, struct srv_resp *out)
{
	if (!__atomic_load_n(&r->srv->ready, __ATOMIC_ACQUIRE))
		return srv_error(out, 503, "not_ready", NULL, "the loop is not running");
	static const char ok[] = "{\"status\":\"ready\"}";
	return srv_text(out, 200, NULL, ok, sizeof ok - 1);
}

/* ----------------------------------------------------------- daemon */

/* Read a whole PEM file; NULL with err on failure. */
static char *read_pem(const char *path, char *err, size_t cap)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, cap, "%s: %s", path, strerror(errno));
		return NULL;
	}
	char *buf = itd_malloc(1 << 20);
	size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
	fclose(f);
	if (!buf || n == 0) {
		snprintf(err, cap, "%s: empty or unreadable", path);
		itd_free(buf);
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

/* Parse "HOST:PORT" (IPv4) into addr. */
static int parse_listen(const char *listen, struct sockaddr_in *addr, char *err, size_t cap)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	memset(addr, 0, sizeof *addr);
	addr->sin_family = AF_INET;
	if (!colon || (size_t)(colon - listen) >= sizeof host) {
		snprintf(err, cap, "--listen: expected HOST:PORT, got '%s'", listen);
		return ITD_ECONFIG;
	}
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	unsigned long port = strtoul(colon + 1, &end, 10);
	if (!colon[1] || *end || port > 65535) {
		snprintf(err, cap, "--listen: bad port in '%s'", listen);
		return ITD_ECONFIG;
	}
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof host, "127.0.0.1");
	if (inet_pton(AF_INET, host, &addr->sin_addr) != 1) {
		snprintf(err, cap, "--listen: '%s' is not an IPv4 address", host);
		return ITD_ECONFIG;
	}
	addr->sin_port = htons((uint16_t)port);
	return ITD_OK;
}

int srv_http_start(struct itd_server *s, char *err, size_t cap)
{
	struct sockaddr_in addr;
	int rc = parse_listen(s->cfg.listen, &addr, err, cap);
	if (rc)
		return rc;
	if (s->store && (rc = srv_durable_create(s->store, &s->durable))) {
		snprintf(err, cap, "cannot start the durability waiter: %s", itd_err_msg(rc));
		return rc;
	}
	bool tls = s->cfg.tls_cert || s->cfg.tls_key;
	char *cert = NULL, *key = NULL;
	if (tls) {
		if (!s->cfg.tls_cert || !s->cfg.tls_key) {
			snprintf(err, cap, "TLS needs both --tls-cert and --tls-key");
			return ITD_ECONFIG;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, cap, "this libmicrohttpd was built without TLS");
			return ITD_ECONFIG;
		}
		cert = read_pem(s->cfg.tls_cert, err, cap);
		key = cert ? read_pem(s->cfg.tls_key, err, cap) : NULL;
		if (!cert || !key) {
			itd_free(cert);
			itd_free(key);
			return ITD_ECONFIG;
		}
	}
	/* With a store, parked submissions are resumed and then read their
	 * connection's next request.  libmicrohttpd 0.9.75's epoll loop loses
	 * the read event of such connections (the request sits unread until
	 * some other event: seconds of stall, or for good with one thread;
	 * a bare MHD server that suspends and resumes every request shows
	 * it), so poll(2) is used then: it looks at every connection each
	 * round and cannot miss one. */
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
			 (s->store ? MHD_USE_POLL : MHD_USE_EPOLL) | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0);
	/* The logger must come first, or MHD logs the earlier options' errors
	 * its own way.  The TLS items end the array when TLS is off. */
	struct MHD_OptionItem opts[] = {
		{MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)on_mhd_log, s},
		{MHD_OPTION_SOCK_ADDR, 0, &addr},
		/* A submission's wait for its commit holds no thread
		 * (srv_durable.c), so a few threads serve any number. */
		{MHD_OPTION_THREAD_POOL_SIZE, HTTP_THREADS, NULL},
		{MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s, NULL},
		{MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_conns, NULL},
		/* Bodies go to our own buffer, so a connection's pool only holds
		 * headers; MHD clears it between keep-alive requests, so small
		 * is fast (larger request headers are refused with 431). */
		{MHD_OPTION_CONNECTION_MEMORY_LIMIT, 8 * 1024, NULL},
		{MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, NULL},
		{MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
		{tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, cert},
		{tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, key},
		{MHD_OPTION_END, 0, NULL},
	};
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_ARRAY, opts,
				  MHD_OPTION_END);
	itd_free(cert);
	itd_free(key);
	if (!s->mhd) {
		snprintf(err, cap, "cannot listen on %s (in use, or not an address of this host%s)",
			 s->cfg.listen, tls ? ", or bad TLS certificate/key" : "");
		return ITD_EIO;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : ntohs(addr.sin_port);
	char host[64];
	inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
	snprintf(s->url, sizeof s->url, "%s://%s:%u", tls ? "https" : "http", host, s->port);
	return ITD_OK;
}

void srv_http_stop(struct itd_server *s)
{
	/* Every parked answer first: MHD must not stop with suspended
	 * connections, and each waiting client gets its 202 or 503. */
	srv_durable_stop(s->durable);
	if (s->mhd) {
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
	}
	srv_durable_destroy(s->durable);
	s->durable = NULL;
}
