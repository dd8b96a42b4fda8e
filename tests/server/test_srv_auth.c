/* test_srv_auth.c: tokens from a file (every error reported as
 * FILE:LINE:COL), from the environment and generated; the bearer check;
 * every allocation failure of a load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"
#include "server/srv_int.h"
#include "test_support.h"

#define ALICE "s3cr3t-at-least-16-chars"
#define GRAFANA "grafana-secret-0123456789"

static char *tmp;

static void clear_env(void)
{
	unsetenv("INTENTD_ADMIN_TOKEN");
	unsetenv("INTENTD_OPERATOR_TOKEN");
	unsetenv("INTENTD_VIEWER_TOKEN");
	unsetenv("GRAFANA_TOKEN");
	unsetenv("ITD_TEST_UNSET_VAR");
}

/* Write text to tmp/name with mode; returns the path (static buffer). */
static const char *put(const char *name, const char *text, mode_t mode)
{
	static char path[4096];
	snprintf(path, sizeof path, "%s/%s", tmp, name);
	unlink(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, mode), 0);
	return path;
}

static int init_file(struct srv_auth *a, const char *path, char *err, size_t cap)
{
	struct itd_server_config cfg = {.tokens_file = path};
	return srv_auth_init(a, &cfg, err, cap);
}

static const struct srv_token *check(const struct srv_auth *a, const char *secret)
{
	char h[256];
	snprintf(h, sizeof h, "Bearer %s", secret);
	return srv_auth_check(a, h);
}

static const char good_file[] =
	"# who may do what\n"
	"tokens:\n"
	"  - { name: alice, role: operator, token: \"" ALICE "\" }\n"
	"  - { name: grafana, role: viewer, token_env: GRAFANA_TOKEN }\n"
	"  - name: root.ops-1\n"
	"    role: admin\n"
	"    token: admin-secret-0123456789\n";

static void test_roles(void **state)
{
	(void)state;
	assert_string_equal(srv_role_name(SRV_OPEN), "open");
	assert_string_equal(srv_role_name(SRV_VIEWER), "viewer");
	assert_string_equal(srv_role_name(SRV_OPERATOR), "operator");
	assert_string_equal(srv_role_name(SRV_ADMIN), "admin");
	assert_int_equal(srv_role_parse("viewer"), SRV_VIEWER);
	assert_int_equal(srv_role_parse("operator"), SRV_OPERATOR);
	assert_int_equal(srv_role_parse("admin"), SRV_ADMIN);
	assert_int_equal(srv_role_parse("Admin"), -1);
	assert_int_equal(srv_role_parse("root"), -1);
	assert_int_equal(srv_role_parse(NULL), -1);
	assert_true(SRV_VIEWER < SRV_OPERATOR && SRV_OPERATOR < SRV_ADMIN);
}

static void test_good_file(void **state)
{
	(void)state;
	clear_env();
	setenv("GRAFANA_TOKEN", GRAFANA, 1);
	struct srv_auth a;
	char err[512];
	const char *path = put("tokens.yaml", good_file, 0600);
	assert_int_equal(init_file(&a, path, err, sizeof err), 0);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.generated_path, "");

	const struct srv_token *t = check(&a, ALICE);
	assert_non_null(t);
	assert_string_equal(t->name, "alice");
	assert_int_equal(t->role, SRV_OPERATOR);
	t = check(&a, GRAFANA);
	assert_non_null(t);
	assert_string_equal(t->name, "grafana");
	assert_int_equal(t->role, SRV_VIEWER);
	t = check(&a, "admin-secret-0123456789");
	assert_non_null(t);
	assert_string_equal(t->name, "root.ops-1");
	assert_int_equal(t->role, SRV_ADMIN);
	/* The environment variable is read at load: changing it later does
	 * not change the token. */
	setenv("GRAFANA_TOKEN", "another-secret-0123456789", 1);
	assert_non_null(check(&a, GRAFANA));
	assert_null(check(&a, "another-secret-0123456789"));
	/* No secret is kept in the clear. */
	for (size_t i = 0; i < a.n; i++)
		assert_null(memmem(&a.tokens[i], sizeof a.tokens[i], ALICE, 8));
	srv_auth_fini(&a);
	assert_int_equal(a.n, 0);
	assert_null(a.tokens);
	clear_env();
}

/* Each bad file gives ITD_ECONFIG and exactly this "FILE:LINE:COL: ..." */
static void test_file_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"tokens:\n  - name: alice\n    role: operator\n    colour: blue\n",
		 "4:5: unknown key 'colour' (allowed: name, role, token, token_env)"},
		{"tokens:\n  - name: alice\n    role: boss\n    token: " ALICE "\n",
		 "3:11: role 'boss' is not one of viewer, operator, admin"},
		{"tokens:\n  - name: alice\n    role: open\n    token: " ALICE "\n",
		 "3:11: role 'open' is not one of viewer, operator, admin"},
		{"tokens:\n  - name: alice\n    role: viewer\n    token: short\n",
		 "4:12: token 'alice' is 5 bytes long; at least 16 are required"},
		{"tokens:\n  - name: alice\n    role: viewer\n    token: " ALICE
		 "\n    token_env: GRAFANA_TOKEN\n",
		 "2:5: token 'alice': give exactly one of 'token' and 'token_env'"},
		{"tokens:\n  - name: alice\n    role: viewer\n",
		 "2:5: token 'alice': give exactly one of 'token' and 'token_env'"},
		{"tokens:\n  - name: alice\n    role: viewer\n    token_env: ITD_TEST_UNSET_VAR\n",
		 "4:16: token 'alice': environment variable ITD_TEST_UNSET_VAR is not set or empty"},
		{"tokens:\n  - name: \"al ice\"\n    role: viewer\n    token: " ALICE "\n",
		 "2:11: name 'al ice' must be 1 to 31 characters of A-Z a-z 0-9 _ . -"},
		{"tokens:\n  - name: abcdefghijklmnopqrstuvwxyz012345\n    role: viewer\n",
		 "2:11: name 'abcdefghijklmnopqrstuvwxyz012345' must be 1 to 31 characters of "
		 "A-Z a-z 0-9 _ . -"},
		{"tokens:\n  - {name: alice, role: viewer, token: " ALICE "}\n"
		 "  - {name: alice, role: admin, token: other-secret-0123456789}\n",
		 "3:12: duplicate token name 'alice'"},
		{"tokens:\n  - {name: alice, role: viewer, token: " ALICE "}\n"
		 "  - {name: bob, role: admin, token: " ALICE "}\n",
		 "3:12: token 'bob' has the same secret as 'alice'"},
		{"tokens:\n  - role: viewer\n    token: " ALICE "\n", "2:5: token entry has no 'name'"},
		{"tokens:\n  - name: alice\n    token: " ALICE "\n",
		 "2:5: token 'alice' has no 'role' (viewer, operator or admin)"},
		{"tokens:\n  - name: alice\n    name: bob\n", "3:5: duplicate key 'name'"},
		{"tokens:\n  - name: [alice]\n", "2:11: 'name' must be a single value"},
		{"token:\n  - name: alice\n", "1:1: unknown key 'token' (allowed: tokens)"},
		{"tokens: alice\n", "1:9: 'tokens' must be a list of {name, role, token}"},
		{"tokens:\n  - alice\n", "2:5: each token must be a mapping {name, role, token}"},
		{"tokens: []\n",
		 "1:1: no tokens defined (expected 'tokens:' with at least one entry)"},
		{"- alice\n", "1:1: expected a mapping with a 'tokens' list"},
		{"tokens:\n  - &a {name: alice, role: viewer, token: " ALICE "}\n  - *a\n",
		 "3:5: aliases are not supported"},
		{"tokens:\n  - {name: alice, role: viewer\n",
		 "3:1: YAML syntax error: did not find expected ',' or '}'"},
	};
	clear_env();
	setenv("GRAFANA_TOKEN", GRAFANA, 1);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct srv_auth a;
		char err[512], want[1024];
		const char *path = put("bad.yaml", cases[i].text, 0600);
		snprintf(want, sizeof want, "%s:%s", path, cases[i].want);
		int rc = init_file(&a, path, err, sizeof err);
		if (rc != ITD_ECONFIG || strcmp(err, want))
			fail_msg("case %zu: rc %d, got\n  '%s', wanted\n  '%s'", i, rc, err, want);
		assert_int_equal(a.n, 0);
		assert_null(a.tokens);
	}
	clear_env();
}

static void test_file_permissions(void **state)
{
	(void)state;
	clear_env();
	setenv("GRAFANA_TOKEN", GRAFANA, 1);
	struct srv_auth a;
	char err[512], want[1024];
	static const mode_t modes[] = {0644, 0640, 0604, 0660};
	for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
		const char *path = put("open.yaml", good_file, modes[i]);
		snprintf(want, sizeof want, "%s: permissions %04o are too open (chmod 600)", path,
			 (unsigned)modes[i]);
		assert_int_equal(init_file(&a, path, err, sizeof err), ITD_ECONFIG);
		assert_string_equal(err, want);
		assert_int_equal(a.n, 0);
	}
	/* Owner-only modes are fine, read-only too. */
	const char *path = put("ro.yaml", good_file, 0400);
	assert_int_equal(init_file(&a, path, err, sizeof err), 0);
	srv_auth_fini(&a);
	/* A missing file is a configuration error that names it. */
	snprintf(want, sizeof want, "%s/missing.yaml", tmp);
	assert_int_equal(init_file(&a, want, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "missing.yaml: cannot open: No such file"));
	clear_env();
}

static void test_env_tokens(void **state)
{
	(void)state;
	clear_env();
	struct srv_auth a;
	struct itd_server_config cfg = {0};
	char err[512];
	setenv("INTENTD_OPERATOR_TOKEN", "operator-secret-0123456789", 1);
	setenv("INTENTD_VIEWER_TOKEN", "viewer-secret-0123456789", 1);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.generated_path, "");
	const struct srv_token *t = check(&a, "operator-secret-0123456789");
	assert_non_null(t);
	assert_string_equal(t->name, "operator");
	assert_int_equal(t->role, SRV_OPERATOR);
	t = check(&a, "viewer-secret-0123456789");
	assert_non_null(t);
	assert_string_equal(t->name, "viewer");
	assert_int_equal(t->role, SRV_VIEWER);
	assert_null(check(&a, "admin-secret-0123456789"));
	srv_auth_fini(&a);

	/* File and environment together. */
	setenv("INTENTD_ADMIN_TOKEN", "admin-env-secret-0123456789", 1);
	setenv("GRAFANA_TOKEN", GRAFANA, 1);
	const char *path = put("tokens.yaml", good_file, 0600);
	assert_int_equal(init_file(&a, path, err, sizeof err), 0);
	assert_int_equal(a.n, 6);
	t = check(&a, "admin-env-secret-0123456789");
	assert_non_null(t);
	assert_string_equal(t->name, "admin");
	assert_int_equal(t->role, SRV_ADMIN);
	assert_string_equal(check(&a, ALICE)->name, "alice");
	srv_auth_fini(&a);

	/* A name used twice is refused. */
	path = put("dup.yaml", "tokens:\n  - {name: admin, role: admin, token: " ALICE "}\n", 0600);
	assert_int_equal(init_file(&a, path, err, sizeof err), ITD_ECONFIG);
	assert_string_equal(err, "INTENTD_ADMIN_TOKEN: duplicate token name 'admin'");

	/* Too short. */
	clear_env();
	setenv("INTENTD_VIEWER_TOKEN", "short", 1);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_string_equal(err, "INTENTD_VIEWER_TOKEN is 5 bytes long; at least 16 are required");
	assert_int_equal(a.n, 0);
	clear_env();
}

static char *slurp_token(const char *path)
{
	char *s = itd_test_read_file(path, NULL);
	assert_int_equal(strlen(s), 65);
	assert_int_equal(s[64], '\n');
	s[64] = '\0';
	for (size_t i = 0; i < 64; i++)
		assert_non_null(strchr("0123456789abcdef", s[i]));
	return s;
}

static void test_generated_in_data_dir(void **state)
{
	(void)state;
	clear_env();
	char dir[4096], path[4200], err[1024];
	snprintf(dir, sizeof dir, "%s/data", tmp);
	snprintf(path, sizeof path, "%s/admin.token", dir);
	struct itd_server_config cfg = {.data_dir = dir};
	struct srv_auth a;
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_int_equal(a.n, 1);
	assert_string_equal(a.generated_path, path);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *secret = slurp_token(path);
	const struct srv_token *t = check(&a, secret);
	assert_non_null(t);
	assert_string_equal(t->name, "admin");
	assert_int_equal(t->role, SRV_ADMIN);
	srv_auth_fini(&a);

	/* The next start reuses it. */
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_string_equal(a.generated_path, path);
	assert_non_null(check(&a, secret));
	srv_auth_fini(&a);
	char *again = slurp_token(path);
	assert_string_equal(again, secret);
	free(again);

	/* With a wrong mode it is refused, and left alone. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "admin.token: refusing the admin token file"));
	assert_non_null(strstr(err, "mode 0644"));
	assert_int_equal(a.n, 0);
	assert_string_equal(a.generated_path, "");
	assert_int_equal(chmod(path, 0400), 0);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "mode 0400"));

	/* A symlink in its place is refused. */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "symlink"));
	assert_int_equal(unlink(path), 0);

	/* Configured tokens mean nothing is generated. */
	setenv("INTENTD_VIEWER_TOKEN", "viewer-secret-0123456789", 1);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_string_equal(a.generated_path, "");
	assert_int_equal(access(path, F_OK), -1);
	assert_null(check(&a, secret));
	srv_auth_fini(&a);
	free(secret);
	clear_env();
}

static void test_generated_in_runtime_dir(void **state)
{
	(void)state;
	clear_env();
	char *old = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;
	char xdg[4096], dir[4200], path[4300], err[1024];
	snprintf(xdg, sizeof xdg, "%s/run", tmp);
	assert_int_equal(mkdir(xdg, 0700), 0);
	snprintf(dir, sizeof dir, "%s/intentd", xdg);
	snprintf(path, sizeof path, "%s/admin.token", dir);
	setenv("XDG_RUNTIME_DIR", xdg, 1);
	struct itd_server_config cfg = {0};
	struct srv_auth a;
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_string_equal(a.generated_path, path);
	struct stat st;
	assert_int_equal(lstat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *secret = slurp_token(path);
	assert_non_null(check(&a, secret));
	srv_auth_fini(&a);
	free(secret);

	/* A directory others can enter is refused. */
	assert_int_equal(chmod(dir, 0755), 0);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "mode 0755"));
	assert_int_equal(chmod(dir, 0700), 0);

	/* So is a symlink to a directory, even a private one. */
	char xdg2[4096], target[4200];
	snprintf(xdg2, sizeof xdg2, "%s/run2", tmp);
	snprintf(target, sizeof target, "%s/elsewhere", tmp);
	assert_int_equal(mkdir(xdg2, 0700), 0);
	assert_int_equal(mkdir(target, 0700), 0);
	snprintf(dir, sizeof dir, "%s/intentd", xdg2);
	assert_int_equal(symlink(target, dir), 0);
	setenv("XDG_RUNTIME_DIR", xdg2, 1);
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), ITD_ECONFIG);
	assert_non_null(strstr(err, "a symlink"));
	assert_int_equal(a.n, 0);

	if (old)
		setenv("XDG_RUNTIME_DIR", old, 1);
	else
		unsetenv("XDG_RUNTIME_DIR");
	free(old);
}

static void test_check_headers(void **state)
{
	(void)state;
	clear_env();
	setenv("INTENTD_OPERATOR_TOKEN", ALICE, 1);
	struct itd_server_config cfg = {0};
	struct srv_auth a;
	char err[512];
	assert_int_equal(srv_auth_init(&a, &cfg, err, sizeof err), 0);
	assert_non_null(srv_auth_check(&a, "Bearer " ALICE));
	assert_non_null(srv_auth_check(&a, "bearer " ALICE));
	assert_non_null(srv_auth_check(&a, "BEARER " ALICE));
	assert_null(srv_auth_check(&a, NULL));
	assert_null(srv_auth_check(&a, ""));
	assert_null(srv_auth_check(&a, "Bearer"));
	assert_null(srv_auth_check(&a, "Bearer "));
	assert_null(srv_auth_check(&a, "Bearer  " ALICE));
	assert_null(srv_auth_check(&a, "Bearer " ALICE " "));
	assert_null(srv_auth_check(&a, "Bearer " ALICE "x"));
	assert_null(srv_auth_check(&a, "Bearer s3cr3t-at-least-16-char"));
	assert_null(srv_auth_check(&a, "Basic " ALICE));
	assert_null(srv_auth_check(&a, "Bearer\t" ALICE));
	assert_null(srv_auth_check(&a, ALICE));
	assert_null(srv_auth_check(NULL, "Bearer " ALICE));
	srv_auth_fini(&a);
	/* An empty set of tokens matches nothing. */
	assert_null(srv_auth_check(&a, "Bearer " ALICE));
	clear_env();
}

/* Every allocation of a load can fail: ITD_ENOMEM, nothing kept, nothing
 * leaked (the ASan build checks), and then the load works. */
static void test_every_allocation_failure(void **state)
{
	(void)state;
	clear_env();
	setenv("GRAFANA_TOKEN", GRAFANA, 1);
	setenv("INTENTD_VIEWER_TOKEN", "viewer-secret-0123456789", 1);
	char text[4096];
	size_t n = (size_t)snprintf(text, sizeof text, "%s", good_file);
	for (int i = 0; i < 6; i++)
		n += (size_t)snprintf(text + n, sizeof text - n,
				      "  - {name: u%d, role: viewer, token: user-secret-%d-0123456}\n",
				      i, i);
	const char *path = put("many.yaml", text, 0600);
	for (long k = 1;; k++) {
		struct srv_auth a;
		char err[512];
		itd_alloc_fail_at(k);
		int rc = init_file(&a, path, err, sizeof err);
		bool failed = itd_alloc_failed();
		itd_alloc_fail_at(0);
		if (!failed) {
			assert_int_equal(rc, 0);
			assert_int_equal(a.n, 10);
			assert_string_equal(check(&a, "user-secret-5-0123456")->name, "u5");
			srv_auth_fini(&a);
			assert_true(k > 3);
			break;
		}
		if (rc != ITD_ENOMEM)
			fail_msg("allocation %ld failing: %s (%s)", k, itd_err_name(rc), err);
		assert_string_equal(err, "out of memory");
		assert_int_equal(a.n, 0);
		assert_null(a.tokens);
	}
	clear_env();
}

static int setup(void **state)
{
	(void)state;
	tmp = itd_test_tmpdir("auth");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(tmp);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roles),
		cmocka_unit_test(test_good_file),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_file_permissions),
		cmocka_unit_test(test_env_tokens),
		cmocka_unit_test(test_generated_in_data_dir),
		cmocka_unit_test(test_generated_in_runtime_dir),
		cmocka_unit_test(test_check_headers),
		cmocka_unit_test(test_every_allocation_failure),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
