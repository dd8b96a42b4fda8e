/* engine_codec.c: inputs as bytes for the journal and back: little-endian,
 * versioned, every field bounded, every index checked against the
 * scenario on the way back, so a damaged journal is refused, never
 * trusted. */
#include <stdio.h>
#include <string.h>

#include "engine_int.h"

#define CODEC_VERSION 1

struct wbuf {
	uint8_t *p; /* next byte */
};

static void put_u64(struct wbuf *w, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		*w->p++ = (uint8_t)(v >> (8 * i));
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	*w->p++ = v;
}

static void put_f64(struct wbuf *w, double d)
{
	uint64_t v;
	memcpy(&v, &d, sizeof v);
	put_u64(w, v);
}

/* A string of at most 255 bytes: its length, then its bytes. */
static void put_str(struct wbuf *w, const char *s)
{
	size_t n = strnlen(s, 255);
	put_u8(w, (uint8_t)n);
	memcpy(w->p, s, n);
	w->p += n;
}

static void put_value(struct wbuf *w, const struct itd_value *v)
{
	put_u8(w, (uint8_t)v->type);
	switch (v->type) {
	case ITD_T_NUM:
		put_f64(w, v->num);
		break;
	case ITD_T_BOOL:
		put_u8(w, v->b);
		break;
	case ITD_T_STR:
		put_str(w, v->str);
		break;
	case ITD_T_NONE:
		break;
	}
}

size_t itd_input_encode(const struct itd_input *in, uint8_t *buf)
{
	struct wbuf w = {.p = buf};
	put_u8(&w, CODEC_VERSION);
	put_u8(&w, (uint8_t)in->kind);
	put_u64(&w, in->arrival);
	put_u64(&w, in->apply_tick);
	put_u64(&w, in->seq);
	put_u64(&w, (uint64_t)in->received_ms);
	put_str(&w, in->actor);
	switch (in->kind) {
	case ITD_IN_SUBMIT: {
		const struct itd_submission *s = &in->sub;
		put_u64(&w, s->type);
		put_u8(&w, (uint8_t)s->source);
		put_f64(&w, s->priority);
		put_u8(&w, s->goal.present);
		put_u64(&w, s->goal.metric);
		put_f64(&w, s->goal.reference);
		put_f64(&w, s->goal.tolerance);
		put_u64(&w, s->deadline_ticks);
		put_u64(&w, s->body_hash);
		put_str(&w, in->key);
		put_u8(&w, (uint8_t)s->n_params);
		for (size_t i = 0; i < s->n_params; i++) {
			struct itd_value v = in->params[i].value;
			if (v.type == ITD_T_STR)
				v.str = in->str + in->str_off[i];
			put_u64(&w, in->params[i].param);
			put_value(&w, &v);
		}
		break;
	}
	case ITD_IN_CANCEL:
		put_str(&w, in->target);
		put_str(&w, in->reason);
		break;
	case ITD_IN_SET:
		put_u64(&w, in->field);
		put_value(&w, &in->value);
		break;
	case ITD_IN_CONSOLE:
		put_u8(&w, (uint8_t)in->cmd);
		put_str(&w, in->args);
		break;
	}
	return (size_t)(w.p - buf);
}

/* ---------------------------------------------------------- decoding */

struct rbuf {
	const uint8_t *p, *end; /* unread bytes */
	bool bad;               /* ran past the end or met a bad value */
};

static uint64_t get_u64(struct rbuf *r)
{
	if (r->end - r->p < 8) {
		r->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v |= (uint64_t)r->p[i] << (8 * i);
	r->p += 8;
	return v;
}

static uint8_t get_u8(struct rbuf *r)
{
	if (r->p >= r->end) {
		r->bad = true;
		return 0;
	}
	return *r->p++;
}

static double get_f64(struct rbuf *r)
{
	uint64_t v = get_u64(r);
	double d;
	memcpy(&d, &v, sizeof d);
	return d;
}

/* A string into dst (cap bytes, NUL-terminated); too long or no NUL-free
 * bytes is bad. */
static void get_str(struct rbuf *r, char *dst, size_t cap)
{
	size_t n = get_u8(r);
	if (r->bad || (size_t)(r->end - r->p) < n || n >= cap || memchr(r->p, '\0', n)) {
		r->bad = true;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p, n);
	dst[n] = '\0';
	r->p += n;
}

/* A value of the expected type; strings go to dst (cap bytes). */
static struct itd_value get_value(struct rbuf *r, enum itd_type want, char *dst, size_t cap)
{
	struct itd_value v = {.type = (enum itd_type)get_u8(r)};
	if (v.type != want) {
		r->bad = true;
		return v;
	}
	switch (v.type) {
	case ITD_T_NUM:
		v.num = get_f64(r);
		r->bad |= v.num != v.num;
		break;
	case ITD_T_BOOL: {
		uint8_t b = get_u8(r);
		r->bad |= b > 1;
		v.b = b;
		break;
	}
	case ITD_T_STR:
		get_str(r, dst, cap);
		v.str = dst;
		break;
	case ITD_T_NONE:
		r->bad = true;
		break;
	}
	return v;
}

static void decode_submit(const struct itd_scenario *s, struct rbuf *r, struct itd_input *in)
{
	struct itd_submission *sub = &in->sub;
	uint64_t type = get_u64(r);
	if (type >= s->n_types) {
		r->bad = true;
		return;
	}
	const struct itd_intent_type *ty = &s->types[type];
	sub->type = (uint32_t)type;
	uint8_t source = get_u8(r);
	r->bad |= source >= ITD_SRC_COUNT;
	sub->source = (enum itd_source)source;
	sub->priority = get_f64(r);
	uint8_t present = get_u8(r);
	r->bad |= present > 1;
	sub->goal.present = present;
	uint64_t metric = get_u64(r);
	r->bad |= metric >= s->n_fields;
	sub->goal.metric = (uint32_t)metric;
	sub->goal.reference = get_f64(r);
	sub->goal.tolerance = get_f64(r);
	sub->deadline_ticks = get_u64(r);
	sub->body_hash = get_u64(r);
	get_str(r, in->key, sizeof in->key);
	size_t n = get_u8(r);
	if (n > ITD_MAX_PARAMS || n > ty->n_params) {
		r->bad = true;
		return;
	}
	sub->n_params = n;
	size_t used = 0;
	for (size_t i = 0; i < n && !r->bad; i++) {
		uint64_t p = get_u64(r);
		if (p >= ty->n_params) {
			r->bad = true;
			return;
		}
		in->params[i].param = (uint32_t)p;
		in->str_off[i] = (uint16_t)used;
		in->params[i].value = get_value(r, ty->params[p].type, in->str + used,
						sizeof in->str - used);
		if (in->params[i].value.type == ITD_T_STR)
			used += strlen(in->str + used) + 1;
	}
}

int itd_input_decode(const struct itd_engine *e, const uint8_t *buf, size_t len,
		     struct itd_input *out)
{
	const struct itd_scenario *s = e->scn;
	struct rbuf r = {.p = buf, .end = buf + len};
	memset(out, 0, sizeof *out);
	if (get_u8(&r) != CODEC_VERSION)
		return ITD_EINVAL;
	uint8_t kind = get_u8(&r);
	out->kind = (enum itd_input_kind)kind;
	out->arrival = get_u64(&r);
	out->apply_tick = get_u64(&r);
	out->seq = get_u64(&r);
	out->received_ms = (int64_t)get_u64(&r);
	get_str(&r, out->actor, sizeof out->actor);
	switch (kind) {
	case ITD_IN_SUBMIT:
		decode_submit(s, &r, out);
		r.bad |= out->seq == 0;
		break;
	case ITD_IN_CANCEL:
		get_str(&r, out->target, sizeof out->target);
		get_str(&r, out->reason, sizeof out->reason);
		break;
	case ITD_IN_SET: {
		uint64_t f = get_u64(&r);
		if (f >= s->n_fields) {
			r.bad = true;
			break;
		}
		out->field = (uint32_t)f;
		char tmp[256];
		out->value = get_value(&r, s->fields[f].type, tmp, sizeof tmp);
		if (!r.bad && out->value.type == ITD_T_STR) {
			out->value.str = itd_field_value(&s->fields[f], tmp);
			r.bad |= !out->value.str;
		}
		break;
	}
	case ITD_IN_CONSOLE: {
		uint8_t cmd = get_u8(&r);
		r.bad |= cmd > ITD_CONSOLE_NOTE;
		out->cmd = (enum itd_console_cmd)cmd;
		get_str(&r, out->args, sizeof out->args);
		break;
	}
	default:
		r.bad = true;
	}
	if (r.bad || r.p != r.end || out->arrival == 0) {
		memset(out, 0, sizeof *out);
		return ITD_EINVAL;
	}
	return ITD_OK;
}

const char *itd_engine_reason(struct itd_engine *e, const char *reason)
{
	if (!reason || !*reason)
		return "cancelled";
	for (size_t i = 0; i < e->n_reasons; i++)
		if (!strcmp(e->reasons[i], reason))
			return e->reasons[i];
	if (e->n_reasons == sizeof e->reasons / sizeof e->reasons[0])
		return "cancelled"; /* the table is full: keep it bounded */
	snprintf(e->reasons[e->n_reasons], sizeof e->reasons[0], "%s", reason);
	return e->reasons[e->n_reasons++];
}
