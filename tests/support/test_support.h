/* test_support.h: helpers shared by the cmocka suites. */
#ifndef ITD_TEST_SUPPORT_H
#define ITD_TEST_SUPPORT_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

/* Read a whole file into a NUL-terminated malloc'd buffer (test use only);
 * fails the test if it cannot. */
char *itd_test_read_file(const char *path, size_t *len_out);
/* A fresh private directory under $TMPDIR (or /tmp); caller frees the
 * string and may leave the directory for post-mortem inspection. */
char *itd_test_tmpdir(const char *tag);
/* Remove dir and everything under it (best effort). */
void itd_test_rmtree(const char *dir);

#endif
