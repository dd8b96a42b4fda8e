/* srv_routes.c: the HTTP API (SPEC §9): every route, the least role it
 * needs and its label in metrics.  /metrics is open or viewer-only by
 * configuration (srv_http.c decides). */
#include "srv_int.h"

const struct srv_route srv_routes[] = {
	{"POST", "/api/v1/intents", SRV_OPERATOR, "intents_submit", srv_h_submit},
	{"POST", "/api/v1/intents/batch", SRV_OPERATOR, "intents_batch", srv_h_submit_batch},
	{"GET", "/api/v1/intents", SRV_VIEWER, "intents_list", srv_h_list},
	{"GET", "/api/v1/intents/{id}", SRV_VIEWER, "intents_get", srv_h_get},
	{"GET", "/api/v1/intents/{id}/story", SRV_VIEWER, "intents_story", srv_h_story},
	{"POST", "/api/v1/intents/{id}/cancel", SRV_OPERATOR, "intents_cancel", srv_h_cancel},
	{"GET", "/api/v1/state", SRV_VIEWER, "state", srv_h_state},
	{"GET", "/api/v1/events", SRV_VIEWER, "events", srv_h_events},
	{"GET", "/api/v1/stream", SRV_VIEWER, "stream", srv_h_stream},
	{"POST", "/api/v1/console", SRV_ADMIN, "console", srv_h_console},
	{"GET", "/metrics", SRV_VIEWER, "metrics", srv_h_metrics},
	{"GET", "/healthz", SRV_OPEN, "healthz", srv_h_healthz},
	{"GET", "/readyz", SRV_OPEN, "readyz", srv_h_readyz},
	{"GET", "/api/v1/scenario", SRV_VIEWER, "scenario", srv_h_scenario},
	{"GET", "/api/v1/whoami", SRV_VIEWER, "whoami", srv_h_whoami},
	{"GET", "/", SRV_OPEN, "web_index", srv_h_web_index},
	{"GET", "/assets/{id}", SRV_OPEN, "web_asset", srv_h_web_asset},
};

const size_t srv_n_routes = sizeof srv_routes / sizeof srv_routes[0];
