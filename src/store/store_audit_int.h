/* store_audit_int.h: what the audit chain's files share privately. */
#ifndef ITD_STORE_AUDIT_INT_H
#define ITD_STORE_AUDIT_INT_H

#include "store_audit.h"

/* An SQLite result code as one of ours: out of memory, busy (ITD_EAGAIN),
 * a constraint (ITD_EEXISTS: a duplicate index), else ITD_EIO. */
int itd_audit_sql_err(int src);

/* Check an entry against the limits (ITD_EINVAL, ITD_ELIMIT); the lengths
 * of its kind, subject and actor go out. */
int itd_audit_check(const struct itd_audit_entry *e, size_t len[3]);

#endif
