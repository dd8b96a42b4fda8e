/* tel_sink_file.c: the file sink: appends (or truncates) a JSONL file,
 * creating missing parent directories, with write(2) looping over partial
 * writes and EINTR.  It syncs (fdatasync) only when the telemetry instance
 * drains, never per batch. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "telemetry/telemetry_int.h"

struct file_sink {
	int fd; /* open for appending */
};

static int file_write(void *ctx, const char *data, size_t len)
{
	struct file_sink *f = ctx;
	while (len) {
		ssize_t n = write(f->fd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ITD_EIO;
		}
		data += n;
		len -= (size_t)n;
	}
	return ITD_OK;
}

static int file_flush(void *ctx)
{
	struct file_sink *f = ctx;
	/* Pipes, ttys and the like cannot be synced; that is not a failure. */
	if (fdatasync(f->fd) != 0 && errno != EINVAL && errno != EROFS)
		return ITD_EIO;
	return ITD_OK;
}

static void file_close(void *ctx)
{
	struct file_sink *f = ctx;
	if (!f)
		return;
	close(f->fd);
	itd_free(f);
}

static const struct itd_sink_ops file_ops = {
	.kind = "file",
	.write = file_write,
	.flush = file_flush,
	.close = file_close,
};

/* mkdir -p of path's directory part; 0, or -1 with errno set. */
static int make_parents(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int r = mkdir(path, 0755);
		int e = errno;
		*p = '/';
		if (r != 0 && e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	return 0;
}

/* Appending to a file a crash interrupted: if it does not end with a
 * newline, its last line is a torn event; cut it off so the next event
 * starts a line of its own (readers see a seq gap, never a broken line). */
static int drop_torn_line(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	if (end <= 0)
		return end < 0 ? -1 : 0;
	char buf[4096];
	off_t pos = end;
	while (pos > 0) {
		size_t n = pos < (off_t)sizeof buf ? (size_t)pos : sizeof buf;
		if (pread(fd, buf, n, pos - (off_t)n) != (ssize_t)n)
			return -1;
		for (size_t i = n; i-- > 0;) {
			if (buf[i] == '\n') {
				off_t keep = pos - (off_t)n + (off_t)i + 1;
				return keep == end ? 0 : ftruncate(fd, keep);
			}
		}
		pos -= (off_t)n;
	}
	return ftruncate(fd, 0); /* no complete line at all */
}

uint64_t itd_sink_file_resume(void *ctx, const char *run_id)
{
	struct file_sink *f = ctx;
	off_t end = lseek(f->fd, 0, SEEK_END);
	if (!run_id || end <= 0)
		return 0;
	/* The last line (the file ends with a newline: drop_torn_line). */
	char buf[65536];
	size_t n = end < (off_t)sizeof buf ? (size_t)end : sizeof buf;
	if (pread(f->fd, buf, n, end - (off_t)n) != (ssize_t)n)
		return 0;
	n--; /* its newline */
	size_t at = n;
	while (at > 0 && buf[at - 1] != '\n')
		at--;
	uint64_t seq;
	if (tel_line_of_run(buf + at, n - at, run_id) && tel_line_seq(buf + at, n - at, &seq))
		return seq;
	return 0;
}

int itd_sink_file_open(const char *path, bool truncate, const struct itd_sink_ops **ops,
		       void **ctx, char *err, size_t cap)
{
	int rc = ITD_EINVAL;
	char *dirs = NULL;
	struct file_sink *f = NULL;

	*ops = NULL;
	*ctx = NULL;
	if (!path || !*path || strcmp(path, "-") == 0) {
		if (err && cap)
			snprintf(err, cap, "telemetry file: a path is required (use the stdout sink for -)");
		return rc;
	}
	rc = ITD_ENOMEM;
	dirs = itd_strdup(path);
	f = itd_malloc(sizeof *f);
	if (!dirs || !f) {
		if (err && cap)
			snprintf(err, cap, "telemetry file %s: out of memory", path);
		goto fail;
	}
	rc = ITD_EIO;
	if (make_parents(dirs) != 0) {
		if (err && cap)
			snprintf(err, cap, "telemetry file %s: cannot create its directory: %s", path,
				 strerror(errno));
		goto fail;
	}
	int flags = (truncate ? O_WRONLY | O_TRUNC : O_RDWR) | O_CREAT | O_APPEND | O_CLOEXEC;
	f->fd = open(path, flags, 0644);
	if (f->fd < 0) {
		if (err && cap)
			snprintf(err, cap, "telemetry file %s: %s", path, strerror(errno));
		goto fail;
	}
	if (!truncate && drop_torn_line(f->fd) != 0) {
		if (err && cap)
			snprintf(err, cap, "telemetry file %s: cannot repair its last line: %s", path,
				 strerror(errno));
		close(f->fd);
		goto fail;
	}
	itd_free(dirs);
	*ops = &file_ops;
	*ctx = f;
	return ITD_OK;
fail:
	itd_free(f);
	itd_free(dirs);
	return rc;
}
