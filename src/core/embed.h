/* embed.h: files compiled into the binary at build time (built-in
 * scenarios, later the dashboard's assets). */
#ifndef ITD_CORE_EMBED_H
#define ITD_CORE_EMBED_H

#include <stddef.h>

struct itd_embedded {
	const char *name; /* file name, e.g. "spacecraft.yaml"; NULL ends a table */
	const char *data; /* contents, NUL-terminated */
	size_t size;      /* length without the terminating NUL */
};

#endif
