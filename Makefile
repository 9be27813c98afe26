# tokenhost: keyless bearer tokens for the Copilot runtime's BYOK providers.
#
#   make demo    the whole loop on this machine, offline
#   make test    everything CI runs: vet, staticcheck, -race tests, staleness
#   make bench   speed, as ratios to a floor measured in the same run
#   make fuzz    each fuzz target for FUZZTIME
#   make soak    a bounded soak test (about a minute)

GO       ?= go
BIN      := bin/tokenhost
RUNTIME  := e2e/runtime/node_modules/.installed
FUZZTIME ?= 20s

export TOKENHOST_REQUIRE_RUNTIME := 1

.PHONY: all build runtime generate vet staticcheck test demo bench fuzz soak clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/tokenhost

# The pinned Copilot runtime and its published schema, from npm.
runtime: $(RUNTIME)
$(RUNTIME): e2e/runtime/package.json e2e/runtime/package-lock.json
	npm ci --prefix e2e/runtime --no-audit --no-fund --loglevel=error
	touch $@

generate:
	$(GO) generate ./...

vet:
	$(GO) vet ./...

staticcheck:
	$(GO) tool staticcheck ./...

test: runtime vet staticcheck
	$(GO) test -race -count=1 ./...

# First the contract as the runtime plays it (scripted), then the whole loop:
# the real Copilot runtime, a loopback Entra stand-in and model endpoint, and
# tokenhost run.
demo: runtime build
	$(GO) run ./e2e/cmd/scripted-runtime --host $(abspath $(BIN))
	$(GO) run ./e2e/cmd/demo --host $(abspath $(BIN))

bench: build
	$(GO) run ./e2e/cmd/bench -host $(BIN)

fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

soak: build
	$(GO) test -count=1 -run '^TestSoak$$' -timeout 5m -v ./e2e -soak

clean:
	rm -rf bin e2e/runtime/node_modules
