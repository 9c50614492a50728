fn show(name: &str, src: &str) {
    println!("=== {name}");
    for (i, l) in src.lines().enumerate() { println!("{:3}| {}", i + 1, l); }
    match baton_core::definition::parse("flow.yaml", src) {
        Ok(d) => println!("OK: {} tasks", d.tasks.len()),
        Err(e) => println!("{e}\n{:?}", e.diagnostics),
    }
}

#[test]
fn scratch() {
    show("block1", "id: p\ndata:\n  x: integer\ntasks:\n  - id: a\n    kind: set\n    set:\n      x: |\n        data.x + )\n");
    show("folded", "id: p\ndata:\n  x: integer\ntasks:\n  - id: a\n    kind: set\n    set:\n      x: >-\n        data.x +\n        )\n");
    show("plain multi", "id: p\ndata:\n  x: integer\ntasks:\n  - id: a\n    kind: set\n    set:\n      x: data.x +\n        data.y + )\n");
    show("dep status list", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after:\n      - task: a\n        status: [ended_ok, ended_fine]\n");
    show("data not map", "id: p\ndata: 5\ntasks:\n  - id: a\n    kind: end\n");
    show("other kind 2", "id: p\ntasks:\n  - id: a\n    kind: end\n    terminate: true\n    mode: all\n");
    show("data typo", "id: p\ndata:\n  n:\n    type: integer\n    defualt: 3\ntasks:\n  - id: e\n    kind: end\n");
    show("branch missing to", "id: p\ntasks:\n  - id: d\n    kind: decision\n    branches:\n      - when: 'true'\n  - id: e\n    kind: end\n");
    show("elze", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after: [a]\n    dependencies:\n      elze: skip\n");
    show("else bad", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after: [a]\n    dependencies:\n      else: ignore\n");
    show("after stat", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after:\n      - task: a\n        stat: ended_ok\n");
    show("after map unknown", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after:\n      - {task: x, status: ended_ok}\n");
    show("command num", "id: p\ntasks:\n  - id: a\n    kind: job\n    command: 42\n");
    show("no tasks", "id: p\ntasks: []\n");
    show("tasks missing", "id: p\n");
    show("empty", "");
    show("list", "- a\n- b\n");
    show("after string", "id: p\ntasks:\n  - id: a\n    kind: end\n  - id: b\n    kind: end\n    after: a\n");
    show("terminate yes", "id: p\ntasks:\n  - id: a\n    kind: end\n    terminate: yes\n");
    show("branch target", "id: p\ntasks:\n  - id: d\n    kind: decision\n    branches:\n      - when: 'true'\n        to: [ee]\n    otherwise: [ef]\n  - id: e\n    kind: end\n");
    show("mode", "id: p\ntasks:\n  - id: d\n    kind: decision\n    mode: any\n    branches:\n      - when: 'true'\n        to: [e]\n  - id: e\n    kind: end\n");
    show("self", "id: p\ntasks:\n  - id: a\n    kind: end\n    after: [a]\n");
    show("cycle3", "id: p\ntasks:\n  - id: s\n    kind: end\n  - id: a\n    kind: end\n    after: [s, c]\n  - id: b\n    kind: end\n    after: [a]\n  - id: c\n    kind: end\n    after: [b]\n");
    show("decision cycle", "id: p\ntasks:\n  - id: d\n    kind: decision\n    after: [e]\n    branches:\n      - when: 'true'\n        to: [e]\n  - id: e\n    kind: end\n");
    show("job no command", "id: p\ntasks:\n  - id: a\n    kind: job\n");
    show("default quoted", "id: p\ndata:\n  n: {type: integer, default: \"12\"}\n  f: {type: number, default: 1}\n  b: {type: boolean, default: yes}\ntasks:\n  - id: e\n    kind: end\n");
    show("block scalar", "id: p\ndata:\n  x: integer\ntasks:\n  - id: a\n    kind: set\n    set:\n      x: |\n        data.x +\n          )\n");
    show("multi errors", "id: p\ntasks:\n  - id: a\n    kind: jobb\n  - id: b\n    kind: end\n    after: [aa]\n");
    show("top missing id w/ data", "name: x\ndata:\n  id: string\ntasks:\n  - id: a\n    kind: end\n");
}
