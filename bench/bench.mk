# The benchmark sweep (issue 5), included by the main Makefile.
# `make bench` runs tmbench BENCH_RUNS times on its in-process cluster, keeps
# each run's --json under BENCH_DIR, and redraws bench/*.png and
# bench/summary.md from them (bench/plot). BENCHMARKS.md quotes the result.

BENCH_RUNS  ?= 5
BENCH_DIR   ?= bench/results
BENCH_FLAGS ?= --mode execute,interactive --concurrency 1,16,64,256 --duration 8s --warmup 2s --baseline raft

.PHONY: bench
bench: ## benchmark sweep: 5 tmbench runs (both modes, c=1,16,64,256, raw Raft baseline), then the plots
	@mkdir -p $(BIN) $(BENCH_DIR)
	$(GO) build -o $(BIN)/tmbench ./cmd/tmbench
	@rm -f $(BENCH_DIR)/run-*.json
	@for i in $$(seq 1 $(BENCH_RUNS)); do \
	  echo "bench: run $$i of $(BENCH_RUNS)" >&2; \
	  $(BIN)/tmbench $(BENCH_FLAGS) --json > $(BENCH_DIR)/run-$$i.json || exit 1; \
	done
	$(GO) run ./bench/plot --out bench $(BENCH_DIR)/run-*.json

.PHONY: bench-plot
bench-plot: ## redraw bench/*.png and bench/summary.md from the last sweep's JSON
	$(GO) run ./bench/plot --out bench $(BENCH_DIR)/run-*.json
