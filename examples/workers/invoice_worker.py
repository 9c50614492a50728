#!/usr/bin/env python3
"""An external worker for Baton in plain Python (standard library only).

It long-polls `baton serve` for jobs of the topic `invoice-check`, decides each, and reports
under its lock: `complete` with output data, or `end` with `ended_not_ok` for a business error.
A report the server refuses with 409 lost its lock (it expired and the job went to another
worker): the worker drops it and goes on.

    BATON_SERVER=http://127.0.0.1:8080 BATON_TOKEN=baton_... python3 invoice_worker.py [--jobs N]

The token's user must be an administrator or a member of the group `workers`.
"""

import argparse
import json
import os
import socket
import sys
import urllib.error
import urllib.request

TOPIC = "invoice-check"


def call(server, token, path, body):
    request = urllib.request.Request(
        server.rstrip("/") + path,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def decide(job):
    amount = job["data"].get("amount", 0)
    if amount < 0:
        return "end", {"status": "ended_not_ok", "message": f"a negative amount ({amount}) is not an invoice"}
    return "complete", {"data": {"approved": amount <= 1000, "checked_by": "python"}}


def main():
    parser = argparse.ArgumentParser(description="Check invoices for Baton.")
    parser.add_argument("--jobs", type=int, default=0, help="exit after this many jobs (0: run until stopped)")
    parser.add_argument("--worker-id", default=f"py-{socket.gethostname()}-{os.getpid()}")
    args = parser.parse_args()
    server, token = os.environ["BATON_SERVER"], os.environ["BATON_TOKEN"]
    done = 0
    while args.jobs == 0 or done < args.jobs:
        fetch = {"worker_id": args.worker_id, "topics": [TOPIC], "max_jobs": 10, "lock_duration_ms": 60000, "timeout_ms": 20000}
        for job in call(server, token, "/api/external-jobs/fetch-and-lock", fetch):
            action, report = decide(job)
            report["worker_id"] = args.worker_id
            path = f"/api/external-jobs/{job['instance']}/{job['task']}/{job['attempt']}/{action}"
            try:
                call(server, token, path, report)
                done += 1
                print(f"{action} {job['instance']} (amount {job['data'].get('amount')})", flush=True)
            except urllib.error.HTTPError as e:
                if e.code != 409:
                    raise
                print(f"lost the lock of {job['instance']}: {json.load(e)['error']['message']}", file=sys.stderr)


if __name__ == "__main__":
    main()
