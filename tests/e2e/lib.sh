# lib.sh: helpers for the end-to-end tests of the intentd binary.
# Each test script gets the binary's path as $1 and runs in a private
# temporary directory that is removed on success.
set -u
BIN=$(realpath "$1")
SRC=${ITD_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/intentd-e2e.XXXXXX")
cd "$WORK"
FAILS=0
PASSES=0

pass() { PASSES=$((PASSES + 1)); echo "ok   - $*"; }
fail() { FAILS=$((FAILS + 1)); echo "FAIL - $*"; }

# expect_exit CODE DESCRIPTION -- CMD...: run CMD, check its exit status;
# its stdout/stderr are kept in $WORK/out and $WORK/err.
expect_exit() {
	local want=$1 what=$2
	shift 3
	"$@" >"$WORK/out" 2>"$WORK/err"
	local got=$?
	if [ "$got" = "$want" ]; then pass "$what (exit $got)"; else
		fail "$what: exit $got, wanted $want"; sed 's/^/    err: /' "$WORK/err" | head -20; fi
}

# expect_grep PATTERN FILE DESCRIPTION
expect_grep() {
	if grep -qE -- "$1" "$2"; then pass "$3"; else
		fail "$3: /$1/ not in $2"; sed 's/^/    /' "$2" | head -20; fi
}

finish() {
	echo "$PASSES passed, $FAILS failed"
	if [ "$FAILS" = 0 ]; then rm -rf "$WORK"; exit 0; fi
	echo "(kept $WORK)"
	exit 1
}
