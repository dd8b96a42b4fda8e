# The short commands.  `make run` and `make test` are the whole quick start
# on a fresh Debian 12 machine (as root they install what is missing).
BUILD      ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECS  ?= 20
GENERATOR  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")

# Debian packages the build, the tests and the benchmarks need.
DEB_PACKAGES := build-essential cmake ninja-build pkg-config clang libclang-rt-14-dev \
	libyaml-dev libcjson-dev libsodium-dev libssl-dev libxxhash-dev libcmocka-dev libsqlite3-dev python3 \
	libmicrohttpd-dev libcurl4-openssl-dev openssl prometheus redis-server wrk \
	nats-server libnats-dev libjs-chart.js chromium nodejs npm

.PHONY: all deps node-deps build run test test-normal test-asan test-browser fuzz-smoke bench clean print-deps

all: build

# The Debian packages still missing. nodejs and npm count as there when the
# node and npm commands are: another Node (e.g. nodesource's, which bundles
# npm) conflicts with Debian's npm package, and apt-get would refuse.
MISSING_DEBS = missing=""; for p in $(DEB_PACKAGES); do \
		case $$p in \
			nodejs) command -v node >/dev/null 2>&1 && continue;; \
			npm) command -v npm >/dev/null 2>&1 && continue;; \
		esac; \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done

print-deps:
	@$(MISSING_DEBS); echo $$missing

# Install missing packages when we can (root); otherwise say what is missing.
deps:
	@$(MISSING_DEBS); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
		else \
			echo "missing Debian packages:$$missing (run as root, or: sudo apt-get install$$missing)"; exit 1; \
		fi; \
	fi

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j

# The main job on embedded defaults: the spacecraft scenario live at its own
# rate, served on http://127.0.0.1:5050 (the admin token is generated into
# data/admin.token on first start), telemetry in logs/telemetry/.
run: build
	./$(BUILD)/intentd serve --scenario spacecraft --data data

test: deps test-normal test-asan fuzz-smoke

# playwright-core for the browser tests (tests/browser), from package-lock.json,
# installed again only when node_modules is missing or the lock is newer.
# It never downloads a browser: the tests drive Debian's /usr/bin/chromium.
node-deps: node_modules/.package-lock.json

node_modules/.package-lock.json: package-lock.json package.json
	@if command -v npm >/dev/null 2>&1; then \
		PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund && touch $@; \
	else \
		echo "npm is missing: the browser tests will be skipped (apt-get install nodejs npm)"; \
	fi

test-normal: node-deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITD_WERROR=ON
	cmake --build $(BUILD) -j
	ctest --test-dir $(BUILD) --output-on-failure -j2

test-asan: node-deps
	cmake -S . -B $(ASAN_BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=Debug -DITD_WERROR=ON \
		-DITD_SANITIZE=ON -DITD_BENCH=OFF
	cmake --build $(ASAN_BUILD) -j
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
		ctest --test-dir $(ASAN_BUILD) --output-on-failure -j2

# Only the browser tests of the dashboard (a real Chromium).
test-browser: node-deps
	cmake -S . -B $(BUILD) $(GENERATOR) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DITD_WERROR=ON
	cmake --build $(BUILD) -j
	ctest --test-dir $(BUILD) --output-on-failure -L browser

# A short libFuzzer run of every fuzz target over its seed corpus.
fuzz-smoke:
	CC=clang cmake -S . -B $(FUZZ_BUILD) $(GENERATOR) -DCMAKE_C_COMPILER=clang \
		-DCMAKE_BUILD_TYPE=Debug -DITD_FUZZ=ON -DITD_WERROR=ON
	cmake --build $(FUZZ_BUILD) -j --target fuzzers
	@for f in $(FUZZ_BUILD)/fuzz/fuzz_*; do \
		name=$$(basename $$f); corpus=$(FUZZ_BUILD)/corpus-$$name; \
		mkdir -p $$corpus; cp tests/fuzz/corpus/$$name/* $$corpus/ 2>/dev/null || true; \
		echo "fuzzing $$name for $(FUZZ_SECS) s"; \
		$$f -max_total_time=$(FUZZ_SECS) -max_len=8192 -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_BUILD)/ $$corpus 2>$(FUZZ_BUILD)/$$name.log || \
			{ tail -50 $(FUZZ_BUILD)/$$name.log; exit 1; }; \
		grep -E "stat::number_of_executed_units" $(FUZZ_BUILD)/$$name.log; \
	done

bench: build
	./bench/run $(BUILD)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
