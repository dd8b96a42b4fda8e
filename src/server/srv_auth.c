/* srv_auth.c: bearer tokens with roles (viewer < operator < admin) from a
 * YAML tokens file, from the environment, or generated at first start and
 * kept in a private file.  Only SHA-256 digests of the secrets are kept, and
 * a check compares against every token in constant time. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "core/core.h"
#include "srv_int.h"

#define MIN_SECRET 16      /* bytes a configured secret must have at least */
#define GEN_BYTES 32       /* random bytes in a generated admin token */
#define MAX_FILE (1 << 20) /* a tokens file larger than this is a mistake */

static const char *const role_names[] = {"open", "viewer", "operator", "admin"};

const char *srv_role_name(enum srv_role r)
{
	return (unsigned)r < sizeof role_names / sizeof role_names[0] ? role_names[r] : "unknown";
}

int srv_role_parse(const char *name)
{
	for (int r = SRV_OPEN; r <= SRV_ADMIN; r++)
		if (name && !strcmp(name, role_names[r]))
			return r;
	return -1;
}

static void __attribute__((format(printf, 3, 4))) say(char *err, size_t cap, const char *fmt, ...)
{
	if (!err || !cap)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, cap, fmt, ap);
	va_end(ap);
}

/* Append a token (name copied, secret hashed and not kept).  Returns 0,
 * ITD_ENOMEM, or ITD_ECONFIG (message in err) when the name or the secret
 * is already taken: two tokens with one name would make the audit trail
 * ambiguous, two with one secret would make the role ambiguous. */
static int add_token(struct srv_auth *a, size_t *cap, const char *name, enum srv_role role,
		     const uint8_t digest[ITD_SHA256_LEN], const char *where, char *err, size_t ecap)
{
	for (size_t i = 0; i < a->n; i++) {
		if (!strcmp(a->tokens[i].name, name)) {
			say(err, ecap, "%s: duplicate token name '%s'", where, name);
			return ITD_ECONFIG;
		}
		if (!sodium_memcmp(a->tokens[i].digest, digest, ITD_SHA256_LEN)) {
			say(err, ecap, "%s: token '%s' has the same secret as '%s'", where, name,
			    a->tokens[i].name);
			return ITD_ECONFIG;
		}
	}
	if (a->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct srv_token *t = itd_realloc(a->tokens, ncap * sizeof *t);
		if (!t)
			return ITD_ENOMEM;
		a->tokens = t;
		*cap = ncap;
	}
	struct srv_token *t = &a->tokens[a->n++];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	t->role = role;
	memcpy(t->digest, digest, ITD_SHA256_LEN);
	return ITD_OK;
}

/* ------------------------------------------------------- tokens file */

/* One entry of the list while it is parsed.  The secret itself is hashed
 * as soon as it is read. */
struct entry {
	yaml_mark_t start;              /* the entry's mapping */
	char name[ITD_ACTOR_LEN];       /* "name", "" if absent */
	yaml_mark_t name_at;
	int role;                       /* -1 if absent */
	bool has_token, has_env;        /* which secret source was given */
	yaml_mark_t secret_at;          /* where the secret (or its variable) is */
	uint8_t digest[ITD_SHA256_LEN]; /* of the secret */
	size_t secret_len;              /* its length, for the minimum */
	char env[128];                  /* token_env's variable name */
	unsigned seen;                  /* keys given (bit per key) */
};

static const char *const entry_keys[] = {"name", "role", "token", "token_env"};

struct fparse {
	struct srv_auth *a;
	size_t *cap;
	const char *file;
	char *err;
	size_t ecap;
};

static int at(struct fparse *f, yaml_mark_t m, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Report "FILE:LINE:COL: message"; returns ITD_ECONFIG. */
static int at(struct fparse *f, yaml_mark_t m, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	say(f->err, f->ecap, "%s:%zu:%zu: %s", f->file, m.line + 1, m.column + 1, msg);
	return ITD_ECONFIG;
}

static bool valid_name(const char *s, size_t len)
{
	if (len < 1 || len >= ITD_ACTOR_LEN)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_' && s[i] != '.' && s[i] != '-')
			return false;
	return true;
}

/* One "key: value" of an entry; the value's scalar is wiped afterwards by
 * the caller, since it may be a secret. */
static int entry_value(struct fparse *f, struct entry *e, const char *key, yaml_mark_t key_at,
		       const yaml_event_t *v)
{
	size_t k = 0, nk = sizeof entry_keys / sizeof entry_keys[0];
	while (k < nk && strcmp(key, entry_keys[k]))
		k++;
	if (k == nk)
		return at(f, key_at, "unknown key '%.40s' (allowed: name, role, token, token_env)",
			  key);
	if (e->seen & (1u << k))
		return at(f, key_at, "duplicate key '%s'", key);
	e->seen |= 1u << k;
	if (v->type != YAML_SCALAR_EVENT)
		return at(f, v->start_mark, "'%s' must be a single value", key);
	const char *s = (const char *)v->data.scalar.value;
	size_t len = v->data.scalar.length;
	switch (k) {
	case 0:
		if (!valid_name(s, len) || strlen(s) != len)
			return at(f, v->start_mark,
				  "name '%.40s' must be 1 to %d characters of A-Z a-z 0-9 _ . -", s,
				  ITD_ACTOR_LEN - 1);
		memcpy(e->name, s, len + 1);
		e->name_at = v->start_mark;
		return ITD_OK;
	case 1:
		e->role = srv_role_parse(s);
		if (e->role <= SRV_OPEN)
			return at(f, v->start_mark,
				  "role '%.40s' is not one of viewer, operator, admin", s);
		return ITD_OK;
	case 2:
		e->has_token = true;
		e->secret_at = v->start_mark;
		e->secret_len = len;
		return itd_sha256(s, len, e->digest);
	default:
		if (!len || len >= sizeof e->env || strlen(s) != len)
			return at(f, v->start_mark, "token_env must name an environment variable");
		e->has_env = true;
		e->secret_at = v->start_mark;
		memcpy(e->env, s, len + 1);
		return ITD_OK;
	}
}

/* The entry's mapping ended: check it is complete and add it. */
static int entry_done(struct fparse *f, struct entry *e)
{
	if (!e->name[0])
		return at(f, e->start, "token entry has no 'name'");
	if (e->role < 0)
		return at(f, e->start, "token '%s' has no 'role' (viewer, operator or admin)",
			  e->name);
	if (e->has_token == e->has_env)
		return at(f, e->start, "token '%s': give exactly one of 'token' and 'token_env'",
			  e->name);
	if (e->has_env) {
		const char *v = getenv(e->env);
		if (!v || !*v)
			return at(f, e->secret_at,
				  "token '%s': environment variable %s is not set or empty", e->name,
				  e->env);
		e->secret_len = strlen(v);
		int rc = itd_sha256(v, e->secret_len, e->digest);
		if (rc)
			return rc;
	}
	if (e->secret_len < MIN_SECRET)
		return at(f, e->secret_at,
			  "token '%s' is %zu bytes long; at least %d are required", e->name,
			  e->secret_len, MIN_SECRET);
	char where[600];
	snprintf(where, sizeof where, "%s:%zu:%zu", f->file, e->name_at.line + 1,
		 e->name_at.column + 1);
	int rc = add_token(f->a, f->cap, e->name, (enum srv_role)e->role, e->digest, where, f->err,
			   f->ecap);
	sodium_memzero(e->digest, sizeof e->digest);
	return rc;
}

/* Where the parse is in the expected document:
 *   { tokens: [ {name:, role:, token: | token_env:}, ... ] } */
enum level { L_TOP, L_ROOT, L_LIST, L_ENTRY, L_DONE };

/* Wipe a scalar's text before libyaml frees it: it may be a secret. */
static void wipe_event(yaml_event_t *ev)
{
	if (ev->type == YAML_SCALAR_EVENT && ev->data.scalar.value)
		sodium_memzero(ev->data.scalar.value, ev->data.scalar.length);
}

static int next(struct fparse *f, yaml_parser_t *p, yaml_event_t *ev)
{
	if (yaml_parser_parse(p, ev))
		return ITD_OK;
	if (p->error == YAML_MEMORY_ERROR)
		return ITD_ENOMEM;
	yaml_mark_t m = p->problem_mark;
	return at(f, m, "YAML syntax error: %s", p->problem ? p->problem : "invalid YAML");
}

/* Walk the event stream of the tokens file. */
static int parse_events(struct fparse *f, yaml_parser_t *p)
{
	enum level lv = L_TOP;
	struct entry e = {0};
	bool have_list = false;
	size_t n_entries = 0;
	char key[64] = "";
	yaml_mark_t key_at = {0, 0, 0};
	yaml_event_t ev;
	int rc = ITD_OK;

	for (;;) {
		if ((rc = next(f, p, &ev)))
			return rc;
		yaml_event_type_t t = ev.type;
		yaml_mark_t m = ev.start_mark;
		if (t == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (t == YAML_ALIAS_EVENT) {
			rc = at(f, m, "aliases are not supported");
		} else if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_START_EVENT ||
			   t == YAML_DOCUMENT_END_EVENT) {
			if (t == YAML_DOCUMENT_START_EVENT && lv == L_DONE)
				rc = at(f, m, "only one YAML document is allowed");
		} else if (lv == L_TOP) {
			if (t != YAML_MAPPING_START_EVENT)
				rc = at(f, m, "expected a mapping with a 'tokens' list");
			lv = L_ROOT;
		} else if (lv == L_ROOT && t == YAML_MAPPING_END_EVENT) {
			lv = L_DONE;
		} else if (lv == L_ROOT && !key[0]) {
			const char *s = (const char *)ev.data.scalar.value;
			if (t != YAML_SCALAR_EVENT || strcmp(s, "tokens"))
				rc = at(f, m, "unknown key '%.40s' (allowed: tokens)",
					t == YAML_SCALAR_EVENT ? s : "?");
			else if (have_list)
				rc = at(f, m, "duplicate key 'tokens'");
			snprintf(key, sizeof key, "tokens");
		} else if (lv == L_ROOT) {
			if (t != YAML_SEQUENCE_START_EVENT)
				rc = at(f, m, "'tokens' must be a list of {name, role, token}");
			have_list = true;
			key[0] = '\0';
			lv = L_LIST;
		} else if (lv == L_LIST && t == YAML_SEQUENCE_END_EVENT) {
			lv = L_ROOT;
		} else if (lv == L_LIST) {
			if (t != YAML_MAPPING_START_EVENT)
				rc = at(f, m, "each token must be a mapping {name, role, token}");
			memset(&e, 0, sizeof e);
			e.role = -1;
			e.start = m;
			n_entries++;
			lv = L_ENTRY;
		} else if (lv == L_ENTRY && t == YAML_MAPPING_END_EVENT) {
			rc = entry_done(f, &e);
			lv = L_LIST;
		} else if (lv == L_ENTRY && !key[0]) {
			if (t != YAML_SCALAR_EVENT || !ev.data.scalar.length)
				rc = at(f, m, "expected a key (name, role, token, token_env)");
			else
				snprintf(key, sizeof key, "%s", (const char *)ev.data.scalar.value);
			key_at = m;
		} else if (lv == L_ENTRY) {
			rc = entry_value(f, &e, key, key_at, &ev);
			key[0] = '\0';
		} else {
			rc = at(f, m, "unexpected content after the 'tokens' mapping");
		}
		wipe_event(&ev);
		yaml_event_delete(&ev);
		if (rc)
			break;
	}
	if (lv == L_ENTRY)
		sodium_memzero(&e, sizeof e);
	if (!rc && !n_entries) {
		yaml_mark_t top = {0, 0, 0};
		rc = at(f, top, "no tokens defined (expected 'tokens:' with at least one entry)");
	}
	return rc;
}

/* Read the whole file (regular, ours or root's, not readable by others)
 * into *buf (caller wipes and frees). */
static int read_private(const char *path, char **buf, size_t *len, char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		say(err, cap, "%s: cannot open: %s", path, strerror(errno));
		return ITD_ECONFIG;
	}
	struct stat st;
	int rc = ITD_ECONFIG;
	*buf = NULL;
	if (fstat(fd, &st)) {
		say(err, cap, "%s: %s", path, strerror(errno));
		rc = ITD_EIO;
		goto out;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > MAX_FILE) {
		say(err, cap, "%s: not a regular file of at most %d bytes", path, MAX_FILE);
		goto out;
	}
	if (st.st_mode & 077) {
		say(err, cap, "%s: permissions %04o are too open (chmod 600)", path,
		    (unsigned)(st.st_mode & 07777));
		goto out;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		say(err, cap, "%s: owned by uid %u, not by us (uid %u) or root", path,
		    (unsigned)st.st_uid, (unsigned)geteuid());
		goto out;
	}
	*buf = itd_malloc((size_t)st.st_size + 1);
	if (!*buf) {
		rc = ITD_ENOMEM;
		goto out;
	}
	size_t n = 0;
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, *buf + n, (size_t)st.st_size - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	if (n != (size_t)st.st_size) {
		say(err, cap, "%s: read error: %s", path, strerror(errno));
		sodium_memzero(*buf, n);
		itd_free(*buf);
		*buf = NULL;
		rc = ITD_EIO;
		goto out;
	}
	(*buf)[n] = '\0';
	*len = n;
	rc = ITD_OK;
out:
	close(fd);
	return rc;
}

static int load_file(struct srv_auth *a, size_t *cap, const char *path, char *err, size_t ecap)
{
	char *text;
	size_t len;
	int rc = read_private(path, &text, &len, err, ecap);
	if (rc)
		return rc;
	struct fparse f = {.a = a, .cap = cap, .file = path, .err = err, .ecap = ecap};
	yaml_parser_t p;
	if (!yaml_parser_initialize(&p)) {
		rc = ITD_ENOMEM;
	} else {
		yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
		yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
		rc = parse_events(&f, &p);
		/* The parser's buffers hold the decoded text, secrets included. */
		if (p.buffer.start)
			sodium_memzero(p.buffer.start, (size_t)(p.buffer.end - p.buffer.start));
		if (p.raw_buffer.start)
			sodium_memzero(p.raw_buffer.start,
				       (size_t)(p.raw_buffer.end - p.raw_buffer.start));
		yaml_parser_delete(&p);
	}
	sodium_memzero(text, len);
	itd_free(text);
	return rc;
}

/* ------------------------------------------------------- environment */

static int load_env(struct srv_auth *a, size_t *cap, char *err, size_t ecap)
{
	static const struct {
		const char *var, *name;
		enum srv_role role;
	} env[] = {
		{"INTENTD_ADMIN_TOKEN", "admin", SRV_ADMIN},
		{"INTENTD_OPERATOR_TOKEN", "operator", SRV_OPERATOR},
		{"INTENTD_VIEWER_TOKEN", "viewer", SRV_VIEWER},
	};
	for (size_t i = 0; i < sizeof env / sizeof env[0]; i++) {
		const char *v = getenv(env[i].var);
		if (!v || !*v)
			continue;
		size_t len = strlen(v);
		if (len < MIN_SECRET) {
			say(err, ecap, "%s is %zu bytes long; at least %d are required", env[i].var,
			    len, MIN_SECRET);
			return ITD_ECONFIG;
		}
		uint8_t d[ITD_SHA256_LEN];
		int rc = itd_sha256(v, len, d);
		if (!rc)
			rc = add_token(a, cap, env[i].name, env[i].role, d, env[i].var, err, ecap);
		sodium_memzero(d, sizeof d);
		if (rc)
			return rc;
	}
	return ITD_OK;
}

/* --------------------------------------------------- generated token */

/* Make sure dir exists.  A private runtime directory (strict) must be a
 * real directory, ours, mode 0700; a data directory is created 0700 when
 * missing and otherwise left as its owner set it up. */
static int private_dir(const char *dir, bool strict, char *err, size_t cap)
{
	if (mkdir(dir, 0700) && errno != EEXIST) {
		say(err, cap, "%s: cannot create directory: %s", dir, strerror(errno));
		return ITD_EIO;
	}
	struct stat st;
	if (lstat(dir, &st)) {
		say(err, cap, "%s: %s", dir, strerror(errno));
		return ITD_EIO;
	}
	if (strict && (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077))) {
		say(err, cap,
		    "%s: refusing to use it for the admin token: it must be a directory (not a "
		    "symlink) owned by uid %u with mode 0700 (it is %s, uid %u, mode %04o)",
		    dir, (unsigned)geteuid(),
		    S_ISLNK(st.st_mode) ? "a symlink" : S_ISDIR(st.st_mode) ? "a directory" : "a file",
		    (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
		return ITD_ECONFIG;
	}
	if (!strict && stat(dir, &st) == 0 && !S_ISDIR(st.st_mode)) {
		say(err, cap, "%s: not a directory", dir);
		return ITD_ECONFIG;
	}
	return ITD_OK;
}

/* Read an admin token written by an earlier start; ITD_ENOTFOUND if there
 * is none. */
static int reuse_token(const char *path, uint8_t digest[ITD_SHA256_LEN], char *err, size_t cap)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return ITD_ENOTFOUND;
		say(err, cap, "%s: cannot open: %s%s", path, strerror(e),
		    e == ELOOP ? " (a symlink: refusing it)" : "");
		return e == ELOOP ? ITD_ECONFIG : ITD_EIO;
	}
	struct stat st;
	char buf[256];
	ssize_t n = -1;
	int rc = ITD_ECONFIG;
	if (fstat(fd, &st)) {
		say(err, cap, "%s: %s", path, strerror(errno));
		rc = ITD_EIO;
	} else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 07777) != 0600) {
		say(err, cap,
		    "%s: refusing the admin token file: it must be a regular file owned by uid %u "
		    "with mode 0600 (it has uid %u, mode %04o); fix it or remove it for a new token",
		    path, (unsigned)geteuid(), (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777));
	} else if ((n = read(fd, buf, sizeof buf - 1)) < 0) {
		say(err, cap, "%s: read error: %s", path, strerror(errno));
		rc = ITD_EIO;
	} else {
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
			n--;
		if (n < MIN_SECRET)
			say(err, cap, "%s: the admin token in it is shorter than %d bytes; remove "
				      "the file for a new token", path, MIN_SECRET);
		else
			rc = itd_sha256(buf, (size_t)n, digest);
	}
	sodium_memzero(buf, sizeof buf);
	close(fd);
	return rc;
}

/* Write a fresh random admin token to path (mode 0600, exclusive). */
static int write_token(const char *path, uint8_t digest[ITD_SHA256_LEN], char *err, size_t cap)
{
	uint8_t raw[GEN_BYTES];
	char hex[2 * GEN_BYTES + 2];
	if (sodium_init() < 0)
		return ITD_EINTERNAL;
	randombytes_buf(raw, sizeof raw);
	itd_hex(raw, sizeof raw, hex);
	sodium_memzero(raw, sizeof raw);
	size_t len = 2 * GEN_BYTES;
	int rc = itd_sha256(hex, len, digest);
	hex[len] = '\n';
	int fd = rc ? -1 : open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (!rc && fd < 0) {
		int e = errno;
		say(err, cap, "%s: cannot create: %s", path, strerror(e));
		rc = e == EEXIST ? ITD_EEXISTS : ITD_EIO;
	}
	if (fd >= 0) {
		size_t off = 0;
		while (off < len + 1) {
			ssize_t w = write(fd, hex + off, len + 1 - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break;
			off += (size_t)w;
		}
		if (off != len + 1 || fchmod(fd, 0600) || fsync(fd)) {
			say(err, cap, "%s: cannot write: %s", path, strerror(errno));
			rc = ITD_EIO;
		}
		if (close(fd) && !rc) {
			say(err, cap, "%s: cannot write: %s", path, strerror(errno));
			rc = ITD_EIO;
		}
		if (rc)
			unlink(path);
	}
	sodium_memzero(hex, sizeof hex);
	return rc;
}

static int generate(struct srv_auth *a, size_t *cap, const char *data_dir, char *err,
		    size_t ecap)
{
	char dir[sizeof a->generated_path - 16];
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	bool strict = !data_dir;
	int n;
	if (data_dir)
		n = snprintf(dir, sizeof dir, "%s", data_dir);
	else if (xdg && xdg[0] == '/')
		n = snprintf(dir, sizeof dir, "%s/intentd", xdg);
	else
		n = snprintf(dir, sizeof dir, "/tmp/intentd-%u", (unsigned)geteuid());
	if (n < 0 || (size_t)n >= sizeof dir) {
		say(err, ecap, "%s: directory name too long for the admin token", dir);
		return ITD_ECONFIG;
	}
	int rc = private_dir(dir, strict, err, ecap);
	if (rc)
		return rc;
	char path[sizeof a->generated_path];
	snprintf(path, sizeof path, "%s/admin.token", dir);

	uint8_t d[ITD_SHA256_LEN];
	/* Another server may create the file between our look and our write:
	 * then the second look finds it. */
	for (int attempt = 0; attempt < 2; attempt++) {
		rc = reuse_token(path, d, err, ecap);
		if (rc != ITD_ENOTFOUND)
			break;
		rc = write_token(path, d, err, ecap);
		if (rc != ITD_EEXISTS)
			break;
	}
	if (!rc)
		rc = add_token(a, cap, "admin", SRV_ADMIN, d, path, err, ecap);
	sodium_memzero(d, sizeof d);
	if (!rc)
		snprintf(a->generated_path, sizeof a->generated_path, "%s", path);
	return rc;
}

/* ---------------------------------------------------------------- api */

int srv_auth_init(struct srv_auth *a, const struct itd_server_config *cfg, char *err, size_t cap)
{
	size_t tcap = 0;
	int rc = ITD_OK;
	memset(a, 0, sizeof *a);
	if (err && cap)
		err[0] = '\0';
	if (cfg->tokens_file)
		rc = load_file(a, &tcap, cfg->tokens_file, err, cap);
	if (!rc)
		rc = load_env(a, &tcap, err, cap);
	if (!rc && !a->n)
		rc = generate(a, &tcap, cfg->data_dir, err, cap);
	if (rc == ITD_ENOMEM)
		say(err, cap, "out of memory");
	if (rc)
		srv_auth_fini(a);
	return rc;
}

void srv_auth_fini(struct srv_auth *a)
{
	if (a->tokens)
		sodium_memzero(a->tokens, a->n * sizeof *a->tokens);
	itd_free(a->tokens);
	memset(a, 0, sizeof *a);
}

const struct srv_token *srv_auth_check(const struct srv_auth *a, const char *header)
{
	if (!a || !a->n || !header || strncasecmp(header, "Bearer ", 7))
		return NULL;
	const char *secret = header + 7;
	if (!*secret || *secret == ' ')
		return NULL;
	uint8_t d[ITD_SHA256_LEN];
	if (itd_sha256(secret, strlen(secret), d))
		return NULL;
	/* Every digest is compared, and the match is selected with masks, so
	 * the time taken does not depend on which token matched (if any). */
	size_t found = 0, idx = 0;
	for (size_t i = 0; i < a->n; i++) {
		size_t eq = (size_t)(sodium_memcmp(d, a->tokens[i].digest, sizeof d) + 1);
		size_t mask = (size_t)0 - eq;
		idx = (idx & ~mask) | (i & mask);
		found |= eq;
	}
	sodium_memzero(d, sizeof d);
	return found ? &a->tokens[idx] : NULL;
}
