//! Hostile data: start data, job output, prompt input and human task output that is deep,
//! wide or big, with extreme numbers and text full of unicode and control characters.

use serde_json::{Map, Value};

use super::expressions::DATA;
use super::tape::Tape;

/// A JSON value.
pub fn value(t: &mut Tape) -> Value {
    match t.below(14) {
        0 => Value::from(t.below(10) as i64),
        1 => Value::String("text".into()),
        2 => Value::Null,
        3 => Value::Bool(true),
        4 => serde_json::json!([1, 2, 3]),
        5 => serde_json::json!({"k": "v"}),
        6 => extreme_number(t),
        7 => Value::String(super::text::hostile_text(t)),
        8 => deep(t.between(2, 300), t.chance(50)),
        9 => Value::Array(
            (0..t.between(10, 3_000))
                .map(|i| Value::from(i as i64))
                .collect(),
        ),
        10 => Value::Object(
            (0..t.between(10, 3_000))
                .map(|i| (format!("k{i}"), Value::from(i as i64)))
                .collect(),
        ),
        11 if t.chance(5) => Value::String("x".repeat(t.between(1_000, 1_100_000))),
        11 => Value::String("x".repeat(t.between(1_000, 20_000))),
        12 => Value::Array(vec![
            Value::String("y".repeat(t.between(100, 5_000)));
            t.between(1, 300)
        ]),
        _ => Value::Array((0..t.between(1, 4)).map(|_| value(t)).collect()),
    }
}

fn extreme_number(t: &mut Tape) -> Value {
    match t.below(8) {
        0 => Value::from(i64::MAX),
        1 => Value::from(i64::MIN),
        2 => Value::from(u64::MAX),
        3 => Value::from(f64::MAX),
        4 => Value::from(-0.0f64),
        5 => Value::from(f64::MIN_POSITIVE / 2.0),
        6 => Value::from(1.5f64),
        _ => Value::from(i64::from(i32::MIN)),
    }
}

/// `depth` levels of lists (or objects) around a number.
pub fn deep(depth: usize, objects: bool) -> Value {
    let mut value = Value::from(1);
    for _ in 1..depth {
        value = if objects {
            Value::Object([("k".to_owned(), value)].into_iter().collect())
        } else {
            Value::Array(vec![value])
        };
    }
    value
}

/// A payload object: mostly the declared variables, sometimes undeclared keys.
pub fn object(t: &mut Tape) -> Map<String, Value> {
    let mut map = Map::new();
    for _ in 0..t.below(4) {
        let key = if t.chance(15) {
            super::text::hostile_text(t)
        } else {
            DATA[t.below(DATA.len())].to_owned()
        };
        map.insert(key, value(t));
    }
    map
}

/// Start data: the declared variables with values of their types (deep, wide, big or
/// extreme), sometimes of the wrong type or undeclared.
pub fn start(t: &mut Tape) -> Map<String, Value> {
    if t.chance(15) {
        return object(t);
    }
    let mut map = Map::new();
    for name in DATA {
        if !t.chance(70) {
            continue;
        }
        let value = match *name {
            "n" => Value::from([0, 3, i64::MAX, i64::MIN, -1][t.below(5)]),
            "s" => Value::String(if t.chance(15) {
                "s".repeat(t.between(100, 20_000))
            } else {
                super::text::hostile_text(t)
            }),
            "l" => match t.below(4) {
                0 => Value::Array(
                    (0..t.between(0, 3_000))
                        .map(|i| Value::from(i as i64))
                        .collect(),
                ),
                1 => Value::Array(vec![deep(t.between(1, 120), false)]),
                2 => Value::Array(vec![
                    Value::String("y".repeat(t.between(1, 3_000)));
                    t.between(1, 200)
                ]),
                _ => serde_json::json!([1, 2, 3]),
            },
            "m" => match t.below(3) {
                0 => Value::Object(
                    (0..t.between(0, 3_000))
                        .map(|i| (format!("k{i}"), Value::from(i as i64)))
                        .collect(),
                ),
                1 => Value::Object(
                    [("k".to_owned(), deep(t.between(1, 120), true))]
                        .into_iter()
                        .collect(),
                ),
                _ => serde_json::json!({"k": {"k": 1}}),
            },
            _ => value(t),
        };
        map.insert((*name).to_owned(), value);
    }
    map
}
