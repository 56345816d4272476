# The chaos tier (tier 4), included from the main Makefile:
#   make chaos                      5 minutes, a random seed (printed)
#   make chaos DURATION=10m SEED=42 reproduce, or run longer
# Each run leaves its report folder (history, logs, faults, summary, and the
# data dirs when a check failed) under $(REPORT)/.

DURATION ?= 5m
SEED     ?=
REPORT   ?= chaos-report
CHAOS_FLAGS ?=

.PHONY: chaos
chaos: ## build, then run the chaos tier: random faults for DURATION (5m), SEED= to reproduce, REPORT= folder
	@mkdir -p $(or $(BIN),bin)
	$(or $(GO),go) build -o $(or $(BIN),bin)/ ./cmd/... ./chaos/cmd/tmchaos
	$(or $(BIN),bin)/tmchaos --bin $(or $(BIN),bin) --duration $(DURATION) --report $(REPORT) $(if $(SEED),--seed $(SEED)) $(CHAOS_FLAGS)
