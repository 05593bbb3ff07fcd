#!/usr/bin/env bash
# Runs every test binary in <build>/tests with a per-test timeout and prints one
# summary line "N passed, N failed" (tests, not checks). Exit status 1 on any failure.
set -u
build=${1:-build}
timeout_s=${FT_TEST_TIMEOUT:-300}
pass=0; fail=0; failed=()
for t in "$build"/tests/test_*; do
  [ -x "$t" ] || continue
  name=$(basename "$t")
  start=$(date +%s%N)
  if out=$(timeout "$timeout_s" "$t" 2>&1); then
    pass=$((pass+1)); status=ok
  else
    rc=$?; fail=$((fail+1)); failed+=("$name"); status="FAILED (exit $rc)"
    [ "$rc" = 124 ] && status="TIMED OUT after ${timeout_s}s"
  fi
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf '%-28s %s  (%d.%03ds)\n' "$name" "$status" $((ms/1000)) $((ms%1000))
  if [ "$status" != ok ] || [ -n "${FT_TEST_VERBOSE:-}" ]; then printf '%s\n' "$out" | sed 's/^/    /' | tail -60; fi
  printf '%s\n' "$out" | grep '^SKIP' | sed 's/^/    /'
done
echo "tests ($build): $pass passed, $fail failed"
[ "$fail" -eq 0 ]
