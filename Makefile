# Bascule — make targets. `make test` is what CI runs (.ci/run).
GO        ?= go
PKGS      ?= ./...
BIN       := bin/bascule
STATICCHECK_VERSION ?= v0.8.2

.PHONY: build test demo bench lint fuzz clean

build:
	$(GO) build -o $(BIN) ./cmd/bascule

# Every test, verbose so that the log shows each test against a real server (Dovecot) ran.
# Every test, including those against real servers (Dovecot). With BASCULE_REQUIRE_SERVERS=1
# (set by .ci/run) a missing server fails the run instead of skipping.
test:
	$(GO) vet $(PKGS)
	$(GO) test -count=1 -v -timeout 25m $(PKGS)

# The main job on the embedded default: Graph emulator -> in-memory IMAP server.
demo:
	$(GO) run ./cmd/bascule demo

# Whole-run benchmarks, side by side (docs/PERFORMANCE.md): a generated corpus in a source
# Dovecot copied to fresh target Dovecots by a raw pipelined APPEND client (the ceiling),
# Bascule, mbsync (Debian isync) and imapsync (IMAPSYNC=/path), then a no-op rerun; the Graph
# emulator -> Dovecot under Microsoft's per-mailbox throttling; groupware into Radicale; then
# the hot-path benchmarks. BENCH_MESSAGES (default 10000) sizes the corpus: `make bench
# BENCH_MESSAGES=1000` is a quick run. BENCH_PROFILE_DIR=dir writes pprof profiles.
BENCH_MESSAGES ?= 10000
bench:
	BENCH_MESSAGES=$(BENCH_MESSAGES) $(GO) test -run '^$$' -bench 'IMAPToIMAP|GraphThrottled|MigrateGroupware/server=radicale' -benchtime 1x -timeout 90m ./e2e/
	$(GO) test -run '^$$' -bench . -benchmem ./planner/ ./state/... ./load/...

lint:
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

# Every fuzz test of the project, FUZZTIME each. go test -fuzz takes one target per run, so
# the targets are found in the sources (func FuzzXxx in *_test.go) and run one after the other;
# a new fuzz test is picked up without editing this file (`make fuzz GO="echo go"` lists them).
FUZZTIME ?= 30s
fuzz:
	@grep -rl --include='*_test.go' '^func Fuzz' . | sort | while read -r f; do \
		dir=$$(dirname "$$f"); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$$f"); do \
			echo "== $$fn ($$dir)"; \
			$(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 3s "$$dir/" || exit 1; \
		done; \
	done

clean:
	rm -rf bin
