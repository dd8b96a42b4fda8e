/* srv_web.c: the dashboard (SPEC §10): GET / answers web/index.html and GET
 * /assets/{name} the other files of web/ and Chart.js, all embedded into
 * the binary at build time (cmake/embed_web.cmake).  No token is needed for
 * the page: the data it shows needs one.  Every answer carries a strict
 * Content-Security-Policy (nothing but this origin, no inline script or
 * style, no framing) and an ETag, the hash of the file, that a matching
 * If-None-Match turns into a 304.  Files are served from the table itself
 * (no copy), with `Cache-Control: no-cache`: asset URLs carry no version,
 * so browsers revalidate each time and a new binary is picked up at once. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "core/embed.h"
#include "srv_int.h"

/* The generated table (cmake/embed_web.cmake), ended by a NULL name. */
extern const struct itd_embedded itd_web_assets[];

#define CSP                                                                                  \
	"default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; " \
	"script-src 'self'; frame-ancestors 'none'"

static const struct {
	const char *ext;  /* file name suffix */
	const char *type; /* its Content-Type */
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
};

static const char *type_of(const char *name)
{
	size_t n = strlen(name);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		size_t e = strlen(types[i].ext);
		if (n > e && !strcmp(name + n - e, types[i].ext))
			return types[i].type;
	}
	return "application/octet-stream";
}

static const struct itd_embedded *find(const char *name)
{
	for (const struct itd_embedded *a = itd_web_assets; a->name; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

/* Does an If-None-Match value name etag (a list of entity tags, weak ones
 * included, or "*")?  Entity tags hold no commas, so a list splits on
 * them. */
static bool etag_matches(const char *inm, const char *etag)
{
	size_t elen = strlen(etag);
	while (inm && *inm) {
		inm += strspn(inm, " \t,");
		size_t n = strcspn(inm, ",");
		const char *t = inm;
		while (n && (t[n - 1] == ' ' || t[n - 1] == '\t'))
			n--;
		if (n >= 2 && t[0] == 'W' && t[1] == '/') {
			t += 2;
			n -= 2;
		}
		if ((n == 1 && t[0] == '*') || (n == elen && !memcmp(t, etag, elen)))
			return true;
		inm += strcspn(inm, ",");
	}
	return false;
}

/* Answer with the embedded file a, or a 304 when the client has it. */
static int serve(struct srv_req *r, struct srv_resp *out, const struct itd_embedded *a)
{
	char etag[24];
	snprintf(etag, sizeof etag, "\"%016" PRIx64 "\"", itd_hash64(a->data, a->size, 0));
	bool fresh = etag_matches(srv_header(r, MHD_HTTP_HEADER_IF_NONE_MATCH), etag);
	/* The table outlives the daemon, so MHD may send it in place. */
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		fresh ? 0 : a->size, fresh ? (void *)"" : (void *)a->data,
		MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return srv_error(out, 500, "out_of_memory", NULL, "out of memory");
	if (!fresh)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type_of(a->name));
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
	MHD_add_response_header(resp, "Content-Security-Policy", CSP);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, "X-Frame-Options", "DENY");
	out->raw = resp;
	out->status = fresh ? 304 : 200;
	return ITD_OK;
}

int srv_h_web_index(struct srv_req *r, struct srv_resp *out)
{
	const struct itd_embedded *a = find("index.html");
	if (!a)
		return srv_error(out, 404, "not_found", NULL,
				 "this binary was built without the dashboard");
	return serve(r, out, a);
}

int srv_h_web_asset(struct srv_req *r, struct srv_resp *out)
{
	const struct itd_embedded *a = find(r->id);
	if (!a) {
		cJSON *d = cJSON_CreateObject();
		cJSON_AddStringToObject(d, "asset", r->id);
		return srv_error(out, 404, "not_found", d, "no asset '%s'", r->id);
	}
	return serve(r, out, a);
}
