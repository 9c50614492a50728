#!/bin/sh
# An external worker for Baton in POSIX shell, with curl and jq.
#
# It long-polls `baton serve` for jobs of the topic `invoice-check`, decides each, and reports
# under its lock: `complete` with output data, or `end` with `ended_not_ok` for a business
# error. A 409 answer means the lock was lost (it expired and the job went to another worker):
# the report is dropped.
#
#   BATON_SERVER=http://127.0.0.1:8080 BATON_TOKEN=baton_... sh invoice_worker.sh [JOBS]
#
# JOBS: exit after this many jobs (0, the default: run until stopped). The token's user must be
# an administrator or a member of the group `workers`.
set -eu

jobs=${1:-0}
worker="sh-$(hostname)-$$"
done=0

post() { # PATH BODY: prints the answer's body, then its status on a line of its own
  curl -sS -X POST "${BATON_SERVER%/}$1" \
    -H "Authorization: Bearer $BATON_TOKEN" -H 'Content-Type: application/json' \
    --data "$2" -w '\n%{http_code}\n'
}

while [ "$jobs" -eq 0 ] || [ "$done" -lt "$jobs" ]; do
  fetch=$(jq -n --arg w "$worker" '{worker_id: $w, topics: ["invoice-check"], max_jobs: 10, lock_duration_ms: 60000, timeout_ms: 20000}')
  answer=$(post /api/external-jobs/fetch-and-lock "$fetch")
  status=$(printf '%s\n' "$answer" | tail -n 1)
  [ "$status" = 200 ] || { printf 'fetch failed (%s): %s\n' "$status" "$answer" >&2; exit 1; }
  list=$(printf '%s\n' "$answer" | sed '$d')
  # The loop runs in a subshell (it reads a pipe), so the jobs are counted here.
  done=$((done + $(printf '%s' "$list" | jq length)))
  printf '%s' "$list" | jq -c '.[]' | while read -r job; do
    path=$(printf '%s' "$job" | jq -r '"/api/external-jobs/\(.instance)/\(.task)/\(.attempt)"')
    amount=$(printf '%s' "$job" | jq '.data.amount // 0')
    if printf '%s' "$job" | jq -e '(.data.amount // 0) < 0' >/dev/null; then
      action=end
      report=$(jq -n --arg w "$worker" --arg a "$amount" '{worker_id: $w, status: "ended_not_ok", message: "a negative amount (\($a)) is not an invoice"}')
    else
      action=complete
      report=$(printf '%s' "$job" | jq --arg w "$worker" '{worker_id: $w, data: {approved: ((.data.amount // 0) <= 1000), checked_by: "shell"}}')
    fi
    answer=$(post "$path/$action" "$report")
    status=$(printf '%s\n' "$answer" | tail -n 1)
    case $status in
      200) echo "$action $(printf '%s' "$job" | jq -r .instance) (amount $amount)" ;;
      409) echo "lost the lock of $path" >&2 ;;
      *) printf 'report failed (%s): %s\n' "$status" "$answer" >&2; exit 1 ;;
    esac
  done
done
