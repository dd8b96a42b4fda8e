/* tel_dtoa.c: numbers for the JSON writer: integers by digit pairs, and
 * doubles as the shortest decimal that reads back to the same double.
 *
 * Doubles.  Integral values with |v| < 2^53 print as integers; -0 as 0;
 * NaN and infinities as null.  A non-integral v in [1e-5, 2^53) takes the
 * exact fast path below; everything else (tiny and huge magnitudes) falls
 * back to printf's "%.Ng" checked with strtod, which is rare in telemetry
 * and also yields the shortest round-tripping form.
 *
 * Fast path.  v = m * 2^e exactly (m < 2^53).  Every real in the closed or
 * open interval [v - g_lo, v + g_hi] (closed iff m is even: round-half-even)
 * reads back as v, where g_hi is half an ulp and g_lo half the gap to the
 * next lower double.  In units of 2^(e-2) the interval is
 * [4m - 2 (or 4m - 1 at a power of two), 4m + 2], so a decimal d / 10^k lies
 * in it iff  lo * 10^k <= d * 2^(2-e) <= hi * 10^k,  which is integer
 * arithmetic: lo, hi < 2^55 and 10^k <= 10^21 < 2^70 fit 128 bits.
 *
 * Which k: any decimal of at most 15 significant digits survives a trip
 * through a (normal) double, so if some decimal of <= 15 digits reads back
 * as v, the correctly rounded 15-digit one (the integer nearest v * 10^k15)
 * is it, padded with zeros: test that and strip the zeros.  Failing that,
 * the nearest 16-digit decimal if it is inside the interval, else the
 * nearest 17-digit one, which always is.  Where the nearest candidate falls
 * outside a non-empty interval (the lopsided interval at a power of two),
 * a binary search finds the fewest fraction digits k = 1..21 (if k works so
 * does k + 1) and takes the candidate nearest v.  A non-integral v < 2^53
 * has no integer in its interval, so fewest fraction digits means fewest
 * significant digits; the result never has a trailing zero. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "telemetry/telemetry_int.h"

__extension__ typedef unsigned __int128 u128;

static const char digit_pairs[201] =
	"00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	"40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	"8081828384858687888990919293949596979899";

static const uint64_t pow10_u64[20] = {
	1u, 10u, 100u, 1000u, 10000u, 100000u, 1000000u, 10000000u, 100000000u,
	1000000000u, 10000000000u, 100000000000u, 1000000000000u, 10000000000000u,
	100000000000000u, 1000000000000000u, 10000000000000000u, 100000000000000000u,
	1000000000000000000u, 10000000000000000000u,
};

/* Decimal digits in v (1 for 0). */
static inline unsigned n_digits(uint64_t v)
{
	/* log10 from the bit length (1233/4096 ~ log10 2), then one compare. */
	unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
	unsigned n = (bits * 1233) >> 12;
	return n + (n < 20 && (v | 1) >= pow10_u64[n]); /* v | 1: 0 has one digit */
}

char *tel_utoa(char *p, uint64_t v)
{
	unsigned n = n_digits(v);
	char *q = p + n;
	while (v >= 100) {
		unsigned r = (unsigned)(v % 100);
		v /= 100;
		q -= 2;
		memcpy(q, digit_pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(q - 2, digit_pairs + 2 * v, 2);
	else
		q[-1] = (char)('0' + v);
	return p + n;
}


/* x * 10^k exactly (x < 2^55, k <= 21). */
static inline u128 mul_pow10(uint64_t x, unsigned k)
{
	if (k < 20)
		return (u128)x * pow10_u64[k];
	return (u128)x * pow10_u64[19] * pow10_u64[k - 19];
}

/* The rounding interval of v in units of 2^-sh, as integers. */
struct interval {
	uint64_t mid;  /* 4m */
	uint64_t lo;   /* lower bound */
	uint64_t hi;   /* upper bound */
	unsigned sh;   /* v = mid / 2^sh */
	bool closed;   /* bounds included (m even) */
};

/* The decimals with k fraction digits inside the interval are
 * [*dlo, *dhi] (empty when *dlo > *dhi). */
static inline void candidates(const struct interval *iv, unsigned k, u128 *dlo, u128 *dhi)
{
	u128 mask = ((u128)1 << iv->sh) - 1;
	u128 l = mul_pow10(iv->lo, k), h = mul_pow10(iv->hi, k);
	bool l_exact = (l & mask) == 0, h_exact = (h & mask) == 0;
	*dlo = (l >> iv->sh) + ((!l_exact || !iv->closed) ? 1 : 0);
	*dhi = (h >> iv->sh) - ((h_exact && !iv->closed) ? 1 : 0);
}

/* The integer nearest v * 10^k (halves up). */
static inline u128 nearest(const struct interval *iv, unsigned k)
{
	return (mul_pow10(iv->mid, k) + ((u128)1 << (iv->sh - 1))) >> iv->sh;
}

/* d / 10^k as decimal text (d has no trailing zero, k >= 1). */
static char *put_fixed(char *p, uint64_t d, unsigned k)
{
	char digits[24];
	unsigned n = (unsigned)(tel_utoa(digits, d) - digits);
	if (n > k) {
		memcpy(p, digits, n - k);
		p += n - k;
		*p++ = '.';
		memcpy(p, digits + n - k, k);
		return p + k;
	}
	*p++ = '0';
	*p++ = '.';
	memset(p, '0', k - n);
	p += k - n;
	memcpy(p, digits, n);
	return p + n;
}

/* Non-integral v in [1e-5, 2^53): see the file comment. */
static char *shortest_fast(char *p, double v)
{
	uint64_t bits;
	memcpy(&bits, &v, sizeof bits);
	uint64_t frac = bits & ((UINT64_C(1) << 52) - 1);
	int bexp = (int)((bits >> 52) & 0x7ff);
	uint64_t m = frac | (UINT64_C(1) << 52);
	int e = bexp - 1075; /* v = m * 2^e, e in [-69, -1] here */
	struct interval iv = {
		.mid = 4 * m,
		.lo = frac == 0 && bexp > 1 ? 4 * m - 1 : 4 * m - 2,
		.hi = 4 * m + 2,
		.sh = (unsigned)(2 - e),
		.closed = (m & 1) == 0,
	};
	u128 dlo, dhi, d;

	/* k = sig - lead fraction digits give sig significant digits. */
	int lead;
	if (v >= 1) {
		lead = (int)n_digits((uint64_t)v);
	} else {
		int z = 0; /* zeros after the point: v * 10^(z+1) >= 1, exactly */
		while (z < 5 && mul_pow10(iv.mid, (unsigned)z + 1) >> iv.sh == 0)
			z++;
		lead = -z;
	}
	for (int sig = 15; sig <= 17; sig++) {
		int k = sig - lead;
		if (k < 1)
			continue;
		candidates(&iv, (unsigned)k, &dlo, &dhi);
		if (dlo > dhi)
			continue;
		d = nearest(&iv, (unsigned)k);
		if (d < dlo || d > dhi)
			break; /* asymmetric interval: take the exact search */
		uint64_t dd = (uint64_t)d; /* < 10^17 */
		if (dd % 10 == 0) { /* 15 digits padded with zeros: strip them */
			while (dd % 10000 == 0) {
				dd /= 10000;
				k -= 4;
			}
			while (dd % 10 == 0) {
				dd /= 10;
				k--;
			}
		}
		return put_fixed(p, dd, (unsigned)k);
	}

	/* Exact search for the fewest fraction digits. */
	unsigned lo_k = 1, hi_k = 21;
	while (lo_k < hi_k) {
		unsigned mid = (lo_k + hi_k) / 2;
		candidates(&iv, mid, &dlo, &dhi);
		if (dlo <= dhi)
			hi_k = mid;
		else
			lo_k = mid + 1;
	}
	candidates(&iv, lo_k, &dlo, &dhi);
	d = nearest(&iv, lo_k);
	if (d < dlo)
		d = dlo;
	if (d > dhi)
		d = dhi;
	return put_fixed(p, (uint64_t)d, lo_k);
}

/* Magnitudes outside the fast path: the first of %.15g, %.16g, %.17g that
 * reads back exactly (the shortest, and the nearest of that length: any
 * decimal of at most 15 digits survives a trip through a normal double,
 * so if one reads back as v, %.15g finds it).  Subnormals carry fewer
 * digits, so for them the search starts at one digit. */
static char *shortest_slow(char *p, double v)
{
	char buf[40];
	int n = 0;
	for (int prec = v < DBL_MIN ? 1 : 15; prec <= 17; prec++) {
		n = snprintf(buf, sizeof buf, "%.*g", prec, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	for (int i = 0; i < n; i++) {
		char c = buf[i];
		/* A locale's decimal comma is still a JSON decimal point. */
		*p++ = (c >= '0' && c <= '9') || c == 'e' || c == '+' || c == '-' ? c : '.';
	}
	return p;
}

char *tel_dtoa(char *p, double v)
{
	if (!isfinite(v)) {
		memcpy(p, "null", 4);
		return p + 4;
	}
	if (v == 0) /* also -0 */
		return *p = '0', p + 1;
	if (v < 0) {
		*p++ = '-';
		v = -v;
	}
	if (v < 0x1p53) {
		uint64_t i = (uint64_t)v;
		if ((double)i == v)
			return tel_utoa(p, i);
		if (v >= 1e-5)
			return shortest_fast(p, v);
	}
	return shortest_slow(p, v);
}
