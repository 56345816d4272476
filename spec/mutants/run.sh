#!/usr/bin/env bash
# Runs every mutant of spec/mutants/list (see that file) and passes only if
# each one meets its expectation: `caught` mutants must make spin write an
# error trail, `survives` mutants must verify clean.
#   SPEC_JOBS  parallel runs (default 2)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
spec=$(dirname "$here")
jobs=${SPEC_JOBS:-2}
res=$spec/build/mutants.results
mkdir -p "$spec/build" && : > "$res"

one() {  # name world check expect
  local name=$1 world=$2 check=$3 expect=$4 flags=-D$1 out rc got
  [ "$world" = twostep ] && flags="$flags -DTWOSTEP"
  # caught mutants fail fast: a quick compile is worth more than a fast pan
  local opt=-O0; [ "$expect" = survives ] && opt=-O2
  out=$(SPEC_OPT=$opt bash "$spec/pan.sh" "mutant-$name-$world" "$check" $flags)
  rc=$?
  case $rc in 0) got=survives ;; 1) got=caught ;; *) got=broken ;; esac
  if [ "$got" = "$expect" ]; then verdict=PASS; else verdict=FAIL; fi
  printf '%s %-22s %-8s %-6s expect %-8s got %-8s\n%s\n' "$verdict" "$name" "$world" "$check" "$expect" "$got" "$out" >> "$res"
}
export -f one
export spec res

grep -v -e '^#' -e '^[[:space:]]*$' "$here/list" | awk '{print $1, $2, $3, $4}' |
  xargs -P "$jobs" -L 1 bash -c 'one "$@"' _

cat "$res"
total=$(grep -c -E '^(PASS|FAIL) ' "$res")
failed=$(grep -c '^FAIL ' "$res")
echo "spec-mutants: $((total - failed)) of $total mutants met their expectation"
[ "$failed" = 0 ]
