/* store_audit.h: the tamper-evident audit chain (SPEC §8, docs/design/
 * store.md "The audit chain"): canonical encoding, the chain writer, its
 * SQLite table, verification and optional Ed25519-signed checkpoints. */
#ifndef ITD_STORE_AUDIT_H
#define ITD_STORE_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "core/core.h"

/*
 * The canonical encoding (format "intentd.audit.v1")
 * ===================================================
 *
 * An entry is encoded as nine fields in this fixed order.  Every field is a
 * u64 little-endian byte length followed by that many bytes; integers are
 * 8 bytes little-endian with a length of 8 (time_ms as two's complement).
 * Text fields are their bytes without a terminating NUL.
 *
 *   #  field       length   bytes
 *   0  format tag  16       "intentd.audit.v1" (ASCII)
 *   1  index       8        u64 LE, 1 for the first entry
 *   2  tick        8        u64 LE
 *   3  time_ms     8        i64 LE (Unix milliseconds)
 *   4  kind        K        e.g. "intake", "verdict", "checkpoint"
 *   5  subject     S        e.g. an intent id; empty if none
 *   6  actor       A        who caused it; empty if none
 *   7  data        D        opaque payload (e.g. JSON); may be empty
 *   8  prev_hash   32       hash of entry index-1; 32 zero bytes for index 1
 *
 * so the encoding is 144 + K + S + A + D bytes, and
 *
 *   hash = SHA-256(encoding)
 *
 * An auditor can recompute every hash from the `audit_block` table (its
 * layout under "Storage" below) with nothing but this table and SHA-256.
 * Because every field carries its length, no
 * two distinct entries encode alike (moving a byte from kind to subject
 * changes the lengths), and because prev_hash is inside the hashed bytes,
 * each hash commits to the whole chain before it.
 *
 * What the chain alone detects, and what it cannot
 * ------------------------------------------------
 * itd_audit_verify names the first entry at which the chain does not hold:
 *
 *  - one byte changed in any field of entry i (tick, time_ms, kind,
 *    subject, actor, data, prev_hash or hash): entry i, "hash mismatch".
 *    prev_hash is hashed, so a prev_hash-only change is named at i too.
 *  - entry i rewritten with its hash recomputed: the next entry, i+1,
 *    "prev_hash does not match entry i" (its stored link still points at
 *    the original).
 *  - entries deleted in the middle: the first missing index, "missing
 *    entries i..j (deleted)".
 *  - entries swapped or moved (their contents under other indexes): the
 *    first moved entry, "index out of order" when it was moved by at most
 *    64 places (told apart by rehashing it at nearby indexes), "hash
 *    mismatch" at that same entry otherwise; an entry stored under index
 *    0 is named as entry 1, "index out of order".
 *  - a block that does not decode (cut short, a text with a NUL inside or
 *    without its own, a length over its limit, not a BLOB), or whose row's
 *    first and last are not its entries' indexes: "malformed", named at
 *    the entry expected next.
 *
 * It cannot detect, on its own, a rewrite of the last entry with a
 * recomputed hash, a truncated tail (deleting entries n-k+1..n leaves a
 * valid chain of n-k entries), or a whole chain rewritten from some entry
 * on with every hash recomputed: anyone who can write the database can
 * compute SHA-256.  These need something the attacker cannot produce:
 *
 *  - signed checkpoints (below): with the public key, a rewritten prefix
 *    fails at the first checkpoint after the change (its signature covers
 *    the hash of the entry before it), and, given the interval N
 *    (itd_audit_verify_opts.checkpoint_every), a chain whose checkpoints
 *    were stripped fails where the first one is due;
 *  - a head kept outside the database (struct itd_audit_head, e.g. the
 *    newest checkpoint's signed data copied to a log or another host):
 *    verify then also reports a truncated tail ("missing entries i..j
 *    (truncated)") and a rewritten head entry.  Signed checkpoints kept
 *    only inside the same database are deleted along with a truncated
 *    tail, so truncation is caught by the external head, not by them.
 *
 * Checkpoints
 * -----------
 * With a signer, the writer appends after every N entries a checkpoint:
 * an entry of kind "checkpoint" (subject "", actor "intentd") at each
 * index that is a multiple of N+1.  Its data is 104 bytes:
 *
 *   u64 LE index of the previous entry || its hash (32) || signature (64)
 *
 * where the signature is Ed25519 (libsodium crypto_sign_detached) over the
 * 67 bytes "intentd.audit.checkpoint.v1" || u64 LE index || hash.  The
 * checkpoint entry is itself chained and hashed like any other.
 *
 * Key files: the secret key is libsodium's 64-byte Ed25519 secret key as
 * 128 lower-case hex digits (a trailing newline is allowed) in a regular
 * file that neither group nor others may access (0600 or 0400); the public
 * key is 32 bytes as 64 hex digits.
 *
 * Threads: nothing here locks.  A chain, a store and a connection are used
 * by one thread at a time (the store's writer thread).
 */

#define ITD_AUDIT_HASH_LEN 32                 /* SHA-256 */
#define ITD_AUDIT_MAX_DATA (64u * 1024u)      /* largest data payload, bytes */
#define ITD_AUDIT_MAX_TEXT 1024u              /* largest kind/subject/actor, bytes */
/* Largest canonical encoding: 144 fixed bytes plus the four variable fields. */
#define ITD_AUDIT_ENC_MAX (144u + 3u * ITD_AUDIT_MAX_TEXT + ITD_AUDIT_MAX_DATA)
#define ITD_AUDIT_PK_LEN 32                   /* Ed25519 public key */
#define ITD_AUDIT_SK_LEN 64                   /* Ed25519 secret key (libsodium form) */
#define ITD_AUDIT_SIG_LEN 64                  /* Ed25519 signature */
#define ITD_AUDIT_CHECKPOINT_LEN (8 + ITD_AUDIT_HASH_LEN + ITD_AUDIT_SIG_LEN)
#define ITD_AUDIT_CHECKPOINT_KIND "checkpoint" /* reserved for signed checkpoints */

/* One audit entry.  The pointers are borrowed: an entry never owns them. */
struct itd_audit_entry {
	uint64_t index;                          /* position in the chain, from 1 */
	uint64_t tick;                           /* the tick it happened in */
	int64_t time_ms;                         /* wall (or sim) time, Unix ms */
	const char *kind;                        /* "intake", "verdict", "mutation", ... */
	const char *subject;                     /* e.g. an intent id; NULL means "" */
	const char *actor;                       /* who; NULL means "" */
	const uint8_t *data;                     /* opaque payload; NULL iff data_len is 0 */
	size_t data_len;                         /* payload bytes, <= ITD_AUDIT_MAX_DATA */
	uint8_t prev_hash[ITD_AUDIT_HASH_LEN];   /* hash of entry index-1 (zeros for 1) */
	uint8_t hash[ITD_AUDIT_HASH_LEN];        /* SHA-256 of the canonical encoding */
};

/* The writer's view of the chain: where the next entry goes.  Caller
 * allocated; itd_audit_chain_init, then itd_audit_tail on an existing
 * table.  Holds the signing key when checkpoints are on. */
struct itd_audit_chain {
	uint64_t index;                          /* last entry's index; 0 when empty */
	uint8_t hash[ITD_AUDIT_HASH_LEN];        /* last entry's hash; zeros when empty */
	bool broken;                             /* tail could not be restored: no appends */
	bool signing;                            /* a secret key is set */
	uint64_t checkpoint_every;               /* N: a checkpoint after every N entries */
	uint8_t sk[ITD_AUDIT_SK_LEN];            /* Ed25519 secret key (zeroed by fini) */
	uint8_t cp_data[ITD_AUDIT_CHECKPOINT_LEN]; /* the last checkpoint's data */
};

/* The audit table's prepared statement on one connection, and the block
 * being built. */
struct itd_audit_store {
	sqlite3 *db;                             /* borrowed connection */
	sqlite3_stmt *insert;                    /* INSERT INTO audit_block ... */
	sqlite3_stmt *tail;                      /* the last block's last index */
	bool batching;                           /* between batch_begin and batch_end */
	uint8_t *buf;                            /* the pending block's entries */
	size_t len, cap;                         /* bytes used, allocated */
	uint64_t first, last, n;                 /* its first and last index, entries */
};

/* Why verification stopped.  Stable names via itd_audit_fault_name. */
enum itd_audit_fault {
	ITD_AUDIT_INTACT,            /* no fault: the chain holds */
	ITD_AUDIT_HASH_MISMATCH,     /* an entry's hash is not SHA-256 of its encoding */
	ITD_AUDIT_PREV_MISMATCH,     /* its prev_hash is not the previous entry's hash */
	ITD_AUDIT_MISSING,           /* indexes skip: entries deleted */
	ITD_AUDIT_TRUNCATED,         /* the chain ends before the external head */
	ITD_AUDIT_ORDER,             /* an entry sits under another index */
	ITD_AUDIT_MALFORMED,         /* a column has the wrong type or size */
	ITD_AUDIT_BAD_SIGNATURE,     /* a checkpoint's signature does not verify */
	ITD_AUDIT_BAD_CHECKPOINT,    /* a checkpoint does not sign the entry before it */
	ITD_AUDIT_NO_CHECKPOINT,     /* a checkpoint was due here and is absent */
	ITD_AUDIT_HEAD_MISMATCH,     /* the external head's entry has another hash */
};

/* The outcome of a verification. */
struct itd_audit_report {
	enum itd_audit_fault fault;              /* ITD_AUDIT_INTACT or the first fault */
	uint64_t bad_index;                      /* the first bad entry's index; 0 if intact */
	uint64_t missing_to;                     /* MISSING/TRUNCATED: last absent index */
	uint64_t n_verified;                     /* entries that held, before any fault */
	uint64_t n_checkpoints;                  /* checkpoint signatures that verified */
	uint64_t last_index;                     /* last entry that held; 0 if none */
	uint8_t last_hash[ITD_AUDIT_HASH_LEN];   /* its hash (zeros if none) */
	char why[96];                            /* e.g. "prev_hash does not match entry 6" */
};

/* A head recorded outside the database: the chain must reach entry
 * `index` and that entry's hash must be `hash`. */
struct itd_audit_head {
	uint64_t index;                          /* an entry index, >= 1 */
	uint8_t hash[ITD_AUDIT_HASH_LEN];        /* its hash */
};

/* Verification options; a zeroed struct is a plain chain check. */
struct itd_audit_verify_opts {
	const uint8_t *pubkey;                   /* ITD_AUDIT_PK_LEN bytes, or NULL */
	uint64_t checkpoint_every;               /* with pubkey: N, to require checkpoints; 0: don't */
	const struct itd_audit_head *head;       /* external head to check, or NULL */
};

/* ---------------------------------------------------------- encoding */

/* Stable lower-case name of a fault ("hash_mismatch"); "?" if unknown. */
const char *itd_audit_fault_name(enum itd_audit_fault f);

/* Write the canonical encoding of e (its hash field is ignored) into buf of
 * cap bytes; *len_out gets its length.  ITD_EINVAL if kind is NULL or
 * data is NULL with a non-zero length, ITD_ELIMIT if a field is over its
 * maximum, ITD_EFULL if cap is too small (ITD_AUDIT_ENC_MAX always
 * suffices).  *len_out is 0 on error.  Never allocates. */
int itd_audit_encode(const struct itd_audit_entry *e, uint8_t *buf, size_t cap, size_t *len_out);

/* SHA-256 of the canonical encoding of e into out, streamed: no buffer, no
 * allocation.  Errors as itd_audit_encode (out zeroed), or ITD_EINTERNAL
 * if libsodium cannot initialise. */
int itd_audit_hash(const struct itd_audit_entry *e, uint8_t out[ITD_AUDIT_HASH_LEN]);

/* ------------------------------------------------------------- chain */

/* An empty chain (genesis: index 0, zero hash), without a signer. */
void itd_audit_chain_init(struct itd_audit_chain *c);
/* Wipe the secret key.  The chain may be re-initialised afterwards. */
void itd_audit_chain_fini(struct itd_audit_chain *c);

/* Turn on checkpoints: sign one after every `every` entries (>= 1) with
 * the secret key sk (copied).  ITD_EINVAL if every is 0. */
int itd_audit_chain_set_signer(struct itd_audit_chain *c, const uint8_t sk[ITD_AUDIT_SK_LEN],
			       uint64_t every);

/* Append an entry: *out becomes *in with index = last + 1, prev_hash = the
 * last hash and hash computed, and the chain advances to it.  out's
 * pointers are in's (borrowed).  Never allocates.  Errors, with *out zeroed
 * and the chain unchanged: ITD_EINVAL (bad entry, or kind "checkpoint",
 * which only itd_audit_checkpoint makes), ITD_ELIMIT (a field over its
 * maximum), ITD_ESTATE (the chain is broken: its tail failed to restore),
 * ITD_ERANGE (the index would pass INT64_MAX, which SQLite cannot hold). */
int itd_audit_append(struct itd_audit_chain *c, const struct itd_audit_entry *in,
		     struct itd_audit_entry *out);

/* True if the chain has a signer and the next entry must be a checkpoint
 * (its index is a multiple of checkpoint_every + 1). */
bool itd_audit_checkpoint_due(const struct itd_audit_chain *c);

/* Append a signed checkpoint for the chain's last entry, stamped with tick
 * and time_ms.  out->data points into the chain (valid until the next
 * checkpoint).  Errors (out zeroed, chain unchanged): ITD_ESTATE without a
 * signer, on a broken chain or an empty one; ITD_EINTERNAL if signing
 * fails. */
int itd_audit_checkpoint(struct itd_audit_chain *c, uint64_t tick, int64_t time_ms,
			 struct itd_audit_entry *out);

/* Check a checkpoint's data as found at entry `index` whose prev_hash is
 * prev_hash: it must be ITD_AUDIT_CHECKPOINT_LEN bytes, name index-1 and
 * prev_hash, and carry a valid signature by pubkey.  Returns
 * ITD_AUDIT_INTACT, ITD_AUDIT_BAD_CHECKPOINT or ITD_AUDIT_BAD_SIGNATURE. */
enum itd_audit_fault itd_audit_checkpoint_check(const uint8_t pubkey[ITD_AUDIT_PK_LEN],
						uint64_t index,
						const uint8_t prev_hash[ITD_AUDIT_HASH_LEN],
						const uint8_t *data, size_t len);

/* The head a checkpoint's data vouches for (the entry before it), after
 * checking the signature with pubkey: what to keep outside the database
 * to detect truncation.  ITD_EVERIFY (head zeroed) if the data is not a
 * well-formed checkpoint signed by that key. */
int itd_audit_head_from_checkpoint(const uint8_t pubkey[ITD_AUDIT_PK_LEN], const uint8_t *data,
				   size_t len, struct itd_audit_head *head_out);

/* --------------------------------------------------------------- keys */

/* Write a new Ed25519 key pair: the secret key to path_secret (created
 * with mode 0600, fsync'd) and the public key to path_public (0644), both
 * as hex.  Neither file may exist (ITD_EEXISTS); ITD_EIO on a write
 * error, after which neither file is left behind. */
int itd_audit_keygen(const char *path_secret, const char *path_public);

/* Read a secret key file into sk_out.  ITD_ECONFIG if the file is not a
 * regular file or group/others have any access to it (the key is then
 * not even read); ITD_EPARSE if it is not 128 hex digits (plus an optional
 * newline) or not a valid Ed25519 secret key; ITD_EIO/ITD_ENOTFOUND if it
 * cannot be read.  sk_out is zeroed on error. */
int itd_audit_key_load_secret(const char *path, uint8_t sk_out[ITD_AUDIT_SK_LEN]);

/* Read a public key file (64 hex digits, optional newline) into pk_out.
 * ITD_EPARSE, ITD_EIO or ITD_ENOTFOUND on error, pk_out zeroed. */
int itd_audit_key_load_public(const char *path, uint8_t pk_out[ITD_AUDIT_PK_LEN]);

/* ------------------------------------------------------------ storage */

/* Storage.  Entries are kept in blocks: a row
 *
 *   audit_block(first INTEGER PRIMARY KEY, last INTEGER, entries BLOB)
 *
 * holds entries first..last back to back (the journal writes a tick's
 * entries as one block).  Each entry is, integers little-endian, no
 * padding:
 *
 *   u64 index | u64 tick | i64 time_ms | u32 kind_len | u32 subject_len |
 *   u32 actor_len | u32 data_len | kind NUL | subject NUL | actor NUL |
 *   data | prev_hash (32) | hash (32)
 *
 * the same fields as the canonical encoding above, so an auditor reads
 * the chain from this table with nothing but SHA-256.  The texts' lengths
 * exclude their NUL, and a text may hold no other NUL.  A row's first and
 * last say where to find an entry; the verifier checks them against the
 * entries.  One row per block instead of one per entry makes writing an
 * entry several times cheaper. */

/* Create the audit_block table if it does not exist.  Returns 0 or an
 * error mapped from SQLite (ITD_ENOMEM, ITD_EAGAIN when busy, ITD_EIO
 * otherwise). */
int itd_audit_schema(sqlite3 *db);

/* Prepare the statement on db (borrowed; it must outlive the store and
 * have the table).  On error *st is zeroed.  itd_audit_store_close
 * finalizes it and frees the block buffer; closing a zeroed store is a
 * no-op. */
int itd_audit_store_open(sqlite3 *db, struct itd_audit_store *st);
void itd_audit_store_close(struct itd_audit_store *st);

/* Collect the entries inserted from now on into one block, written as one
 * row by itd_audit_batch_end (which returns that insert's result; the
 * block is emptied either way).  Outside a batch every insert is a block
 * of its own. */
void itd_audit_batch_begin(struct itd_audit_store *st);
int itd_audit_batch_end(struct itd_audit_store *st);
/* End a batch without writing its block (the caller rolls back). */
void itd_audit_batch_drop(struct itd_audit_store *st);

/* Insert one entry (as made by itd_audit_append) in the caller's
 * transaction: into the pending block in a batch, else as its own row.
 * ITD_EEXISTS if a stored block reaches its index (blocks only append),
 * ITD_EINVAL for an entry that cannot be stored (or, in a batch, one not
 * after the block's last), ITD_ENOMEM, or a mapped SQLite error. */
int itd_audit_insert(struct itd_audit_store *st, const struct itd_audit_entry *e);

/* Append entry e in the storage layout to the buffer *buf (*len bytes
 * used of *cap, grown with itd_realloc).  ITD_EINVAL, ITD_ELIMIT as
 * itd_audit_encode, ITD_ENOMEM. */
int itd_audit_block_add(uint8_t **buf, size_t *len, size_t *cap, const struct itd_audit_entry *e);

/* Decode the entry at *p (before end) into e, whose pointers point into
 * the block, and move *p past it.  ITD_EVERIFY (e zeroed) if it is cut
 * short, a text holds a NUL or lacks its own, or a length is over its
 * maximum. */
int itd_audit_block_next(const uint8_t **p, const uint8_t *end, struct itd_audit_entry *e);

/* Append `in` to the chain and insert it; then, if one is due, append and
 * insert a checkpoint (stamped like `in`).  The chain advances past each
 * row only once it is inserted, so after an error it still matches the
 * table as the caller's transaction sees it (a checkpoint that failed is
 * made first by the next call).  *out (may be NULL) gets the entry as
 * appended, zeroed on error.  If the caller's transaction rolls back, the
 * chain is ahead of the table: restore it with itd_audit_tail.  Errors as
 * itd_audit_append, itd_audit_checkpoint and itd_audit_insert. */
int itd_audit_record(struct itd_audit_store *st, struct itd_audit_chain *c,
		     const struct itd_audit_entry *in, struct itd_audit_entry *out);

/* Restore the chain's index and hash from the table's last entry, after
 * recomputing that entry's own hash (the links before it are verify's
 * job).  An empty table gives the genesis state.  The signer settings are
 * kept.  On error the chain's index and hash are zeroed and it is marked
 * broken, so appends refuse with ITD_ESTATE until a tail succeeds:
 * ITD_EVERIFY if the last entry is malformed or its hash does not hold,
 * or a mapped SQLite error (ITD_EIO for a corrupt file). */
int itd_audit_tail(sqlite3 *db, struct itd_audit_chain *c);

/* Verify the whole chain in index order: each entry's hash, its link to
 * the previous one, indexes contiguous from 1, column types; with a public
 * key every checkpoint's signature.  Returns 0 if intact, ITD_EVERIFY if
 * not (out says where and why), or a mapped SQLite error (out zeroed).
 * Equivalent to itd_audit_verify_with and {.pubkey = pubkey}. */
int itd_audit_verify(sqlite3 *db, const uint8_t *pubkey, struct itd_audit_report *out);

/* As itd_audit_verify with options: with opts->pubkey and
 * checkpoint_every, an entry whose index is a multiple of every+1 must be
 * a checkpoint; with opts->head, the chain must reach head->index and that
 * entry's hash must be head->hash.  opts may be NULL. */
int itd_audit_verify_with(sqlite3 *db, const struct itd_audit_verify_opts *opts,
			  struct itd_audit_report *out);

#endif
