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

# Whole-run benchmark (emulator -> real Dovecot, 10,000 messages) plus the hot-path benchmarks.
# Prints messages/s, MB/s and peak RSS.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 30m ./e2e/
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
