# Two commands do everything: `make run` (an all-in-one cluster serving
# manifests-example) and `make test` (everything CI runs). Both install what they need.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
BIN     := bin/keelson

.PHONY: build deps lint test test-unit run bench soak clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/keelson

deps:
	@scripts/install-deps.sh

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Unit tests, then the end-to-end suite (real containerd, CNI, registry, git, processes).
# Tests that need root skip locally with a message; under CI=true they must run.
test: deps lint build
	KEELSON_BIN=$(CURDIR)/$(BIN) $(GO) test -race -count=1 -timeout 45m ./...; \
	  rc=$$?; scripts/cleanup-test.sh; exit $$rc

test-unit:
	$(GO) test -race -count=1 -short ./...

run: deps build
	$(BIN) dev

bench: deps build
	KEELSON_BIN=$(CURDIR)/$(BIN) scripts/bench.sh

# The chaos soak (test/chaos): SOAK_CYCLES fault cycles over a 3-server and a 5-server
# cluster (3/4 and 1/4 of them) with a fresh seed; prints the table. A failing seed is
# printed: rerun it with `make soak SOAK_SEED=N`.
SOAK_CYCLES ?= 100
SOAK_SEED   ?= $(shell date +%s)
soak: deps build
	KEELSON_BIN=$(CURDIR)/$(BIN) KEELSON_CHAOS_CYCLES=$(SOAK_CYCLES) KEELSON_CHAOS_SEED=$(SOAK_SEED) \
	  $(GO) test -count=1 -v -timeout 40m -run 'TestChaos' ./test/chaos/; \
	  rc=$$?; scripts/cleanup-test.sh; exit $$rc

clean:
	rm -rf bin
