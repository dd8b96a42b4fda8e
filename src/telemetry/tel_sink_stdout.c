/* tel_sink_stdout.c: the stdout sink: JSONL to file descriptor 1 with
 * write(2), bypassing stdio, so nothing else should print to stdout while
 * it is attached.
 *
 * SIGPIPE: a reader that goes away (`intentd run | head`) must not kill the
 * runtime, so opening this sink sets SIGPIPE to SIG_IGN for the whole
 * process; the write then fails with EPIPE, which is reported as ITD_EIO
 * (a counted write error and a telemetry.delayed event) like any other
 * failed write. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>

#include "telemetry/telemetry_int.h"

static int stdout_write(void *ctx, const char *data, size_t len)
{
	(void)ctx;
	while (len) {
		ssize_t n = write(STDOUT_FILENO, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ITD_EIO; /* EPIPE included */
		}
		data += n;
		len -= (size_t)n;
	}
	return ITD_OK;
}

static const struct itd_sink_ops stdout_ops = {
	.kind = "stdout",
	.write = stdout_write,
	.flush = NULL,
	.close = NULL, /* fd 1 is not ours to close; there is no ctx */
};

int itd_sink_stdout_open(const struct itd_sink_ops **ops, void **ctx)
{
	signal(SIGPIPE, SIG_IGN);
	*ops = &stdout_ops;
	*ctx = NULL;
	return ITD_OK;
}
