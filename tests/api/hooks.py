"""Schemathesis hooks for Baton's API check (tests/api/check loads them).

They keep a run meaningful and within its time budget; neither changes what is checked of an
answer.
"""

import os

import schemathesis

# The run acts with one administrator's token. Schemathesis links operations by the values
# their answers hold, so it would find that token's id in `GET /api/tokens` and revoke it with
# `DELETE /api/tokens/{id}`; every request after that would get 401 and test nothing. A
# request to revoke the run's own token is sent for an unknown token id instead.
OWN_TOKEN = os.environ["API_CHECK_TOKEN_ID"]
UNKNOWN_TOKEN = "000000000000"

# A fetch with no job queued waits up to `timeout_ms` (5 minutes at most) by design; the run
# keeps each such wait short so that it stays within its budget (the long poll itself has a
# test of its own, on a real socket). A value past the bound is sent as it is: it is refused.
LONGEST_WAIT_MS = 20


@schemathesis.hook
def before_call(context, case, kwargs):
    path = case.operation.path
    if case.method.upper() == "DELETE" and path == "/api/tokens/{id}" and (case.path_parameters or {}).get("id") == OWN_TOKEN:
        case.path_parameters["id"] = UNKNOWN_TOKEN
    if path == "/api/external-jobs/fetch-and-lock" and isinstance(case.body, dict):
        wait = case.body.get("timeout_ms")
        if isinstance(wait, (int, float)) and not isinstance(wait, bool) and LONGEST_WAIT_MS < wait <= 300000:
            case.body["timeout_ms"] = LONGEST_WAIT_MS
