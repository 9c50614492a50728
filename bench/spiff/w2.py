#!/usr/bin/env python3
"""W2 seq10-human on SpiffWorkflow: the peer side of Baton's `baton bench human`.

The process (seq10_human.bpmn) is start -> 10 user tasks u1..u10 in sequence -> end, the
same shape as Baton's W2 workflow. A client works each instance through: after the start it
completes the ready user task, one after another, until the instance has ended. Completing a
user task means setting its output (`task.data["done"] = True`), `task.run()`, and then
`workflow.do_engine_steps()` to carry the instance on to the next user task (or to its end).
Two modes, each run --runs times (median reported):

  memory   each instance is created, started with `workflow.do_engine_steps()` and its 10
           user tasks completed as above; nothing is saved.
  durable  the same, and after the start and after every user-task completion the whole
           workflow is serialized with SpiffWorkflow's JSON serializer
           (`BpmnWorkflowSerializer.serialize_json`), written over the instance's own file in
           a temp dir and fdatasync'ed (the save() of w1.py): the state a durable engine must
           have on disk before it acknowledges the command. 11 saves per instance.

Spiff has no claim operation (a user task is just READY until someone runs it), so there is
nothing to save for a claim: Baton does 21 durable commands per instance (start, 10 claims,
10 completes), Spiff here 11 saves (start, 10 completes). The comparison is per completed
user task, and Spiff's side of it leaves out the 10 claims.

Instances run one after another in a single thread. Spiff also runs internal tasks per
instance (`Start`, `<process>.EndJoin`, `End`) and the start and end events; these run inside
the `do_engine_steps()` that follows the start or the last completion, and get no save of
their own.

Output, one line per mode, space-separated key=value pairs (median of the runs;
completions_per_s = instances_per_s * 10):

  spiff-w2-memory instances_per_s=... completions_per_s=... cpu_s_per_instance=... p50_ms=... p99_ms=... ...
  spiff-w2-durable instances_per_s=... completions_per_s=... cpu_s_per_instance=... p50_ms=... p99_ms=... ...

Each instance is checked to end completed, with its 10 user tasks run in order u1..u10 and
the output of the last one (`done == True`) in the workflow's data.
"""

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time

from SpiffWorkflow.bpmn.parser.BpmnParser import BpmnParser
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from SpiffWorkflow.version import __version__ as SPIFF_VERSION

HERE = os.path.dirname(os.path.abspath(__file__))
USER_TASKS = [f"u{i}" for i in range(1, 11)]
COMPLETIONS_PER_INSTANCE = len(USER_TASKS)
SAVES_PER_INSTANCE = 1 + COMPLETIONS_PER_INSTANCE  # after the start and after each completion


def load_spec(path):
    parser = BpmnParser()
    parser.add_bpmn_file(path)
    return parser.get_spec("seq10_human")


def check(workflow):
    """The instance ended, and the last user task's output reached the workflow's data."""
    if not workflow.is_completed():
        raise SystemExit("a spiff instance did not complete")
    done = workflow.data.get("done")
    if done is not True:
        raise SystemExit(f"a spiff instance ended with done == {done!r}, expected True")
    # Every user task ran, once each.
    ran = sorted(t.task_spec.bpmn_id for t in workflow.get_tasks(state=TaskState.COMPLETED, manual=True))
    if ran != sorted(USER_TASKS):
        raise SystemExit(f"a spiff instance completed the user tasks {ran}, expected {USER_TASKS}")


def drive(workflow, after_command):
    """Start the instance and complete its user tasks in order, as a client would.

    after_command(workflow) is called after the start and after every user-task completion
    (11 times): where a durable engine saves before it acknowledges the command.
    Returns the ids of the user tasks completed, in order.
    """
    workflow.do_engine_steps()
    after_command(workflow)
    completed = []
    while not workflow.is_completed():
        task = workflow.get_next_task(state=TaskState.READY, manual=True)
        if task is None:
            raise SystemExit("a spiff instance is stuck: not completed and no ready user task")
        task.data["done"] = True  # the completion's output
        task.run()
        workflow.do_engine_steps()
        completed.append(task.task_spec.bpmn_id)
        after_command(workflow)
    if completed != USER_TASKS:
        raise SystemExit(f"a spiff instance ran the user tasks {completed}, expected {USER_TASKS} in order")
    return completed


def run_memory(spec, n):
    latencies = []
    nothing = lambda workflow: None
    for _ in range(n):
        t0 = time.perf_counter()
        workflow = BpmnWorkflow(spec)
        drive(workflow, nothing)
        latencies.append(time.perf_counter() - t0)
        check(workflow)
    return latencies


def save(serializer, workflow, fd):
    """Overwrite the instance's file with its serialized state and wait until it is on disk.

    As in w1.py: the cheapest durable save, one write at offset 0 and one fdatasync (the call
    SQLite makes for a synced commit on Linux), with no write-to-temp-and-rename, so a Spiff
    deployment that also wants its saves atomic would be slower than this.
    """
    data = serializer.serialize_json(workflow).encode("utf-8")
    view, offset = memoryview(data), 0
    while offset < len(data):
        offset += os.pwrite(fd, view[offset:], offset)
    os.ftruncate(fd, len(data))
    os.fdatasync(fd)
    return len(data)


def run_durable_instance(spec, serializer, path):
    """Drive one instance, saving after the start and each completion. Returns (saves, bytes)."""
    workflow = BpmnWorkflow(spec)
    saved = [0, 0]  # saves, bytes

    def save_state(wf):
        saved[1] += save(serializer, wf, fd)
        saved[0] += 1

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        drive(workflow, save_state)
    finally:
        os.close(fd)
    check(workflow)
    if saved[0] != SAVES_PER_INSTANCE:
        raise SystemExit(f"a spiff instance took {saved[0]} saves, expected {SAVES_PER_INSTANCE}")
    return saved[0], saved[1]


def run_durable(spec, n, serializer, stats):
    latencies = []
    directory = tempfile.mkdtemp(prefix="spiff-w2-")
    try:
        for i in range(n):
            path = os.path.join(directory, f"instance-{i}.json")
            t0 = time.perf_counter()
            saves, saved_bytes = run_durable_instance(spec, serializer, path)
            latencies.append(time.perf_counter() - t0)
            stats["saves"] += saves
            stats["bytes"] += saved_bytes
        # What was saved is the state: the last instance's file reads back as finished.
        with open(path, "rb") as f:
            check(serializer.deserialize_json(f.read().decode("utf-8")))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return latencies


def percentile(sorted_xs, p):
    return sorted_xs[min(len(sorted_xs) - 1, int(p * len(sorted_xs)))]


def measure(label, fn, n, runs):
    rates, cpus, p50s, p99s = [], [], [], []
    for run in range(1, runs + 1):
        wall0, cpu0 = time.perf_counter(), time.process_time()
        latencies = fn()
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        latencies.sort()
        rates.append(n / wall)
        cpus.append(cpu / n)
        p50s.append(percentile(latencies, 0.50))
        p99s.append(percentile(latencies, 0.99))
        print(f"{label} run {run}/{runs}: {n / wall:.1f} instances/s, "
              f"{n * COMPLETIONS_PER_INSTANCE / wall:.0f} completions/s, {wall:.2f} s wall, {cpu:.2f} s cpu",
              file=sys.stderr, flush=True)
    rate = statistics.median(rates)
    return {
        "instances_per_s": f"{rate:.1f}",
        "completions_per_s": f"{rate * COMPLETIONS_PER_INSTANCE:.0f}",
        "cpu_s_per_instance": f"{statistics.median(cpus):.6f}",
        "p50_ms": f"{statistics.median(p50s) * 1e3:.3f}",
        "p99_ms": f"{statistics.median(p99s) * 1e3:.3f}",
        "instances": str(n),
        "runs": str(runs),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=500, help="instances per run (default 500)")
    ap.add_argument("--runs", type=int, default=3, help="runs per mode; the median is reported (default 3)")
    ap.add_argument("--mode", choices=["memory", "durable", "both"], default="both")
    ap.add_argument("--bpmn", default=os.path.join(HERE, "seq10_human.bpmn"))
    args = ap.parse_args()

    spec = load_spec(args.bpmn)
    serializer = BpmnWorkflowSerializer()
    print(f"# SpiffWorkflow {SPIFF_VERSION}, Python {sys.version.split()[0]}, "
          f"{COMPLETIONS_PER_INSTANCE} user-task completions per instance, instances run one after another",
          flush=True)

    if args.mode in ("memory", "both"):
        result = measure("spiff-w2-memory", lambda: run_memory(spec, args.instances), args.instances, args.runs)
        print("spiff-w2-memory " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)

    if args.mode in ("durable", "both"):
        stats = {"saves": 0, "bytes": 0}
        result = measure("spiff-w2-durable",
                         lambda: run_durable(spec, args.instances, serializer, stats),
                         args.instances, args.runs)
        result["saves_per_instance"] = str(stats["saves"] // (args.instances * args.runs))
        result["bytes_per_save"] = str(stats["bytes"] // max(1, stats["saves"]))
        print("spiff-w2-durable " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)

    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"spiff-process peak_rss_mib={peak:.1f}", flush=True)


if __name__ == "__main__":
    main()
