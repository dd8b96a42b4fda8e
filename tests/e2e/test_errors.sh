#!/usr/bin/env bash
# Bad input of every kind gives a precise error and exit status 2, never a
# crash.
. "$(dirname "$0")/lib.sh"

"$BIN" scenarios --show spacecraft > good.yaml

printf 'scenario: x\nstate: [\n' > malformed.yaml
expect_exit 2 "malformed YAML" -- "$BIN" validate malformed.yaml
expect_grep '^malformed.yaml:[0-9]+:[0-9]+: ' err "malformed YAML: FILE:LINE:COL"

sed 's/^seed: 1$/sede: 1/' good.yaml > unknown.yaml
expect_exit 2 "unknown key" -- "$BIN" validate unknown.yaml
expect_grep "^unknown.yaml:[0-9]+:1: .*unknown key 'sede'" err "unknown key named with its position"

sed 's/score: "100"/score: "100 + true"/' good.yaml > illtyped.yaml
expect_exit 2 "ill-typed expression" -- "$BIN" validate illtyped.yaml
expect_grep "^illtyped.yaml:[0-9]+:[0-9]+: " err "ill-typed expression located"

sed 's/state.battery <= battery_safe or/state.batery <= battery_safe or/' good.yaml > undefined.yaml
expect_exit 2 "undefined name" -- "$BIN" validate undefined.yaml
expect_grep "batery" err "undefined name reported"

sed 's/initial: 4.0/initial: "four"/' good.yaml > wrongtype.yaml
expect_exit 2 "wrong type" -- "$BIN" validate wrongtype.yaml
expect_grep "^wrongtype.yaml:[0-9]+:[0-9]+: " err "wrong type located"

expect_exit 2 "bad --set value" -- "$BIN" sim --set state.battery.initial=abc --cycles 1
expect_grep "^--set:" err "--set error located"
expect_exit 2 "unknown --set path" -- "$BIN" sim --set state.nope.initial=1 --cycles 1
expect_exit 2 "--set without =" -- "$BIN" sim --set state.battery.initial --cycles 1
expect_exit 2 "unknown scenario" -- "$BIN" sim --scenario nosuch
expect_grep "nosuch" err "unknown scenario named"
expect_exit 2 "missing config file" -- "$BIN" sim --config /nonexistent/x.yaml
expect_exit 2 "unknown option" -- "$BIN" sim --frobnicate
expect_exit 2 "bad --cycles" -- "$BIN" sim --cycles -5
expect_exit 2 "bad --cycles text" -- "$BIN" sim --cycles ten
expect_exit 2 "bad --clock" -- "$BIN" sim --clock fast
expect_exit 2 "bad --rate" -- "$BIN" sim --rate 0
expect_exit 2 "unknown command" -- "$BIN" frobnicate
expect_exit 2 "no command" -- "$BIN"
expect_exit 2 "summarize a missing file" -- "$BIN" telemetry summarize /nonexistent.jsonl
printf 'not json\n' > junk.jsonl
expect_exit 2 "summarize junk" -- "$BIN" telemetry summarize junk.jsonl
head -c 3000 /dev/urandom > random.yaml
expect_exit 2 "random bytes as a scenario" -- "$BIN" validate random.yaml
: > empty.yaml
expect_exit 2 "empty scenario" -- "$BIN" validate empty.yaml
expect_exit 0 "a good file validates" -- "$BIN" validate good.yaml

# upgrade: a directory without a store, or a database that is not one, is
# refused and left alone; a current store has nothing to upgrade.
mkdir nostore
expect_exit 2 "upgrade without --data" -- "$BIN" upgrade
expect_exit 2 "upgrade of a directory without a store" -- "$BIN" upgrade --data nostore
expect_grep "no intentd store here" err "upgrade says there is no store"
[ -z "$(ls nostore)" ] && pass "the refused upgrade created nothing" ||
	fail "the refused upgrade created files: $(ls nostore)"
mkdir other && python3 -c 'import sqlite3; sqlite3.connect("other/intentd.db").execute("CREATE TABLE t(x)")'
expect_exit 2 "upgrade of a database that is not a store" -- "$BIN" upgrade --data other
expect_grep "not an intentd journal" err "upgrade says it is not a journal"
expect_exit 0 "sim --data makes a store" -- "$BIN" sim --data run -n 50 -q -t off
expect_exit 0 "upgrade of a current store" -- "$BIN" upgrade --data run
expect_grep "already this build's: nothing to do" out "a current store has nothing to upgrade"
finish
