/* srv_api_scenario.c: what a client needs to draw and drive this run, read
 * from the immutable scenario definition: GET /api/v1/scenario (fields with
 * units and display limits, modes, domains, intent types with their
 * parameters and goal rules, critical domains, safety rules) and GET
 * /api/v1/whoami (the caller's token name and role).  The dashboard builds
 * its panels and its submit form from them. */
#include <stdio.h>

#include "srv_int.h"

/* The sources a submission may name (srv_json.c refuses "autonomous"). */
static char *const submit_sources[] = {"ground", "playbook", "schedule"};

static const char *goal_name(enum itd_goal_use g)
{
	switch (g) {
	case ITD_GOAL_OPTIONAL:
		return "optional";
	case ITD_GOAL_REQUIRED:
		return "required";
	case ITD_GOAL_NONE:
		break;
	}
	return "none";
}

/* The names of the bits set in mask, from names (at most 64). */
static cJSON *bit_names(char *const *names, size_t n, uint64_t mask)
{
	cJSON *a = cJSON_CreateArray();
	for (size_t i = 0; a && i < n && i < 64; i++)
		if (mask & ((uint64_t)1 << i))
			srv_jpush(a, cJSON_CreateString(names[i]));
	return a;
}

cJSON *srv_json_field(const struct itd_field *f)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", f->name);
	cJSON_AddStringToObject(o, "type", itd_type_name(f->type));
	if (f->unit)
		cJSON_AddStringToObject(o, "unit", f->unit);
	if (f->description)
		cJSON_AddStringToObject(o, "description", f->description);
	srv_jadd(o, "initial", srv_json_value(&f->initial));
	if (f->has_min)
		cJSON_AddNumberToObject(o, "min", f->min);
	if (f->has_max)
		cJSON_AddNumberToObject(o, "max", f->max);
	if (f->has_warn_low)
		cJSON_AddNumberToObject(o, "warn_low", f->warn_low);
	if (f->has_warn_high)
		cJSON_AddNumberToObject(o, "warn_high", f->warn_high);
	if (f->has_alarm_low)
		cJSON_AddNumberToObject(o, "alarm_low", f->alarm_low);
	if (f->has_alarm_high)
		cJSON_AddNumberToObject(o, "alarm_high", f->alarm_high);
	if (f->values)
		srv_jadd(o, "values", srv_json_names(f->values, f->n_values));
	return o;
}

static cJSON *param_json(const struct itd_param_def *p)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", p->name);
	cJSON_AddStringToObject(o, "type", itd_type_name(p->type));
	cJSON_AddBoolToObject(o, "required", p->required);
	if (p->has_default)
		srv_jadd(o, "default", srv_json_value(&p->def));
	return o;
}

static cJSON *type_json(const struct itd_scenario *s, const struct itd_intent_type *t)
{
	cJSON *o = cJSON_CreateObject();
	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "name", t->name);
	if (t->description)
		cJSON_AddStringToObject(o, "description", t->description);
	srv_jadd(o, "domains", bit_names(s->domains, s->n_domains, t->domains));
	srv_jadd(o, "flags", bit_names(s->flags, s->n_flags, t->flags));
	if (t->recovers >= 0 && (size_t)t->recovers < s->n_domains)
		cJSON_AddStringToObject(o, "recovers", s->domains[t->recovers]);
	else
		cJSON_AddNullToObject(o, "recovers");
	cJSON_AddStringToObject(o, "goal", goal_name(t->goal));
	/* A goal's metric must be a number field (srv_json.c). */
	cJSON *m = cJSON_AddArrayToObject(o, "goal_metrics");
	for (size_t i = 0; m && t->goal != ITD_GOAL_NONE && i < s->n_fields; i++)
		if (s->fields[i].type == ITD_T_NUM)
			srv_jpush(m, cJSON_CreateString(s->fields[i].name));
	cJSON *ps = cJSON_AddArrayToObject(o, "params");
	for (size_t i = 0; ps && i < t->n_params; i++)
		srv_jpush(ps, param_json(&t->params[i]));
	if (t->deadline_ticks)
		cJSON_AddNumberToObject(o, "deadline_ticks", (double)t->deadline_ticks);
	else
		cJSON_AddNullToObject(o, "deadline_ticks");
	cJSON_AddNumberToObject(o, "max_attempts", t->retry.max_attempts);
	return o;
}

int srv_h_scenario(struct srv_req *r, struct srv_resp *out)
{
	const struct itd_server *srv = r->srv;
	/* The definition never changes while the server runs: no lock. */
	const struct itd_scenario *s = itd_engine_scenario(srv->engine);
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return srv_json(out, 500, NULL);
	cJSON_AddStringToObject(j, "name", s->name);
	if (s->description)
		cJSON_AddStringToObject(j, "description", s->description);
	cJSON_AddNumberToObject(j, "rate_hz", srv->cfg.rate_hz > 0 ? srv->cfg.rate_hz : s->rate_hz);
	cJSON *fs = cJSON_AddArrayToObject(j, "fields");
	for (size_t i = 0; fs && i < s->n_fields; i++)
		srv_jpush(fs, srv_json_field(&s->fields[i]));
	srv_jadd(j, "modes", srv_json_names(s->modes, s->n_modes));
	if (s->initial_mode < s->n_modes)
		cJSON_AddStringToObject(j, "initial_mode", s->modes[s->initial_mode]);
	srv_jadd(j, "domains", srv_json_names(s->domains, s->n_domains));
	srv_jadd(j, "flags", srv_json_names(s->flags, s->n_flags));
	cJSON *ts = cJSON_AddArrayToObject(j, "intent_types");
	for (size_t i = 0; ts && i < s->n_types; i++)
		srv_jpush(ts, type_json(s, &s->types[i]));
	cJSON *cs = cJSON_AddArrayToObject(j, "critical");
	for (size_t i = 0; cs && i < s->n_critical; i++) {
		const struct itd_critical *c = &s->critical[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "domain", c->domain < s->n_domains ? s->domains[c->domain] : "");
		cJSON_AddStringToObject(o, "recovery",
					c->recovery < s->n_types ? s->types[c->recovery].name : "");
		srv_jpush(cs, o);
	}
	cJSON *rs = cJSON_AddArrayToObject(j, "safety");
	for (size_t i = 0; rs && i < s->n_safety; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", s->safety[i].id);
		if (s->safety[i].message)
			cJSON_AddStringToObject(o, "message", s->safety[i].message);
		else
			cJSON_AddNullToObject(o, "message");
		srv_jpush(rs, o);
	}
	srv_jadd(j, "sources", srv_json_names(submit_sources, sizeof submit_sources /
								       sizeof submit_sources[0]));
	return srv_json(out, 200, j);
}

int srv_h_whoami(struct srv_req *r, struct srv_resp *out)
{
	cJSON *j = cJSON_CreateObject();
	if (!j)
		return srv_json(out, 500, NULL);
	/* The route needs a viewer, so there is always a caller. */
	cJSON_AddStringToObject(j, "name", r->who ? r->who->name : "");
	cJSON_AddStringToObject(j, "role", srv_role_name(r->who ? r->who->role : SRV_OPEN));
	return srv_json(out, 200, j);
}
