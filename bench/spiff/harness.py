"""What w1.py and w2.py share: loading the BPMN, the durable save, the loop over instances
each saved to its own file, timing runs (medians), and the command line and output lines.

Each workload script supplies only its process: how to drive one instance in memory, how to
drive it saving after every step or command, and how to check that an instance finished.
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
from SpiffWorkflow.version import __version__ as SPIFF_VERSION

HERE = os.path.dirname(os.path.abspath(__file__))


def load_spec(path, process_id):
    parser = BpmnParser()
    parser.add_bpmn_file(path)
    return parser.get_spec(process_id)


def save(serializer, workflow, fd):
    """Overwrite the instance's file with its serialized state and wait until it is on disk.

    The cheapest durable save: one write at offset 0 and one fdatasync (the call SQLite makes
    for a synced commit on Linux), with no write-to-temp-and-rename, so a Spiff deployment
    that also wants its saves atomic would be slower than this.
    """
    data = serializer.serialize_json(workflow).encode("utf-8")
    view, offset = memoryview(data), 0
    while offset < len(data):
        offset += os.pwrite(fd, view[offset:], offset)
    os.ftruncate(fd, len(data))
    os.fdatasync(fd)
    return len(data)


def run_memory(n, run_instance):
    """Runs n instances one after another; run_instance() drives and checks one."""
    latencies = []
    for _ in range(n):
        t0 = time.perf_counter()
        run_instance()
        latencies.append(time.perf_counter() - t0)
    return latencies


def run_durable(n, serializer, stats, run_instance, check):
    """Runs n instances one after another, each saved to a file of its own in a temp dir.

    run_instance(fd) drives one instance, saving through `save` to fd, and returns
    (saves, bytes saved). At the end the last instance's file is read back and checked: what
    was saved is the state.
    """
    latencies = []
    directory = tempfile.mkdtemp(prefix="spiff-bench-")
    try:
        for i in range(n):
            path = os.path.join(directory, f"instance-{i}.json")
            t0 = time.perf_counter()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            try:
                saves, saved_bytes = run_instance(fd)
            finally:
                os.close(fd)
            latencies.append(time.perf_counter() - t0)
            stats["saves"] += saves
            stats["bytes"] += saved_bytes
        with open(path, "rb") as f:
            check(serializer.deserialize_json(f.read().decode("utf-8")))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    return latencies


def percentile(sorted_xs, p):
    return sorted_xs[min(len(sorted_xs) - 1, int(p * len(sorted_xs)))]


def measure(label, fn, n, runs, rates_per_instance):
    """Runs fn() `runs` times; medians of instances/s, the derived rates, CPU and latency.

    rates_per_instance: e.g. {"steps_per_s": 12}, each reported as instances/s times it.
    """
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
        derived = "".join(f", {n * k / wall:.0f} {name.removesuffix('_per_s')}/s" for name, k in rates_per_instance.items())
        print(f"{label} run {run}/{runs}: {n / wall:.1f} instances/s{derived}, {wall:.2f} s wall, {cpu:.2f} s cpu",
              file=sys.stderr, flush=True)
    rate = statistics.median(rates)
    result = {"instances_per_s": f"{rate:.1f}"}
    result.update({name: f"{rate * k:.0f}" for name, k in rates_per_instance.items()})
    result.update({
        "cpu_s_per_instance": f"{statistics.median(cpus):.6f}",
        "p50_ms": f"{statistics.median(p50s) * 1e3:.3f}",
        "p99_ms": f"{statistics.median(p99s) * 1e3:.3f}",
        "instances": str(n),
        "runs": str(runs),
    })
    return result


def main(doc, label, bpmn, process_id, default_instances, rates_per_instance, about, memory_instance, durable_instance, check):
    """The command line of a workload script and its output lines (`LABEL-memory ...`,
    `LABEL-durable ...`, `spiff-process peak_rss_mib=...`).

    memory_instance(spec) drives and checks one instance; durable_instance(spec, serializer,
    fd) does the same saving to fd and returns (saves, bytes).
    """
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--instances", type=int, default=default_instances, help=f"instances per run (default {default_instances})")
    ap.add_argument("--runs", type=int, default=3, help="runs per mode; the median is reported (default 3)")
    ap.add_argument("--mode", choices=["memory", "durable", "both"], default="both")
    ap.add_argument("--bpmn", default=os.path.join(HERE, bpmn))
    args = ap.parse_args()

    spec = load_spec(args.bpmn, process_id)
    serializer = BpmnWorkflowSerializer()
    print(f"# SpiffWorkflow {SPIFF_VERSION}, Python {sys.version.split()[0]}, {about}, instances run one after another", flush=True)

    def emit(name, result):
        print(f"{name} " + " ".join(f"{k}={v}" for k, v in result.items()), flush=True)

    if args.mode in ("memory", "both"):
        run = lambda: run_memory(args.instances, lambda: memory_instance(spec))
        emit(f"{label}-memory", measure(f"{label}-memory", run, args.instances, args.runs, rates_per_instance))

    if args.mode in ("durable", "both"):
        stats = {"saves": 0, "bytes": 0}
        run = lambda: run_durable(args.instances, serializer, stats, lambda fd: durable_instance(spec, serializer, fd), check)
        result = measure(f"{label}-durable", run, args.instances, args.runs, rates_per_instance)
        result["saves_per_instance"] = str(stats["saves"] // (args.instances * args.runs))
        result["bytes_per_save"] = str(stats["bytes"] // max(1, stats["saves"]))
        emit(f"{label}-durable", result)

    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"spiff-process peak_rss_mib={peak:.1f}", flush=True)
