#!/usr/bin/env bash
# One SPIN verification run of spec/commit.pml (used by spec/spec.mk).
#
#   spec/pan.sh NAME MODE [SPIN_FLAGS...]
#
# NAME        build directory: spec/build/NAME (pan.*, the trail, pan.out)
# MODE        safety    assertions and the Monitor invariant, exhaustive,
#                       pan compiled with -DSAFETY -DNOCLAIM
#             inv|writeonce  the same LTL safety claim (./pan -N MODE)
#             live      the LTL claim `live`: acceptance cycles (-a) under
#                       weak fairness (-f)
# SPIN_FLAGS  -D flags for spin's preprocessor: -DTWOSTEP, -DM_<MUTANT>,
#             -DMAXDUP=0, ...
#
# SPEC_OPT (default -O2) is the optimisation of the pan compile.
#
# Prints one summary line. Exit 0: no error; 1: spin found an error and
# wrote a trail; 2: the run itself failed or was incomplete.
set -uo pipefail
name=$1 mode=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
dir=$here/build/$name
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 2
cp "$here/commit.pml" .
printf '%s\n' "$*" > spin.flags

case $mode in
  safety)         cflags="-DSAFETY -DNOCLAIM"; pflags="-m20000 -w24" ;;
  inv|writeonce)  cflags="-DSAFETY";           pflags="-N $mode -m20000 -w24" ;;
  live)           cflags="-DNFAIR=3";                 pflags="-a -f -N live -m20000 -w25" ;;
  *) echo "spec: $name: unknown mode $mode" >&2; exit 2 ;;
esac

if ! spin "$@" -a commit.pml > spin.log 2>&1; then
  echo "spec: $name: spin -a failed:"; cat spin.log; exit 2
fi
# VECTORSZ: the state vector is ~170 bytes; -m: depth never exceeds ~450
if ! gcc ${SPEC_OPT:--O2} -DVECTORSZ=1024 $cflags -o pan pan.c > gcc.log 2>&1; then
  echo "spec: $name: gcc failed:"; cat gcc.log; exit 2
fi
./pan $pflags > pan.out 2>&1
rc=$?

errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.out | tail -1)
states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.out | tail -1)
trans=$(sed -n 's/^ *\([0-9.e+]*\) transitions.*/\1/p' pan.out | tail -1)
depth=$(sed -n 's/.*depth reached \([0-9]*\).*/\1/p' pan.out | tail -1)
secs=$(sed -n 's/^pan: elapsed time \([0-9.e+]*\) seconds.*/\1/p' pan.out | tail -1)
what="spec: $name ($mode $*): ${states:-?} states, ${trans:-?} transitions, depth ${depth:-?}, ${secs:-?} s"

if [ -z "$errors" ]; then
  echo "$what: pan did not finish (rc $rc):"; tail -5 pan.out; exit 2
fi
if grep -q "max search depth too small" pan.out; then
  echo "$what: INCOMPLETE (raise -m)"; exit 2
fi
if [ "$errors" != 0 ] || ls ./*.trail >/dev/null 2>&1; then
  first=$(grep -m1 -E '^pan:[0-9]+:|^pan: (claim|acceptance|non-progress)|assertion violated' pan.out)
  echo "$what: ERROR: ${first:-see pan.out}"
  echo "  trail: $dir/commit.pml.trail  (replay: cd $dir && spin $* -t -p commit.pml | less)"
  exit 1
fi
echo "$what: ok"
