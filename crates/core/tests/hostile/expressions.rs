//! Hostile CEL expressions: long operator chains, deep parentheses, nested comprehensions,
//! huge list literals, results that grow (a string or list repeated by a comprehension),
//! division by zero, integer overflow, timestamp and duration overflow, bad conversions and
//! type errors, besides plain ones. Some stay within the deploy-time limits, some do not.

use super::tape::Tape;

/// Names of the data variables the generated definitions declare (see `grammar`).
pub const DATA: &[&str] = &["n", "s", "l", "m", "x"];

/// One expression.
pub fn expression(t: &mut Tape) -> String {
    if !t.chance(60) {
        return simple(t);
    }
    match t.below(12) {
        0 => chain(t),
        1 => {
            let depth = if t.calm {
                t.between(1, 95)
            } else {
                t.between(1, 160)
            };
            format!("{}{}{}", "(".repeat(depth), simple(t), ")".repeat(depth))
        }
        2 => comprehensions(t),
        3 => {
            let n = if t.calm {
                t.between(1, 900)
            } else {
                t.between(1, 2_000)
            };
            format!(
                "[{}]",
                (0..n).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
            )
        }
        4 => growing(t),
        5 => t
            .pick(&[
                "1 / 0",
                "data.n / 0",
                "1 % 0",
                "data.n % (data.n - data.n)",
                "1.0 / 0.0",
                "-9223372036854775808 / -1",
                "-9223372036854775808 % -1",
            ])
            .to_owned(),
        6 => t
            .pick(&[
                "9223372036854775807 + 1",
                "-9223372036854775807 - 2",
                "9223372036854775807 * 2",
                "-(-9223372036854775807 - 1)",
                "18446744073709551615u + 1u",
                "0u - 1u",
                "int(1e300)",
                "uint(-1)",
                "int(18446744073709551615u)",
                "int('99999999999999999999')",
                "double('nan') == double('nan')",
                "data.n * 9223372036854775807",
            ])
            .to_owned(),
        7 => t
            .pick(&[
                "now + duration('87600000h')",
                "timestamp('9999-12-31T23:59:59Z') + duration('1s')",
                "timestamp('0001-01-01T00:00:00Z') - duration('1s')",
                "now - timestamp('0001-01-01T00:00:00Z')",
                "duration('9999999999999999h')",
                "duration('-9223372036854775808ns') - duration('1ns')",
                "timestamp(253402300800)",
                "timestamp(-62135596801)",
                "timestamp('2024-13-45T99:99:99Z')",
                "now.getFullYear() + now.getMonth()",
                "string(now)",
                "string(duration('1s'))",
                "timestamp('2024-03-01T00:00:00Z') > now",
                "int(now)",
                "duration('1s') * 9223372036854775807",
            ])
            .to_owned(),
        8 => t
            .pick(&[
                "string(b'\\xff\\xfe')",
                "b'abc' + b'\\x00'",
                "size(b'\\xff')",
                "'a' + 1",
                "data.missing.deeper",
                "data.n.field",
                "[1, 2][5]",
                "data.l[-1]",
                "data.l[9223372036854775807]",
                "{'a': 1}['b']",
                "{1: 'a', true: 'b', 'k': 'c'}",
                "{'a': 1, 'a': 2}",
                "dyn(data.s) + dyn(data.n)",
                "type(data.x) == type(1)",
                "data.s.matches('(a+)+$')",
                "data.s.matches('[')",
                "data.s.matches('(((((((((((a{1000}){1000}){1000})))))))))')",
                "'é漢😀'.size()",
                "data.s.startsWith(data.s) && data.s.endsWith('') && data.s.contains('\\u0000')",
                "has(data.m.k)",
                "has(data.s.k)",
                "data.l.exists_one(v, v == data.l)",
                "tasks.t0.status == 'ended_ok'",
                "tasks.nope.status",
                "task.status + task.id",
                "task.exit_code / task.duration_ms",
                "instance.id + string(index) + string(item)",
                "item.k.k.k",
                "output.f",
            ])
            .to_owned(),
        9 if !t.calm => {
            // Nothing a deploy accepts: syntax errors and unknown variables.
            t.pick(&[
                "data.",
                "1 +",
                "((1)",
                "amount > 3",
                "[1, 2",
                "data.s.",
                "'unterminated",
                "a.b(",
                "@cost(1)",
                "__result__",
                "",
                " ",
            ])
            .to_owned()
        }
        10 => format!(
            "{} {} {}",
            simple(t),
            t.pick(&["+", "-", "*", "/", "%", "==", "<", "&&", "||", "in"]),
            simple(t)
        ),
        11 => {
            // At the source length limit (4,096 bytes: 683 terms), or one term past it.
            let n = if t.calm {
                t.between(600, 683)
            } else {
                t.between(683, 684)
            };
            vec!["true"; n].join("&&")
        }
        _ => simple(t),
    }
}

fn simple(t: &mut Tape) -> String {
    let var = DATA[t.below(DATA.len())];
    t.pick(&[
        "true",
        "data.n + 1",
        "data.n > 2",
        "data.s + 'x'",
        "size(data.l)",
        "data.l",
        "data.m",
        "data.x",
        "string(data.n)",
        "1",
        "'text'",
        "null",
        "[data.n, data.s]",
        "{'k': data.x}",
        "data.n == null",
        "now",
        "false",
    ])
    .replace("data.x", &format!("data.{var}"))
}

fn chain(t: &mut Tape) -> String {
    let op = t.pick(&[" + ", " && ", " || ", " == ", " * ", " - ", " ? 1 : ", "+"]);
    let balanced = op.contains('&') || op.contains('|');
    let term = if balanced { "true" } else { "1" };
    // Unbalanced chains nest once per operator: past 100 levels a deploy refuses them.
    let n = match (t.calm, balanced) {
        (true, false) => t.between(2, 90),
        (true, true) => t.between(2, 500),
        _ => t.between(2, 1_500),
    };
    vec![term; n].join(op)
}

fn comprehensions(t: &mut Tape) -> String {
    let depth = if t.calm {
        t.between(1, 3)
    } else {
        t.between(1, 4)
    };
    let macros = ["map", "all", "exists", "filter", "exists_one"];
    let mut body = String::from("true");
    for level in (0..depth).rev() {
        let m = macros[t.below(macros.len())];
        let range = t.pick(&["data.l", "[1, 2, 3]", "data.m", "data.s", "data.n"]);
        let var = format!("v{level}");
        body = match m {
            "map" => format!("{range}.map({var}, {body})"),
            "filter" => format!("{range}.filter({var}, {body} == {body})"),
            other => format!("{range}.{other}({var}, {body} != null)"),
        };
    }
    body
}

/// Results that grow far past the data they come from.
fn growing(t: &mut Tape) -> String {
    let var = format!("data.{}", DATA[t.below(DATA.len())]);
    if t.chance(40) {
        // In lists as deep as the syntax depth limit allows: deeper than any data limit.
        let depth = t.between(60, 97);
        let nested = format!("{}{var}{}", "[".repeat(depth), "]".repeat(depth));
        return if t.chance(50) {
            nested
        } else {
            format!("data.l.map(a, {nested})")
        };
    }
    t.pick(&[
        "data.l.map(a, data.l.map(b, data.l.map(c, data.s)))",
        "data.l.map(a, data.s + data.s + data.s + data.s)",
        "data.l.map(a, data.l)",
        "data.l.map(a, data.l.map(b, data.l))",
        "[data.l, data.l, data.l, data.l, data.l, data.l, data.l, data.l]",
        "data.s + data.s + data.s + data.s + data.s + data.s + data.s + data.s",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[data.x]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        "{'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': {'a': data.x}}}}}}}}}}}}}}}}",
    ])
    .replace("data.x", &var)
}
