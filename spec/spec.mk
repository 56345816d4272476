# spec.mk — model checking of the commit protocol (spec/README.md).
# Include it from the main Makefile:   include spec/spec.mk
# Everything it generates (pan.*, trails, logs) goes to spec/build/.

SPEC_DIR  ?= spec
SPEC_JOBS ?= 2

# The verification runs of `make spec`, one per line: NAME MODE SPIN_FLAGS.
# safety:    assertions + the Monitor invariant, exhaustive (pan -DSAFETY);
# writeonce: the LTL claim `writeonce` (decisions and K's binding never
#            change, read on the register itself), exhaustive;
# live:      the LTL claim `live`, acceptance cycles under weak fairness (-a -f).
# ONESHOT is the default world, TWOSTEP the Begin/Commit one. Longest first,
# so that SPEC_JOBS=2 finishes soonest.
SPEC_RUNS := \
	'twostep-live      live      -DTWOSTEP -DMAXCOLLECT=0' \
	'oneshot-live      live' \
	'twostep-safety    safety    -DTWOSTEP' \
	'oneshot-writeonce writeonce' \
	'oneshot-safety    safety'

.PHONY: spec spec-mutants spec-tools spec-clean

spec-tools:
	@command -v spin >/dev/null || (apt-get update && apt-get install -y spin)
	@command -v gcc >/dev/null || (apt-get update && apt-get install -y gcc)

spec: spec-tools ## model-check the commit protocol with spin: safety exhaustively, liveness under weak fairness
	@start=$$(date +%s); \
	printf '%s\n' $(SPEC_RUNS) | xargs -P $(SPEC_JOBS) -L 1 bash $(SPEC_DIR)/pan.sh; rc=$$?; \
	if [ $$rc -ne 0 ]; then echo "spec: FAILED (see the trail above; spec/README.md says how to read it)"; exit 1; fi; \
	echo "spec: all runs verified in $$(( $$(date +%s) - start )) s"

spec-mutants: spec-tools ## check that spin rejects every mutant of spec/mutants/list with a trail
	@start=$$(date +%s); \
	SPEC_JOBS=$(SPEC_JOBS) bash $(SPEC_DIR)/mutants/run.sh || exit 1; \
	echo "spec-mutants: done in $$(( $$(date +%s) - start )) s"

spec-clean: ## remove spec/build (generated verifiers and trails)
	rm -rf $(SPEC_DIR)/build
