#!/usr/bin/env python3
"""W1 seq10-auto on SpiffWorkflow: the peer side of Baton's `baton bench`.

The process (seq10.bpmn) is start -> 10 script tasks (`n = n + 1`) -> end, the same
shape as Baton's benchmark workflow. Two modes, each run --runs times (median reported):

  memory   each instance is created and driven to completion with
           `workflow.do_engine_steps()`; nothing is saved.
  durable  each instance is driven one step at a time and after every step the whole
           workflow is serialized with SpiffWorkflow's JSON serializer
           (`BpmnWorkflowSerializer.serialize_json`), written over the instance's own file
           in a temp dir and fdatasync'ed: the state a durable engine must save after each
           step.

Instances run one after another in a single thread. A "step" is one of the 12 steps that
`baton bench` counts per instance (the start event, the 10 script tasks, the end event).
Spiff itself also runs 3 internal tasks per instance (`Start`, `<process>.EndJoin`, `End`);
in durable mode these are folded into the neighbouring step and get no save of their own,
so Spiff does 12 saves per instance, one per step, the last one of the completed workflow.

Output, one line per mode, space-separated key=value pairs (median of the runs):

  spiff-memory instances_per_s=... steps_per_s=... cpu_s_per_instance=... ...
  spiff-durable instances_per_s=... steps_per_s=... cpu_s_per_instance=... ...

Each instance is checked to end completed with n == 10.
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
STEPS_PER_INSTANCE = 12  # as `baton bench` counts them: start, 10 tasks, end
TASKS = 10


def load_spec(path):
    parser = BpmnParser()
    parser.add_bpmn_file(path)
    return parser.get_spec("seq10")


def new_instance(spec):
    """A new instance with n = 0 in the data of its first task (Baton's `default: 0`)."""
    workflow = BpmnWorkflow(spec)
    workflow.get_next_task(state=TaskState.READY).data["n"] = 0
    return workflow


def check(workflow):
    if not workflow.is_completed():
        raise SystemExit("a spiff instance did not complete")
    n = workflow.data.get("n")
    if n != TASKS:
        raise SystemExit(f"a spiff instance ended with n == {n!r}, expected {TASKS}")


def run_memory(spec, n):
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        workflow = new_instance(spec)
        workflow.do_engine_steps()
        latencies.append(time.perf_counter() - t0)
        check(workflow)
    return latencies


def save(serializer, workflow, fd):
    """Overwrite the instance's file with its serialized state and wait until it is on disk.

    The cheapest durable save: one write at offset 0 and one fdatasync (the call SQLite
    makes for a synced commit on Linux), with no write-to-temp-and-rename, so a Spiff
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
    """Drive one instance, saving after each of its 12 steps. Returns (saves, bytes saved)."""
    workflow = new_instance(spec)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        saves, saved_bytes = drive_and_save(workflow, serializer, fd)
    finally:
        os.close(fd)
    check(workflow)
    if saves != STEPS_PER_INSTANCE:
        raise SystemExit(f"a spiff instance took {saves} saves, expected {STEPS_PER_INSTANCE}")
    return saves, saved_bytes


def drive_and_save(workflow, serializer, fd):
    saves = 0
    saved_bytes = 0
    while not workflow.is_completed():
        # One step: the next BPMN element, with any internal Spiff tasks just before or after it.
        ran_element = False
        while True:
            task = workflow.get_next_task(state=TaskState.READY, manual=False)
            if task is None:
                break
            internal = getattr(task.task_spec, "bpmn_id", None) is None
            if ran_element and not internal:
                break
            task.run()
            ran_element = ran_element or not internal
        if not ran_element and not workflow.is_completed():
            raise SystemExit("a spiff instance is stuck: no ready task")
        saved_bytes += save(serializer, workflow, fd)
        saves += 1
    return saves, saved_bytes


def run_durable(spec, n, serializer, stats):
    latencies = []
    directory = tempfile.mkdtemp(prefix="spiff-w1-")
    try:
        for i in range(n):
            path = os.path.join(directory, f"instance-{i}.json")
            t0 = time.perf_counter()
            saves, saved_bytes = run_durable_instance(spec, serializer, path)
            latencies.append(time.perf_counter() - t0)
            stats["saves"] += saves
            stats["bytes"] += saved_bytes
        # What was saved is the state: the last instance's file reads back as finished, n == 10.
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
        print(f"{label} run {run}/{runs}: {n / wall:.1f} instances/s, {wall:.2f} s wall, {cpu:.2f} s cpu",
              file=sys.stderr, flush=True)
    rate = statistics.median(rates)
    return {
        "instances_per_s": f"{rate:.1f}",
        "steps_per_s": f"{rate * STEPS_PER_INSTANCE:.0f}",
        "cpu_s_per_instance": f"{statistics.median(cpus):.6f}",
        "p50_ms": f"{statistics.median(p50s) * 1e3:.3f}",
        "p99_ms": f"{statistics.median(p99s) * 1e3:.3f}",
        "instances": str(n),
        "runs": str(runs),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=2000, help="instances per run (default 2000)")
    ap.add_argument("--runs", type=int, default=3, help="runs per mode; the median is reported (default 3)")
    ap.add_argument("--mode", choices=["memory", "durable", "both"], default="both")
    ap.add_argument("--bpmn", default=os.path.join(HERE, "seq10.bpmn"))
    args = ap.parse_args()

    spec = load_spec(args.bpmn)
    serializer = BpmnWorkflowSerializer()
    print(f"# SpiffWorkflow {SPIFF_VERSION}, Python {sys.version.split()[0]}, "
          f"{STEPS_PER_INSTANCE} steps per instance, instances run one after another", flush=True)

    if args.mode in ("memory", "both"):
        result = measure("spiff-memory", lambda: run_memory(spec, args.instances), args.instances, args.runs)
        print("spiff-memory " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)

    if args.mode in ("durable", "both"):
        stats = {"saves": 0, "bytes": 0}
        result = measure("spiff-durable",
                         lambda: run_durable(spec, args.instances, serializer, stats),
                         args.instances, args.runs)
        result["saves_per_instance"] = str(stats["saves"] // (args.instances * args.runs))
        result["bytes_per_save"] = str(stats["bytes"] // max(1, stats["saves"]))
        print("spiff-durable " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)

    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"spiff-process peak_rss_mib={peak:.1f}", flush=True)


if __name__ == "__main__":
    main()
