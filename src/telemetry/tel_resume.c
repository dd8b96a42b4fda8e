/* tel_resume.c: a resumed run and the telemetry it already wrote.  A run
 * that continues from its journal appends to the same file; the events it
 * re-emits for the ticks it replays carry the seqs they had, and the file
 * must not get them twice.  Here: reading an event line's seq and run,
 * and the tail of a file (to refill the live stream after a restart). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry/telemetry_int.h"

/* The envelope comes before the payload and its strings are escaped, so
 * the first `,"seq":` of a line is the envelope's. */
bool tel_line_seq(const char *line, size_t n, uint64_t *seq)
{
	static const char k[] = ",\"seq\":";
	const char *p = memmem(line, n, k, sizeof k - 1), *end = line + n;
	if (!p)
		return false;
	p += sizeof k - 1;
	uint64_t v = 0;
	const char *d = p;
	while (p < end && *p >= '0' && *p <= '9' && p - d < 20)
		v = v * 10 + (uint64_t)(*p++ - '0');
	if (p == d)
		return false;
	*seq = v;
	return true;
}

bool tel_skip_lines(const char **data, size_t *len, uint64_t through)
{
	while (*len) {
		const char *nl = memchr(*data, '\n', *len);
		size_t n = nl ? (size_t)(nl - *data) + 1 : *len;
		uint64_t seq;
		if (tel_line_seq(*data, n, &seq) && seq > through)
			return false;
		*data += n;
		*len -= n;
	}
	return true;
}

/* Whether the line is an event of run_id.  A run id that would need
 * escaping in JSON never matches (it is then not worth the risk). */
bool tel_line_of_run(const char *line, size_t n, const char *run_id)
{
	char pat[300];
	size_t k = strlen(run_id);
	if (k + 14 > sizeof pat)
		return false;
	for (size_t i = 0; i < k; i++)
		if (run_id[i] == '"' || run_id[i] == '\\' || (unsigned char)run_id[i] < 0x20)
			return false;
	int m = snprintf(pat, sizeof pat, ",\"run_id\":\"%s\"", run_id);
	return memmem(line, n, pat, (size_t)m) != NULL;
}

void itd_tel_file_path(const char *where, const char *run_id, char *buf, size_t cap)
{
	if (where)
		snprintf(buf, cap, "%s", where);
	else
		snprintf(buf, cap, "logs/telemetry/%s.jsonl", run_id);
}

int itd_tel_file_tail(const char *path, const char *run_id, size_t max_bytes,
		      void (*fn)(void *ctx, const char *line, size_t n), void *ctx)
{
	if (!run_id)
		return ITD_OK;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ITD_OK : ITD_EIO;
	struct stat sb;
	if (fstat(fd, &sb) || !S_ISREG(sb.st_mode) || !sb.st_size) {
		close(fd);
		return ITD_OK;
	}
	size_t size = (size_t)sb.st_size;
	size_t want = size < max_bytes ? size : max_bytes;
	char *buf = itd_malloc(want ? want : 1);
	if (!buf) {
		close(fd);
		return ITD_ENOMEM;
	}
	off_t from = (off_t)(size - want);
	size_t got = 0;
	while (got < want) {
		ssize_t r = pread(fd, buf + got, want - got, from + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	/* Start at a line's beginning; a torn last line is left out. */
	size_t at = 0;
	if (from > 0) {
		const char *nl = memchr(buf, '\n', got);
		at = nl ? (size_t)(nl - buf) + 1 : got;
	}
	while (at < got) {
		const char *nl = memchr(buf + at, '\n', got - at);
		if (!nl)
			break;
		size_t n = (size_t)(nl - (buf + at));
		if (n && tel_line_of_run(buf + at, n, run_id))
			fn(ctx, buf + at, n);
		at += n + 1;
	}
	itd_free(buf);
	return ITD_OK;
}
