#!/usr/bin/env bash
# A/B of two Baton binaries on the W1, W2 and W4 workloads, runs interleaved (A, B, A, B, ...) so
# that both see the same machine, medians of RUNS (default 3) and the ratio B/A of each
# figure. Used for the optimization tables in BENCHMARKS.md:
#
#   git worktree add /tmp/baseline <commit> && (cd /tmp/baseline && cargo build --release -p baton)
#   bash bench/compare.sh /tmp/baseline/target/release/baton target/release/baton
#
# Only flags both binaries know are used.
set -euo pipefail
A="$1"; B="${2:-target/release/baton}"; RUNS="${RUNS:-3}"
workloads=(
    "w1 bench --instances 20000 --durability full --runs 1"
    "w2 bench human --instances 5000 --runs 1"
    "w4 bench timers --timers 100000 --runs 1"
)
for w in "${workloads[@]}"; do
    name="${w%% *}"; args="${w#* }"
    for i in $(seq "$RUNS"); do
        for which in A B; do
            bin="$A"; [[ "$which" == B ]] && bin="$B"
            # The workload's key=value line (W1: the durable one).
            line=$("$bin" $args 2>/dev/null | grep -E '^w[0-9]-(durable|timers)' | head -1)
            echo "$which $line"
        done
    done | awk -v name="$name" '
        { for (i = 3; i <= NF; i++) { split($i, kv, "="); vals[$1, kv[1]] = vals[$1, kv[1]] " " kv[2]; keys[kv[1]] = 1 } }
        function median(s,   n, a, i, j, t) {
            n = split(s, a, " ")
            for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
            return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
        }
        END {
            for (k in keys) {
                ma = median(vals["A", k]); mb = median(vals["B", k])
                printf "%s %-22s A %12.3f  B %12.3f  B/A %7.3f   (A:%s | B:%s)\n", name, k, ma, mb, (ma != 0 ? mb / ma : 0), vals["A", k], vals["B", k]
            }
        }' | sort
done
