#!/usr/bin/env bash
# W1 seq10-auto and W2 seq10-human, Baton against SpiffWorkflow, side by side from one run.
#
#   bash bench/run.sh
#
# Sets up bench/.venv (SpiffWorkflow from bench/spiff/requirements.txt) if missing or out of
# date, builds Baton in release, then
#   W1: runs `baton bench` with SQLite synchronous=FULL and NORMAL, and bench/spiff/w1.py
#       (in memory and saving after every step);
#   W2: runs `baton bench human` (synchronous=FULL; start, then claim + complete 10 user tasks)
#       and bench/spiff/w2.py (in memory and saving after the start and every completion);
# then prints two tables, one per workload. Every figure is a median of RUNS runs. Raw outputs
# are kept in bench/last-run/.
#
# Knobs (environment): BATON_INSTANCES (20000) and SPIFF_INSTANCES (2000) for W1,
# BATON_W2_INSTANCES (5000) and SPIFF_W2_INSTANCES (500) for W2, RUNS (3),
# PYTHON (python3) to create the virtualenv with, BATON_ROOT (the repo root): the Baton source
# tree to build and measure, e.g. a clean export of a commit while the work tree is mid-change,
# and BATON_LABEL, how the table names that Baton (by default its commit, from git):
#   mkdir -p /tmp/baton-head && git archive HEAD | tar -x -C /tmp/baton-head
#   BATON_ROOT=/tmp/baton-head BATON_LABEL="$(git rev-parse --short HEAD)" bash bench/run.sh
set -euo pipefail

BENCH="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$BENCH/.." && pwd)"
BATON_INSTANCES="${BATON_INSTANCES:-20000}"
SPIFF_INSTANCES="${SPIFF_INSTANCES:-2000}"
BATON_W2_INSTANCES="${BATON_W2_INSTANCES:-5000}"
SPIFF_W2_INSTANCES="${SPIFF_W2_INSTANCES:-500}"
RUNS="${RUNS:-3}"
BATON_ROOT="$(cd "${BATON_ROOT:-$ROOT}" && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$BENCH/.venv"
OUT="$BENCH/last-run"
REQ="$BENCH/spiff/requirements.txt"

say() { printf '== %s\n' "$*" >&2; }

# 1. The Python side: a virtualenv with the pinned SpiffWorkflow.
if [[ ! -x "$VENV/bin/python" ]]; then
    say "creating virtualenv $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if ! cmp -s "$REQ" "$VENV/.installed-requirements.txt"; then
    say "installing $REQ"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQ"
    cp "$REQ" "$VENV/.installed-requirements.txt"
fi

# 2. Baton, release build.
say "building baton (release)"
(cd "$BATON_ROOT" && cargo build --release -p baton)
BATON="$BATON_ROOT/target/release/baton"
if baton_rev=$(git -C "$BATON_ROOT" rev-parse --short HEAD 2>/dev/null); then
    [[ -z "$(git -C "$BATON_ROOT" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]] \
        || baton_rev="$baton_rev + uncommitted changes"
else
    baton_rev="source tree $BATON_ROOT"
fi
baton_rev="${BATON_LABEL:-$baton_rev}"

rm -f "$OUT"/baton-*.txt "$OUT"/spiff*.txt "$OUT"/table.md  # not the suite's outputs
mkdir -p "$OUT"

# 3. W1 on Baton: durable with synchronous=FULL (the default) and NORMAL; each also measures core only.
say "baton bench, synchronous=full ($BATON_INSTANCES instances x $RUNS runs)"
"$BATON" bench --instances "$BATON_INSTANCES" --runs "$RUNS" --durability full | tee "$OUT/baton-full.txt" >&2
say "baton bench, synchronous=normal ($BATON_INSTANCES instances x $RUNS runs)"
"$BATON" bench --instances "$BATON_INSTANCES" --runs "$RUNS" --durability normal | tee "$OUT/baton-normal.txt" >&2

# 4. W1 on SpiffWorkflow: in memory and saving after every step.
say "spiff w1 ($SPIFF_INSTANCES instances x $RUNS runs per mode; the durable mode takes minutes)"
"$VENV/bin/python" "$BENCH/spiff/w1.py" --instances "$SPIFF_INSTANCES" --runs "$RUNS" | tee "$OUT/spiff.txt" >&2

# 5. W2 on Baton: durable with synchronous=FULL, a client claiming and completing each user task.
say "baton bench human, synchronous=full ($BATON_W2_INSTANCES instances x $RUNS runs)"
"$BATON" bench human --instances "$BATON_W2_INSTANCES" --runs "$RUNS" | tee "$OUT/baton-w2.txt" >&2

# 6. W2 on SpiffWorkflow: in memory and saving after the start and every user-task completion.
say "spiff w2 ($SPIFF_W2_INSTANCES instances x $RUNS runs per mode)"
"$VENV/bin/python" "$BENCH/spiff/w2.py" --instances "$SPIFF_W2_INSTANCES" --runs "$RUNS" | tee "$OUT/spiff-w2.txt" >&2

# 7. The tables. `baton bench` prints e.g.
#   durable (sqlite)        8693 instances/s      104318 steps/s  (synchronous=full, median of 3)
#   core only              42185 instances/s      506219 steps/s  (baseline, no store)
baton_field() { # file, line prefix, field before which the number stands (instances/s | steps/s)
    awk -v prefix="$2" -v unit="$3" 'index($0, prefix) == 1 {
        for (i = 2; i <= NF; i++) if ($i == unit) { print $(i - 1); exit } }' "$1"
}
# The key=value lines: `baton bench human` prints `w2-durable-full instances_per_s=...
# completions_per_s=... ...`, w1.py `spiff-memory ...` and `spiff-durable ...`, w2.py
# `spiff-w2-memory ...` and `spiff-w2-durable ...`.
kv_field() { # file, first word of the line, key
    awk -v mode="$2" -v key="$3" '$1 == mode {
        for (i = 2; i <= NF; i++) { split($i, kv, "="); if (kv[1] == key) { print kv[2]; exit } } }' "$1"
}
spiff_field() { kv_field "$OUT/spiff.txt" "$@"; } # mode (spiff-memory | spiff-durable), key
need() { [[ -n "$2" ]] || { echo "run.sh: could not read $1 from the outputs in $OUT" >&2; exit 1; }; }

full_i=$(baton_field "$OUT/baton-full.txt" "durable (sqlite)" "instances/s");    need "baton full" "$full_i"
full_s=$(baton_field "$OUT/baton-full.txt" "durable (sqlite)" "steps/s")
normal_i=$(baton_field "$OUT/baton-normal.txt" "durable (sqlite)" "instances/s"); need "baton normal" "$normal_i"
normal_s=$(baton_field "$OUT/baton-normal.txt" "durable (sqlite)" "steps/s")
core_i=$(baton_field "$OUT/baton-full.txt" "core only" "instances/s");           need "baton core" "$core_i"
core_s=$(baton_field "$OUT/baton-full.txt" "core only" "steps/s")
core2_i=$(baton_field "$OUT/baton-normal.txt" "core only" "instances/s")
mem_i=$(spiff_field spiff-memory instances_per_s);   need "spiff memory" "$mem_i"
mem_s=$(spiff_field spiff-memory steps_per_s)
mem_cpu=$(spiff_field spiff-memory cpu_s_per_instance)
dur_i=$(spiff_field spiff-durable instances_per_s);  need "spiff durable" "$dur_i"
dur_s=$(spiff_field spiff-durable steps_per_s)
dur_cpu=$(spiff_field spiff-durable cpu_s_per_instance)
w2_full_c=$(kv_field "$OUT/baton-w2.txt" w2-durable-full completions_per_s); need "baton w2 full" "$w2_full_c"
w2_mem_c=$(kv_field "$OUT/spiff-w2.txt" spiff-w2-memory completions_per_s);  need "spiff w2 memory" "$w2_mem_c"
w2_mem_cpu=$(kv_field "$OUT/spiff-w2.txt" spiff-w2-memory cpu_s_per_instance)
w2_dur_c=$(kv_field "$OUT/spiff-w2.txt" spiff-w2-durable completions_per_s); need "spiff w2 durable" "$w2_dur_c"
w2_dur_cpu=$(kv_field "$OUT/spiff-w2.txt" spiff-w2-durable cpu_s_per_instance)
w2_full_cpu=$(kv_field "$OUT/baton-w2.txt" w2-durable-full cpu_s_per_instance)
spiff_version=$("$VENV/bin/python" -c 'from SpiffWorkflow.version import __version__; print(__version__)')

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f×", a / b }'; }
int() { awk -v a="$1" 'BEGIN { printf "%.0f", a }'; }

{
    echo
    echo "W1 seq10-auto, $(date -u +%Y-%m-%d), $(nproc) cores, median of $RUNS runs each;" \
         "Baton ($baton_rev) $BATON_INSTANCES instances (100 in flight), SpiffWorkflow $spiff_version $SPIFF_INSTANCES instances (one at a time)"
    echo
    echo "| workload | Baton durable FULL | Baton durable NORMAL | Baton core only | Spiff in memory | Spiff save every step | Baton FULL / Spiff memory | Baton FULL / Spiff save every step |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    echo "| W1 seq10-auto, instances/s | $(int "$full_i") | $(int "$normal_i") | $(int "$core_i") | $(int "$mem_i") | $(int "$dur_i") | $(ratio "$full_i" "$mem_i") | $(ratio "$full_i" "$dur_i") |"
    echo "| W1 seq10-auto, steps/s | $(int "$full_s") | $(int "$normal_s") | $(int "$core_s") | $(int "$mem_s") | $(int "$dur_s") | | |"
    echo
    echo "Spiff CPU seconds per instance: in memory $mem_cpu, save every step $dur_cpu."
    echo "Baton core only as measured in the NORMAL invocation: $(int "${core2_i:-0}") instances/s."
    echo "Targets: Baton FULL >= 4× Spiff in memory and >= 40× Spiff save every step."
    echo
    echo "W2 seq10-human, median of $RUNS runs each; Baton $BATON_W2_INSTANCES instances (100 in flight," \
         "21 durable commands each: start, 10 claims, 10 completes), SpiffWorkflow $SPIFF_W2_INSTANCES instances" \
         "(one at a time; 11 saves each: start, 10 completes, as Spiff has no claim)"
    echo
    echo "| workload | Baton durable FULL | Spiff in memory | Spiff save every step | Baton FULL / Spiff memory | Baton FULL / Spiff save every step |"
    echo "|---|---:|---:|---:|---:|---:|"
    echo "| W2 seq10-human, task completions/s | $(int "$w2_full_c") | $(int "$w2_mem_c") | $(int "$w2_dur_c") | $(ratio "$w2_full_c" "$w2_mem_c") | $(ratio "$w2_full_c" "$w2_dur_c") |"
    echo
    echo "CPU seconds per instance: Baton FULL ${w2_full_cpu:-?}, Spiff in memory $w2_mem_cpu, save every step $w2_dur_cpu."
} | tee "$OUT/table.md"
