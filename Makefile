# tmcluster — run `make help` for the targets.
SHELL := /bin/bash
GO    ?= go
BUF   := $(GO) tool -modfile=tools/go.mod buf
BIN   := bin
PKGS  := ./...

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.PHONY: build
build: ## build every command (tmd, tmctl, bankd, tmdemo, tmbench) into bin/
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...

.PHONY: demo
demo: ## build, then run the demo: 3 nodes, 2 banks, payments, the leader killed halfway
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ ./cmd/...
	$(BIN)/tmdemo --bin $(BIN)

.PHONY: proto
proto: ## regenerate the Go code from proto/ (byte-identical to what is committed)
	$(BUF) generate

.PHONY: proto-check
proto-check: proto ## fail if the committed generated code differs from `make proto`
	@git diff --exit-code -- proto || { echo "generated code is stale: run make proto and commit"; exit 1; }

.PHONY: lint
lint: ## buf lint, gofmt and go vet
	$(BUF) lint
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

.PHONY: test
test: ## unit, in-process cluster, system and chaos tests with the race detector, then a short fuzz run
	$(GO) test -race -count=1 -timeout 12m $(PKGS)
	$(MAKE) --no-print-directory fuzz FUZZTIME=5s

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME each (default 30s): the log decoders, Apply, request validation
	$(GO) test -run='^$$' -fuzz='^FuzzDecodeCommand$$' -fuzztime=$(FUZZTIME) ./raftlog/
	$(GO) test -run='^$$' -fuzz='^FuzzParseTxID$$' -fuzztime=$(FUZZTIME) ./raftlog/
	$(GO) test -run='^$$' -fuzz='^FuzzApply$$' -fuzztime=$(FUZZTIME) ./raftlog/
	$(GO) test -run='^$$' -fuzz='^FuzzValidateExecute$$' -fuzztime=$(FUZZTIME) ./server/

.PHONY: test-short
test-short: ## the fast tier only (no race detector)
	$(GO) test -short -count=1 $(PKGS)

# Tiers and tools kept beside their code.
-include chaos/chaos.mk
-include spec/spec.mk
-include bench/bench.mk
-include certs/certs.mk
