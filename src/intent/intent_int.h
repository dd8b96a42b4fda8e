/* intent_int.h: what the intent module's files share privately. */
#ifndef ITD_INTENT_INT_H
#define ITD_INTENT_INT_H

#include "intent.h"

/* Register key for seq (lock held): ITD_OK, or ITD_EEXISTS / ITD_ECONFLICT
 * with the current holder in *holder_out. */
int itd_keys_claim(struct itd_intents *t, const char *key, uint64_t body_hash, uint64_t seq,
		   uint64_t *holder_out);
/* Drop key from the index (lock held). */
void itd_keys_remove(struct itd_intents *t, const char *key);

#endif
