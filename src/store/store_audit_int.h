/* store_audit_int.h: what the audit chain's files share privately. */
#ifndef ITD_STORE_AUDIT_INT_H
#define ITD_STORE_AUDIT_INT_H

#include "store_audit.h"

/* An SQLite result code as one of ours: out of memory, busy (ITD_EAGAIN),
 * a constraint (ITD_EEXISTS: a duplicate index), else ITD_EIO. */
int itd_audit_sql_err(int src);

#endif
