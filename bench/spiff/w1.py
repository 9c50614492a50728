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

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

import harness

STEPS_PER_INSTANCE = 12  # as `baton bench` counts them: start, 10 tasks, end
TASKS = 10


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


def memory_instance(spec):
    workflow = new_instance(spec)
    workflow.do_engine_steps()
    check(workflow)


def durable_instance(spec, serializer, fd):
    """Drive one instance, saving after each of its 12 steps. Returns (saves, bytes saved)."""
    workflow = new_instance(spec)
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
        saved_bytes += harness.save(serializer, workflow, fd)
        saves += 1
    check(workflow)
    if saves != STEPS_PER_INSTANCE:
        raise SystemExit(f"a spiff instance took {saves} saves, expected {STEPS_PER_INSTANCE}")
    return saves, saved_bytes


if __name__ == "__main__":
    harness.main(__doc__, "spiff", "seq10.bpmn", "seq10", 2000, {"steps_per_s": STEPS_PER_INSTANCE},
                 f"{STEPS_PER_INSTANCE} steps per instance", memory_instance, durable_instance, check)
