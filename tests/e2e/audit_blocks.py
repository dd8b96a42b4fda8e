"""The audit chain as stored in a data directory's `audit_block` table, read
and written by the layout store_audit.h documents ("Storage"), the way an
auditor's own tool (or an attacker) would: standard library only.

Each row is (first, last, entries); entries are back to back, each
  u64 index | u64 tick | i64 time_ms | u32 kind_len | u32 subject_len |
  u32 actor_len | u32 data_len | kind NUL | subject NUL | actor NUL | data |
  prev_hash (32) | hash (32)
little-endian."""
import os
import sqlite3
import struct

HDR = struct.Struct("<QQqIIII")


def decode(blob):
    """The entries of one block, as dicts."""
    out, p = [], 0
    while p < len(blob):
        idx, tick, time_ms, kl, sl, al, dl = HDR.unpack_from(blob, p)
        p += HDR.size
        texts = []
        for n in (kl, sl, al):
            texts.append(blob[p:p + n].decode())
            p += n + 1
        data = bytes(blob[p:p + dl])
        p += dl
        out.append({"idx": idx, "tick": tick, "time_ms": time_ms, "kind": texts[0],
                    "subject": texts[1], "actor": texts[2], "data": data,
                    "prev_hash": bytes(blob[p:p + 32]), "hash": bytes(blob[p + 32:p + 64])})
        p += 64
    return out


def encode(entries):
    """A block's bytes for these entries."""
    parts = []
    for e in entries:
        k, s, a = (e[f].encode() for f in ("kind", "subject", "actor"))
        parts.append(HDR.pack(e["idx"], e["tick"], e["time_ms"], len(k), len(s), len(a),
                              len(e["data"])))
        parts += [k, b"\0", s, b"\0", a, b"\0", e["data"], e["prev_hash"], e["hash"]]
    return b"".join(parts)


def connect(data_dir):
    return sqlite3.connect(os.path.join(data_dir, "intentd.db"))


def read_blocks(data_dir):
    """[(first, [entry, ...]), ...] in chain order."""
    c = connect(data_dir)
    try:
        rows = c.execute("SELECT first, entries FROM audit_block ORDER BY first").fetchall()
    finally:
        c.close()
    return [(first, decode(blob)) for first, blob in rows]


def entries(data_dir):
    """Every entry, in chain order."""
    return [e for _, es in read_blocks(data_dir) for e in es]


def write_blocks(data_dir, blocks):
    """Replace the table with these blocks (a block left empty goes), each
    with the bounds of what it holds."""
    c = connect(data_dir)
    try:
        c.execute("DELETE FROM audit_block")
        for _, es in blocks:
            if es:
                c.execute("INSERT INTO audit_block(first, last, entries) VALUES(?, ?, ?)",
                          (es[0]["idx"], es[-1]["idx"], encode(es)))
        c.commit()
    finally:
        c.close()


def edit(data_dir, fn):
    """Apply fn(entry) to every entry; it returns the entry to keep (changed
    or not) or None to delete it."""
    blocks = [(first, [k for k in (fn(e) for e in es) if k is not None])
              for first, es in read_blocks(data_dir)]
    write_blocks(data_dir, blocks)
