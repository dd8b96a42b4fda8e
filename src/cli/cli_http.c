/* cli_http.c: the client subcommands' HTTP plumbing over libcurl: the server
 * URL and token (command line, environment or the server's admin token file),
 * requests, JSON answers, error messages and exit statuses. */
#include <ctype.h>
#include <curl/curl.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli_int.h"
#include "core/core.h"

#define MAX_REPLY (64u << 20) /* a larger answer is not one we asked for */

void itd_cli_http_reply_fini(struct itd_cli_http_reply *r)
{
	itd_free(r->body);
	cJSON_Delete(r->json);
	memset(r, 0, sizeof *r);
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
	struct itd_cli_http_reply *r = ctx;
	size_t len = size * n;
	if (r->len + len + 1 > MAX_REPLY)
		return 0;
	if (r->len + len + 1 > r->cap) {
		size_t cap = r->cap ? r->cap : 4096;
		while (cap < r->len + len + 1)
			cap *= 2;
		char *b = itd_realloc(r->body, cap);
		if (!b)
			return 0;
		r->body = b;
		r->cap = cap;
	}
	memcpy(r->body + r->len, p, len);
	r->len += len;
	r->body[r->len] = '\0';
	return len;
}

/* Read the first line of a token file of ours into out; false if there is
 * none.  A file someone else owns (in /tmp, say) is not taken. */
static bool token_file(const char *path, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	struct stat st;
	if (!f)
		return false;
	bool ok = !fstat(fileno(f), &st) && st.st_uid == geteuid() && fgets(out, (int)cap, f);
	fclose(f);
	size_t n = ok ? strlen(out) : 0;
	while (n && isspace((unsigned char)out[n - 1]))
		out[--n] = '\0';
	return n > 0;
}

/* The token: --token, $INTENTD_TOKEN, else the admin token file of a
 * server on this machine (--data DIR, the runtime directory, /tmp).  ""
 * when there is none: the server then says what it needs. */
static void find_token(const struct itd_cmd_ctx *c, char *out, size_t cap)
{
	const char *t = itd_cli_opt(c, "token"), *v;
	if (!t && (v = getenv("INTENTD_TOKEN")) && *v)
		t = v;
	if (t) {
		snprintf(out, cap, "%s", t);
		return;
	}
	char path[4096];
	if ((v = itd_cli_opt(c, "data"))) {
		snprintf(path, sizeof path, "%s/admin.token", v);
		if (token_file(path, out, cap))
			return;
	}
	if ((v = getenv("XDG_RUNTIME_DIR")) && *v == '/') {
		snprintf(path, sizeof path, "%s/intentd/admin.token", v);
		if (token_file(path, out, cap))
			return;
	}
	snprintf(path, sizeof path, "/tmp/intentd-%u/admin.token", (unsigned)geteuid());
	if (!token_file(path, out, cap))
		out[0] = '\0';
}

/* Set up the handle from the common options.  Returns 0 or an exit
 * status (the message printed). */
int itd_cli_http_open(struct itd_cli_http *cl, const struct itd_cmd_ctx *c)
{
	memset(cl, 0, sizeof *cl);
	cl->cmd = c->cmd->name;
	cl->json = itd_cli_opt(c, "json") != NULL;
	cl->quiet = itd_cli_opt(c, "quiet") != NULL;
	const char *url = itd_cli_opt(c, "server");
	if (!url && !((url = getenv("INTENTD_URL")) && *url))
		url = ITD_CLI_HTTP_DEFAULT_URL;
	if (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)) {
		fprintf(stderr, "intentd %s: --server: expected http://HOST:PORT or https://..., "
				"got '%s'\n", cl->cmd, url);
		return ITD_EXIT_USAGE;
	}
	snprintf(cl->url, sizeof cl->url, "%s", url);
	size_t n = strlen(cl->url);
	while (n && cl->url[n - 1] == '/')
		cl->url[--n] = '\0';

	char token[512];
	find_token(c, token, sizeof token);
	for (const char *p = token; *p; p++) {
		if ((unsigned char)*p < 0x21 || *p == 0x7f) {
			fprintf(stderr, "intentd %s: the token contains spaces or control "
					"characters\n", cl->cmd);
			explicit_bzero(token, sizeof token);
			return ITD_EXIT_USAGE;
		}
	}
	char auth[600] = "";
	if (token[0])
		snprintf(auth, sizeof auth, "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof token);
	const char *hv[] = {"Accept: application/json", "Content-Type: application/json", auth};
	bool ok = !curl_global_init(CURL_GLOBAL_DEFAULT) && (cl->h = curl_easy_init());
	for (size_t i = 0; ok && i < 3; i++) {
		struct curl_slist *l = *hv[i] ? curl_slist_append(cl->hdrs, hv[i]) : cl->hdrs;
		ok = l != NULL;
		cl->hdrs = l ? l : cl->hdrs;
	}
	explicit_bzero(auth, sizeof auth);
	if (!ok) {
		fprintf(stderr, "intentd %s: cannot set up libcurl\n", cl->cmd);
		return ITD_EXIT_RUNTIME;
	}
	CURL *h = cl->h;
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, cl->hdrs);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_USERAGENT, "intentd/" ITD_VERSION);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cl->errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	if (itd_cli_opt(c, "insecure")) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	const char *ca = itd_cli_opt(c, "cacert");
	if (ca && access(ca, R_OK)) {
		fprintf(stderr, "intentd %s: --cacert %s: %s\n", cl->cmd, ca, strerror(errno));
		return ITD_EXIT_USAGE;
	}
	if (ca)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca);
	return 0;
}

void itd_cli_http_close(struct itd_cli_http *cl)
{
	for (struct curl_slist *l = cl->hdrs; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(cl->hdrs);
	if (cl->h) {
		curl_easy_cleanup(cl->h);
		curl_global_cleanup();
	}
	memset(cl, 0, sizeof *cl);
}

/* One request: GET when body is NULL, else POST of the JSON text body.
 * Returns 0 when the server answered (any status), else ITD_EXIT_RUNTIME
 * with the reason printed. */
static int request(struct itd_cli_http *cl, const char *path, const char *body,
		   struct itd_cli_http_reply *r)
{
	char url[2048];
	memset(r, 0, sizeof *r);
	snprintf(url, sizeof url, "%s%s", cl->url, path);
	CURL *h = cl->h;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	cl->errbuf[0] = '\0';
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
	}
	CURLcode rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fprintf(stderr, "intentd %s: cannot reach %s: %s%s\n", cl->cmd, cl->url,
			cl->errbuf[0] ? cl->errbuf : curl_easy_strerror(rc),
			rc == CURLE_PEER_FAILED_VERIFICATION ? " (--cacert FILE trusts the server's "
							       "certificate; --insecure skips the check)"
							     : "");
		itd_cli_http_reply_fini(r);
		return ITD_EXIT_RUNTIME;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->body)
		r->json = cJSON_ParseWithLength(r->body, r->len);
	return 0;
}

/* o[key] if it is a string, else dflt. */
const char *itd_cli_http_jstr(const cJSON *o, const char *key, const char *dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	return cJSON_IsString(v) ? v->valuestring : dflt;
}

/* After a request: with --json print the body; on an HTTP error print the
 * server's code and message.  Returns the exit status, or -1 for a
 * success the caller prints. */
static int answer(struct itd_cli_http *cl, const struct itd_cli_http_reply *r)
{
	if (cl->json && r->body)
		printf("%s%s", r->body, r->len && r->body[r->len - 1] == '\n' ? "" : "\n");
	if (r->status >= 200 && r->status < 300)
		return cl->json ? ITD_EXIT_OK : -1;
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(r->json, "error");
	const char *code = itd_cli_http_jstr(e, "code", NULL);
	const char *msg = itd_cli_http_jstr(e, "message", NULL);
	if (code || msg) {
		fprintf(stderr, "intentd %s: %ld %s: %s\n", cl->cmd, r->status, code ? code : "error",
			msg ? msg : "");
	} else {
		size_t n = r->body ? strcspn(r->body, "\r\n") : 0;
		fprintf(stderr, "intentd %s: HTTP %ld%s%.*s\n", cl->cmd, r->status, n ? ": " : "",
			(int)(n > 200 ? 200 : n), r->body ? r->body : "");
	}
	if (r->status == 401)
		fprintf(stderr, "intentd %s: give --token TOKEN, set INTENTD_TOKEN, or --data DIR "
				"to use the server's admin token\n", cl->cmd);
	return r->status >= 400 && r->status < 500 ? ITD_EXIT_USAGE : ITD_EXIT_RUNTIME;
}

/* A request and its answer in one: returns -1 with *r filled for a
 * success to print, else the exit status (r released). */
int itd_cli_http_call(struct itd_cli_http *cl, const char *path, cJSON *body,
		      struct itd_cli_http_reply *r)
{
	char *text = NULL;
	if (body && !(text = cJSON_PrintUnformatted(body))) {
		fprintf(stderr, "intentd %s: out of memory\n", cl->cmd);
		return ITD_EXIT_RUNTIME;
	}
	int rc = request(cl, path, text, r);
	cJSON_free(text);
	if (rc)
		return rc;
	rc = answer(cl, r);
	if (rc >= 0)
		itd_cli_http_reply_fini(r);
	return rc;
}

/* Append s percent-encoded (all but RFC 3986's unreserved bytes). */
void itd_cli_http_escape(char *out, size_t cap, const char *s)
{
	size_t n = strlen(out);
	for (; *s && n + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || strchr("-._~", ch))
			out[n++] = (char)ch;
		else
			n += (size_t)snprintf(out + n, cap - n, "%%%02X", ch);
	}
	out[n] = '\0';
}

/* Append "?name=value" or "&name=value" (value escaped) when v is set. */
void itd_cli_http_add_query(char *q, size_t cap, const char *name, const char *v)
{
	if (!v)
		return;
	size_t n = strlen(q);
	snprintf(q + n, cap - n, "%c%s=", strchr(q, '?') ? '&' : '?', name);
	itd_cli_http_escape(q, cap, v);
}

/* Send body (taken) to path and show a success with show(); the common
 * shape of the one-request commands.  Returns the exit status. */
int itd_cli_http_exchange(const struct itd_cmd_ctx *c, const char *path, cJSON *body,
			  void (*show)(const struct itd_cmd_ctx *c, bool quiet,
				       const struct itd_cli_http_reply *r))
{
	struct itd_cli_http cl;
	struct itd_cli_http_reply r;
	int rc = itd_cli_http_open(&cl, c);
	if (!rc && (rc = itd_cli_http_call(&cl, path, body, &r)) < 0) {
		show(c, cl.quiet, &r);
		itd_cli_http_reply_fini(&r);
		rc = ITD_EXIT_OK;
	}
	itd_cli_http_close(&cl);
	cJSON_Delete(body);
	return rc;
}
