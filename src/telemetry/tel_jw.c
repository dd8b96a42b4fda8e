/* tel_jw.c: the JSON writer: RFC 8259 strings (invalid UTF-8 becomes
 * U+FFFD, so the output is always valid UTF-8), numbers via tel_dtoa.c,
 * automatic commas, a hard capacity, and the hooks redaction needs.  No
 * allocation and no stdio on the hot path.
 *
 * Speed comes from checking room once per call against the worst case
 * (a string of n bytes never takes more than 6n + 4 bytes) and writing
 * without further checks; only a call that might not fit takes the
 * careful byte-by-byte path, which is also what makes overflow exact. */
#include <string.h>

#include "telemetry/telemetry_int.h"

static inline size_t room(const struct itd_jw *w)
{
	return (size_t)(w->end - w->p);
}

/* Copy n bytes where n is usually small (keys, envelope pieces): overlapping
 * fixed-size moves that the compiler inlines, instead of a libc call per
 * copy.  The caller guarantees room for n bytes. */
static inline __attribute__((always_inline)) void copy_small(char *d, const char *s, size_t n)
{
	if (n >= 16 && n <= 32) {
		memcpy(d, s, 16);
		memcpy(d + n - 16, s + n - 16, 16);
	} else if (n >= 8 && n < 16) {
		memcpy(d, s, 8);
		memcpy(d + n - 8, s + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(d, s, 4);
		memcpy(d + n - 4, s + n - 4, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			d[i] = s[i];
	} else {
		memcpy(d, s, n);
	}
}

/* Stop writing for good: every later call finds no room. */
static void set_overflow(struct itd_jw *w)
{
	w->overflow = true;
	w->end = w->p;
}

/* After any complete value: the next sibling needs a comma, and a scalar
 * that belonged to a redacted key is replaced now. */
static inline void value_done(struct itd_jw *w)
{
	w->comma = true;
	if (TEL_UNLIKELY(w->red_state == TEL_RED_ARMED))
		tel_red_finish(w);
}

/* ---------------------------------------------------------------- strings */

/* Any byte of x a control character, '"', '\\' or non-ASCII?  (The
 * classic SWAR "has byte less than / equal to" tests; exact for "any".) */
static inline uint64_t has_special(uint64_t x)
{
	const uint64_t ones = UINT64_C(0x0101010101010101);
	const uint64_t high = UINT64_C(0x8080808080808080);
	uint64_t ctl = (x - ones * 0x20) & ~x;
	uint64_t q = x ^ (ones * '"');
	uint64_t b = x ^ (ones * '\\');
	q = (q - ones) & ~q;
	b = (b - ones) & ~b;
	return (x | ctl | q | b) & high;
}

static inline bool is_special(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* Encode one special unit starting at s (s < e): an escaped ASCII byte, a
 * whole valid UTF-8 sequence, or a maximal invalid subpart as U+FFFD (the
 * Unicode "substitution of maximal subparts" practice).  Writes at most 6
 * bytes, never more than 6 per input byte consumed; sets *adv. */
static size_t unit(const unsigned char *s, const unsigned char *e, char *out, size_t *adv)
{
	static const char hex[] = "0123456789abcdef";
	unsigned c = s[0];
	if (c < 0x80) {
		*adv = 1;
		if (c >= 0x20) { /* '"' or '\\' */
			out[0] = '\\';
			out[1] = (char)c;
			return 2;
		}
		char short_esc = c == '\n' ? 'n' : c == '\t' ? 't' : c == '\r' ? 'r'
			       : c == '\b' ? 'b' : c == '\f' ? 'f' : 0;
		if (short_esc) {
			out[0] = '\\';
			out[1] = short_esc;
			return 2;
		}
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 15];
		return 6;
	}
	size_t need;
	unsigned lo = 0x80, hi = 0xbf;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		lo = c == 0xe0 ? 0xa0 : lo; /* no overlongs */
		hi = c == 0xed ? 0x9f : hi; /* no surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		lo = c == 0xf0 ? 0x90 : lo; /* no overlongs */
		hi = c == 0xf4 ? 0x8f : hi; /* nothing above U+10FFFF */
	} else {
		*adv = 1;
		goto bad;
	}
	size_t i = 1;
	if (s + 1 < e && s[1] >= lo && s[1] <= hi) {
		i = 2;
		while (i < need && s + i < e && (s[i] & 0xc0) == 0x80)
			i++;
	}
	*adv = i;
	if (i == need) {
		memcpy(out, s, need);
		return need;
	}
bad:
	memcpy(out, "\xef\xbf\xbd", 3);
	return 3;
}

static inline uint32_t has_special32(uint32_t x)
{
	const uint32_t ones = 0x01010101u, high = 0x80808080u;
	uint32_t ctl = (x - ones * 0x20) & ~x;
	uint32_t q = x ^ (ones * '"');
	uint32_t b = x ^ (ones * '\\');
	q = (q - ones) & ~q;
	b = (b - ones) & ~b;
	return (x | ctl | q | b) & high;
}

/* The general loop: 8 clean bytes at a time, specials one by one. */
static char *esc_loop(char *p, const unsigned char *s, const unsigned char *e)
{
	while (s < e) {
		while ((size_t)(e - s) >= 8) {
			uint64_t x;
			memcpy(&x, s, 8);
			if (has_special(x))
				break;
			memcpy(p, s, 8);
			p += 8;
			s += 8;
		}
		const unsigned char *stop = (size_t)(e - s) >= 8 ? s + 8 : e;
		while (s < stop) {
			if (!is_special(*s)) {
				*p++ = (char)*s++;
			} else {
				size_t adv;
				p += unit(s, e, p, &adv);
				s += adv;
			}
		}
	}
	return p;
}

/* Escape n bytes into p without bounds checks (caller reserved 6n).  Clean
 * strings, the common case, are copied with a few overlapping word moves;
 * anything else goes through esc_loop. */
static inline __attribute__((always_inline)) char *esc_fast(char *p, const unsigned char *s,
							    size_t n)
{
	const unsigned char *e = s + n;
	if (n >= 8) {
		while ((size_t)(e - s) >= 8) {
			uint64_t x;
			memcpy(&x, s, 8);
			if (has_special(x))
				return esc_loop(p, s, e);
			memcpy(p, s, 8);
			p += 8;
			s += 8;
		}
		size_t rest = (size_t)(e - s);
		if (rest == 0)
			return p;
		/* The last 8 bytes overlap ones already copied verbatim. */
		uint64_t x;
		memcpy(&x, e - 8, 8);
		if (has_special(x))
			return esc_loop(p, s, e);
		memcpy(p + rest - 8, e - 8, 8);
		return p + rest;
	}
	if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, e - 4, 4);
		if (has_special32(a) || has_special32(b))
			return esc_loop(p, s, e);
		memcpy(p, &a, 4);
		memcpy(p + n - 4, &b, 4);
		return p + n;
	}
	return esc_loop(p, s, e);
}

/* Write [,]"s" (and ':' for a key), checking every unit; false (and
 * overflow set) if it does not fit. */
static bool str_careful(struct itd_jw *w, const unsigned char *s, size_t n, bool key)
{
	const unsigned char *e = s + n;
	if (room(w) < (w->comma ? 2u : 1u))
		goto fail;
	if (w->comma)
		*w->p++ = ',';
	*w->p++ = '"';
	while (s < e) {
		char tmp[6];
		size_t adv = 1, k = 1;
		if (is_special(*s))
			k = unit(s, e, tmp, &adv);
		else
			tmp[0] = (char)*s;
		if (room(w) < k)
			goto fail;
		memcpy(w->p, tmp, k);
		w->p += k;
		s += adv;
	}
	if (room(w) < (key ? 2u : 1u))
		goto fail;
	*w->p++ = '"';
	if (key)
		*w->p++ = ':';
	return true;
fail:
	set_overflow(w);
	return false;
}

/* The largest n for which 6n + 4 cannot overflow a size_t. */
#define STR_FAST_MAX ((SIZE_MAX - 8) / 6)

/* [,]"escaped"[:]: true if written. */
static inline __attribute__((always_inline)) bool put_str(struct itd_jw *w, const char *s,
							  size_t n, bool key)
{
	if (TEL_LIKELY(n <= STR_FAST_MAX && room(w) >= 6 * n + 4)) {
		char *p = w->p;
		*p = ',';
		p += w->comma;
		*p++ = '"';
		p = esc_fast(p, (const unsigned char *)s, n);
		*p++ = '"';
		*p = ':';
		p += key;
		w->p = p;
		return true;
	}
	return str_careful(w, (const unsigned char *)s, n, key);
}

void itd_jw_strn(struct itd_jw *w, const char *s, size_t n)
{
	if (s == NULL) {
		itd_jw_null(w);
		return;
	}
	if (put_str(w, s, n, false))
		value_done(w);
}

void itd_jw_str(struct itd_jw *w, const char *s)
{
	if (s == NULL)
		itd_jw_null(w);
	else
		itd_jw_strn(w, s, strlen(s));
}

void itd_jw_key(struct itd_jw *w, const char *key)
{
	size_t n = strlen(key);
	if (!put_str(w, key, n, true))
		return;
	w->comma = false;
	if (TEL_UNLIKELY(w->rd != NULL))
		tel_red_key(w, key, n);
}

void itd_jw_key_lit(struct itd_jw *w, const char *quoted, size_t n)
{
	if (TEL_UNLIKELY(room(w) < n + 1)) {
		set_overflow(w);
		return;
	}
	*w->p = ',';
	w->p += w->comma;
	copy_small(w->p, quoted, n);
	w->p += n;
	w->comma = false;
	if (TEL_UNLIKELY(w->rd != NULL))
		tel_red_key(w, quoted + 1, n - 3); /* without the quotes and colon */
}

void tel_jw_rawstr(struct itd_jw *w, const char *s, size_t n)
{
	bool comma = w->comma;
	w->comma = false;
	put_str(w, s, n, false);
	w->comma = comma;
}

void tel_jw_raw(struct itd_jw *w, const char *s, size_t n)
{
	if (TEL_UNLIKELY(room(w) < n)) {
		set_overflow(w);
		return;
	}
	copy_small(w->p, s, n);
	w->p += n;
}

/* ---------------------------------------------------------------- scalars */

/* A short scalar's text with its comma, when the fast check failed. */
static void scalar_careful(struct itd_jw *w, const char *s, size_t n)
{
	if (room(w) < n + (w->comma ? 1u : 0u)) {
		set_overflow(w);
		return;
	}
	if (w->comma)
		*w->p++ = ',';
	memcpy(w->p, s, n);
	w->p += n;
	value_done(w);
}

void itd_jw_u64(struct itd_jw *w, uint64_t v)
{
	if (TEL_LIKELY(room(w) >= 21)) {
		*w->p = ',';
		w->p += w->comma;
		w->p = tel_utoa(w->p, v);
		value_done(w);
	} else {
		char tmp[24];
		scalar_careful(w, tmp, (size_t)(tel_utoa(tmp, v) - tmp));
	}
}

static char *put_i64(char *p, int64_t v)
{
	if (v < 0) {
		*p++ = '-';
		return tel_utoa(p, (uint64_t)0 - (uint64_t)v);
	}
	return tel_utoa(p, (uint64_t)v);
}

void itd_jw_i64(struct itd_jw *w, int64_t v)
{
	if (TEL_LIKELY(room(w) >= 22)) {
		*w->p = ',';
		w->p += w->comma;
		w->p = put_i64(w->p, v);
		value_done(w);
	} else {
		char tmp[24];
		scalar_careful(w, tmp, (size_t)(put_i64(tmp, v) - tmp));
	}
}

void itd_jw_num(struct itd_jw *w, double v)
{
	if (TEL_LIKELY(room(w) >= TEL_NUM_MAX + 1)) {
		*w->p = ',';
		w->p += w->comma;
		w->p = tel_dtoa(w->p, v);
		value_done(w);
	} else {
		char tmp[TEL_NUM_MAX];
		scalar_careful(w, tmp, (size_t)(tel_dtoa(tmp, v) - tmp));
	}
}

void itd_jw_bool(struct itd_jw *w, bool v)
{
	if (v)
		scalar_careful(w, "true", 4);
	else
		scalar_careful(w, "false", 5);
}

void itd_jw_null(struct itd_jw *w)
{
	scalar_careful(w, "null", 4);
}

/* ------------------------------------------------------------- containers */

static inline void open_c(struct itd_jw *w, char c, bool is_arr)
{
	if (TEL_LIKELY(room(w) >= 2)) {
		*w->p = ',';
		w->p += w->comma;
		*w->p++ = c;
	} else if (room(w) >= (w->comma ? 2u : 1u)) {
		if (w->comma)
			*w->p++ = ',';
		*w->p++ = c;
	} else {
		set_overflow(w);
	}
	w->comma = false;
	/* Tracked even after an overflow so depths stay balanced. */
	if (TEL_UNLIKELY(w->rd != NULL))
		tel_red_push(w, is_arr);
}

static inline void close_c(struct itd_jw *w, char c)
{
	if (TEL_LIKELY(room(w) >= 1))
		*w->p++ = c;
	else
		set_overflow(w);
	w->comma = true;
	if (TEL_UNLIKELY(w->rd != NULL))
		tel_red_pop(w);
}

void itd_jw_obj_begin(struct itd_jw *w)
{
	open_c(w, '{', false);
}

void itd_jw_obj_end(struct itd_jw *w)
{
	close_c(w, '}');
}

void itd_jw_arr_begin(struct itd_jw *w)
{
	open_c(w, '[', true);
}

void itd_jw_arr_end(struct itd_jw *w)
{
	close_c(w, ']');
}

/* ------------------------------------------------------------- shorthands */

void itd_jw_kstr(struct itd_jw *w, const char *key, const char *s)
{
	itd_jw_key(w, key);
	itd_jw_str(w, s);
}

void itd_jw_knum(struct itd_jw *w, const char *key, double v)
{
	itd_jw_key(w, key);
	itd_jw_num(w, v);
}

void itd_jw_ku64(struct itd_jw *w, const char *key, uint64_t v)
{
	itd_jw_key(w, key);
	itd_jw_u64(w, v);
}

void itd_jw_ki64(struct itd_jw *w, const char *key, int64_t v)
{
	itd_jw_key(w, key);
	itd_jw_i64(w, v);
}

void itd_jw_kbool(struct itd_jw *w, const char *key, bool v)
{
	itd_jw_key(w, key);
	itd_jw_bool(w, v);
}

/* ------------------------------------------------------------- standalone */

void tel_jw_init(struct itd_jw *w, char *buf, size_t cap)
{
	memset(w, 0, offsetof(struct itd_jw, node));
	w->buf = buf;
	w->p = buf;
	w->end = buf + cap;
}

struct itd_jw *itd_jw_create(char *buf, size_t cap)
{
	struct itd_jw *w = itd_malloc(sizeof *w);
	if (w)
		tel_jw_init(w, buf, cap);
	return w;
}

void itd_jw_reset(struct itd_jw *w, char *buf, size_t cap)
{
	tel_jw_init(w, buf, cap);
}

size_t itd_jw_len(const struct itd_jw *w)
{
	return (size_t)(w->p - w->buf);
}

bool itd_jw_overflowed(const struct itd_jw *w)
{
	return w->overflow;
}

void itd_jw_destroy(struct itd_jw *w)
{
	itd_free(w);
}
