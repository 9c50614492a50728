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
           a temp dir and fdatasync'ed (harness.save, as in w1.py): the state a durable engine must
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

from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

import harness

USER_TASKS = [f"u{i}" for i in range(1, 11)]
COMPLETIONS_PER_INSTANCE = len(USER_TASKS)
SAVES_PER_INSTANCE = 1 + COMPLETIONS_PER_INSTANCE  # after the start and after each completion


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
    check(workflow)


def memory_instance(spec):
    drive(BpmnWorkflow(spec), lambda workflow: None)


def durable_instance(spec, serializer, fd):
    """Drive one instance, saving after the start and each completion. Returns (saves, bytes)."""
    saved = [0, 0]  # saves, bytes

    def save_state(workflow):
        saved[0] += 1
        saved[1] += harness.save(serializer, workflow, fd)

    drive(BpmnWorkflow(spec), save_state)
    if saved[0] != SAVES_PER_INSTANCE:
        raise SystemExit(f"a spiff instance took {saved[0]} saves, expected {SAVES_PER_INSTANCE}")
    return saved[0], saved[1]


if __name__ == "__main__":
    harness.main(__doc__, "spiff-w2", "seq10_human.bpmn", "seq10_human", 500, {"completions_per_s": COMPLETIONS_PER_INSTANCE},
                 f"{COMPLETIONS_PER_INSTANCE} user-task completions per instance", memory_instance, durable_instance, check)
