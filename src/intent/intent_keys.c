/* intent_keys.c: what submitting threads share with the tick: sequence
 * numbers, capacity reservations and the idempotency-key index, all under
 * the table's lock.  A submission reserves its seq, its room and its key
 * before it is acknowledged, so the tick can always create it later and a
 * concurrent duplicate is recognised at once. */
#include <string.h>

#include "intent_int.h"

static uint64_t key_hash(const char *key)
{
	return itd_hash64(key, strlen(key), 0x6b6579);
}

/* Slot of key, or of the empty slot where it would go (lock held). */
static uint64_t key_slot(const struct itd_intents *t, const char *key)
{
	uint64_t mask = t->n_keys_cap - 1;
	uint64_t i = key_hash(key) & mask;
	while (t->keys[i].seq && strcmp(t->keys[i].key, key))
		i = (i + 1) & mask;
	return i;
}

void itd_keys_remove(struct itd_intents *t, const char *key)
{
	uint64_t mask = t->n_keys_cap - 1;
	uint64_t i = key_slot(t, key);
	if (!t->keys[i].seq)
		return;
	/* Backward-shift deletion keeps probe chains intact. */
	for (uint64_t j = (i + 1) & mask; t->keys[j].seq; j = (j + 1) & mask) {
		uint64_t home = key_hash(t->keys[j].key) & mask;
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			t->keys[i] = t->keys[j];
			i = j;
		}
	}
	t->keys[i].seq = 0;
}

int itd_keys_claim(struct itd_intents *t, const char *key, uint64_t body_hash, uint64_t seq,
		   uint64_t *holder_out)
{
	uint64_t i = key_slot(t, key);
	struct itd_key_entry *k = &t->keys[i];
	if (k->seq) {
		*holder_out = k->seq;
		return k->body_hash == body_hash ? ITD_EEXISTS : ITD_ECONFLICT;
	}
	k->seq = seq;
	k->body_hash = body_hash;
	memcpy(k->key, key, strlen(key) + 1);
	return ITD_OK;
}

int itd_intents_reserve(struct itd_intents *t, const char *key, uint64_t body_hash,
			uint64_t *seq_out)
{
	int rc = ITD_OK;
	pthread_mutex_lock(&t->lock);
	if (key && *key) {
		uint64_t i = key_slot(t, key);
		if (t->keys[i].seq) {
			*seq_out = t->keys[i].seq;
			rc = t->keys[i].body_hash == body_hash ? ITD_EEXISTS : ITD_ECONFLICT;
			goto out;
		}
	}
	if (t->n_live + t->reserved >= t->cap) {
		rc = ITD_EFULL;
		goto out;
	}
	*seq_out = ++t->next_seq;
	t->reserved++;
	if (key && *key) {
		uint64_t holder;
		itd_keys_claim(t, key, body_hash, *seq_out, &holder);
	}
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int itd_intents_reserve_as(struct itd_intents *t, uint64_t seq, const char *key,
			   uint64_t body_hash)
{
	int rc = ITD_OK;
	pthread_mutex_lock(&t->lock);
	if (t->n_live + t->reserved >= t->cap) {
		rc = ITD_EFULL;
		goto out;
	}
	if (key && *key) {
		uint64_t holder;
		rc = itd_keys_claim(t, key, body_hash, seq, &holder);
		if (rc)
			goto out;
	}
	if (seq > t->next_seq)
		t->next_seq = seq;
	t->reserved++;
out:
	pthread_mutex_unlock(&t->lock);
	return rc;
}

int itd_intents_force_seqs(struct itd_intents *t, const uint64_t *seqs, size_t n)
{
	if (n > t->cap_forced)
		return ITD_ELIMIT;
	pthread_mutex_lock(&t->lock);
	if (n)
		memcpy(t->forced, seqs, n * sizeof *seqs);
	t->n_forced = n;
	t->i_forced = 0;
	t->forcing = true;
	pthread_mutex_unlock(&t->lock);
	return ITD_OK;
}

void itd_intents_forcing_end(struct itd_intents *t)
{
	if (!t->forcing)
		return;
	pthread_mutex_lock(&t->lock);
	t->forcing = false;
	t->n_forced = t->i_forced = 0;
	pthread_mutex_unlock(&t->lock);
}

void itd_intents_attempts_reset(struct itd_intents *t)
{
	t->n_attempts = 0;
}

void itd_intents_unreserve(struct itd_intents *t, uint64_t seq, const char *key)
{
	pthread_mutex_lock(&t->lock);
	t->reserved--;
	/* Give the id back unless someone took a later one meanwhile (then a
	 * gap in ids is all that remains). */
	if (seq == t->next_seq)
		t->next_seq--;
	if (key && *key) {
		uint64_t i = key_slot(t, key);
		if (t->keys[i].seq == seq)
			itd_keys_remove(t, key);
	}
	pthread_mutex_unlock(&t->lock);
}

struct itd_intent *itd_intents_by_key(struct itd_intents *t, const char *key)
{
	if (!key || !*key)
		return NULL;
	pthread_mutex_lock(&t->lock);
	uint64_t i = key_slot(t, key);
	uint64_t seq = t->keys[i].seq;
	pthread_mutex_unlock(&t->lock);
	return seq ? itd_intents_at(t, seq) : NULL;
}
