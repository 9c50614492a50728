#!/usr/bin/env bash
# The whole benchmark suite in one command: Baton's workloads W1–W5 (`baton bench` and its
# subcommands), medians of 3 runs, each output kept in bench/last-run/suite-*.txt; then
# bench/run.sh, W1 and W2 side by side with SpiffWorkflow (installed from PyPI into
# bench/.venv) and the ratios, in bench/last-run/table.md. SPIFF=0 skips the Spiff part;
# MILLION=1 adds W3's 10^6 level (one run; its fill takes about a minute) and a ForEach over
# 10^6 items (3 runs of about a minute and a half). See BENCHMARKS.md
# for the figures and what each column means.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/bench/last-run"
mkdir -p "$OUT"
(cd "$ROOT" && cargo build --release -p baton)
B="$ROOT/target/release/baton"
run() { # name, args...
    local name="$1"; shift
    echo "== baton bench $*" >&2
    "$B" bench "$@" | tee "$OUT/suite-$name.txt"
}
run w1-full --instances 20000 --durability full
run w1-normal --instances 20000 --durability normal
run w2-full human --instances 5000
run w3-full retained --instances 30000
run w4-1e4 timers --timers 10000
run w4-1e5 timers --timers 100000
run w4-1e5-rate10k timers --timers 100000 --rate 10000
run w4-1e5-rate20k timers --timers 100000 --rate 20000
run w4-1e5-delay10 timers --timers 100000 --delay-s 10
run w5-full fanout
run w5-8 fanout --in-flight 8 --roots 80
run w5-call fanout --via call --roots 200 --runs 5
run w5-handoff fanout --via handoff --runs 5
run foreach-1e4 foreach --items 10000
run foreach-1e5 foreach --items 100000
if [[ "${MILLION:-0}" == 1 ]]; then
    run w3-million retained --instances 30000 --levels 1000,1000000 --runs 1
    run foreach-1e6 foreach --items 1000000
fi
if [[ "${SPIFF:-1}" == 1 ]]; then
    bash "$ROOT/bench/run.sh"
fi
