//! The hostile-input target over the whole definition path: YAML text → deploy checks →
//! compiled definition → instances run in the pure core with hostile start data and commands
//! → CEL evaluated at run time. Definitions come from a grammar of task kinds and fields and
//! are then mutated (deep nesting, huge numbers and durations, unicode and control
//! characters, long ids, `#` in ids, duplicate and unknown keys, cycles, tabs, wrong types);
//! expressions and data are hostile too (see `hostile/`).
//!
//! What must hold: nothing panics or overflows the stack of a 2 MiB thread (an engine worker's);
//! every refusal carries a message and a line and column inside the file; every accepted
//! definition starts and steps; a failing evaluation ends its task with a reason; every state
//! can be stored and read back; process data never nests deeper than the data limits.
//!
//! The run in the test suite is bounded and repeatable (a fixed seed). For a longer one set
//! `PROPTEST_CASES` (and `PROPTEST_RNG_SEED` for other cases), e.g.
//! `PROPTEST_CASES=200000 cargo test --release -p baton-core --test hostile_input`.

mod hostile;

use std::sync::Arc;
use std::time::Duration as StdDuration;

use baton_core::calendar::{parse_calendar, Calendar};
use baton_core::definition::{parse_with, DefinitionError};
use baton_core::expr::EvalLimits;
use baton_core::{parse_definition, DataLimits, Knowledge};
use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use proptest::test_runner::RngSeed;

use hostile::tape::Tape;
use hostile::{grammar, run, yaml};

/// Cases in the test suite's run: about 50 s of one core in a debug build.
const CASES: u32 = 8_000;

fn config() -> ProptestConfig {
    let from_env = ProptestConfig::default();
    ProptestConfig {
        cases: if std::env::var_os("PROPTEST_CASES").is_some() {
            from_env.cases
        } else {
            CASES
        },
        rng_seed: if std::env::var_os("PROPTEST_RNG_SEED").is_some() {
            from_env.rng_seed
        } else {
            RngSeed::Fixed(0x05_7113)
        },
        failure_persistence: None,
        max_shrink_iters: 20_000,
        ..from_env
    }
}

/// What the engine would know: data limits, an evaluation budget, deployed calendars and
/// learned expected runtimes, each plain or extreme.
fn knowledge(t: &mut Tape) -> Knowledge {
    let limits = match t.below(4) {
        0 | 1 => DataLimits::new(8, 4096),
        2 => Ok(DataLimits::default()),
        _ => Ok(DataLimits::CEILING),
    };
    let eval_limits = if t.chance(15) {
        EvalLimits::DEFAULT
    } else {
        EvalLimits {
            max_cost: 2_000,
            max_result_bytes: 16 << 10,
        }
    };
    let mut knowledge = Knowledge {
        limits: limits.expect("valid limits"),
        eval_limits,
        ..Knowledge::default()
    };
    let deployed = [
        "calendar: business-days\ntimezone: Europe/Berlin\ninclude:\n  - weekdays: [mon, tue, wed, thu, fri]\nexclude:\n  - calendar: holidays\n",
        "calendar: holidays\nexclude:\n  - dates: [2024-12-25]\n",
    ];
    for source in deployed {
        let calendar =
            parse_calendar("calendar.yaml", source).expect("the deployed calendars parse");
        knowledge
            .calendars
            .insert(calendar.id.clone(), Arc::new(calendar));
    }
    if t.chance(20) {
        let runtime = [
            StdDuration::from_secs(1),
            StdDuration::from_millis(u64::MAX),
            StdDuration::ZERO,
        ][t.below(3)];
        for task in ["t0", "t1", "t2"] {
            knowledge.expected_runtimes.insert(task.to_owned(), runtime);
        }
    }
    knowledge
}

/// The moment the case runs at: mostly an ordinary one, sometimes the edges of the calendar.
fn now(t: &mut Tape) -> DateTime<Utc> {
    let plain = Utc.with_ymd_and_hms(2024, 3, 1, 12, 0, 0).unwrap();
    if !t.chance(10) {
        return plain;
    }
    match t.below(4) {
        0 => Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
        1 => Utc.with_ymd_and_hms(1, 1, 1, 0, 0, 0).unwrap(),
        2 => Utc.with_ymd_and_hms(2262, 4, 11, 23, 47, 16).unwrap(),
        _ => Utc.with_ymd_and_hms(1970, 1, 1, 0, 0, 0).unwrap(),
    }
}

/// The lines of a file as the YAML parser counts them (`\r\n`, `\r` and `\n` end a line),
/// each as its number of characters.
fn line_lengths(text: &str) -> Vec<usize> {
    text.replace("\r\n", "\n")
        .split(['\n', '\r'])
        .map(|line| line.chars().count())
        .collect()
}

/// A refusal names the file, and a line and column inside it, and says what is wrong.
fn check_refusal(text: &str, error: &DefinitionError) -> Result<(), String> {
    if error.diagnostics.is_empty() {
        return Err("a refusal without a problem".into());
    }
    let lines = line_lengths(text);
    for d in &error.diagnostics {
        if d.message.trim().is_empty() {
            return Err(format!(
                "a problem without a message at {}:{}",
                d.line, d.column
            ));
        }
        let line_ok = d.line >= 1 && d.line <= lines.len();
        let column_ok = line_ok && d.column >= 1 && d.column <= lines[d.line - 1] + 1;
        if !column_ok {
            let width = lines.get(d.line.wrapping_sub(1)).copied();
            return Err(format!(
                "{}:{} is outside the file ({} lines; that line has {width:?} characters): {}",
                d.line,
                d.column,
                lines.len(),
                d.message
            ));
        }
    }
    let shown = error.to_string();
    let first = &error.diagnostics[0];
    if !shown.starts_with(&format!("hostile.yaml:{}:{}: ", first.line, first.column)) {
        return Err(format!(
            "the refusal is not shown as file:line:column: {shown}"
        ));
    }
    Ok(())
}

/// One case: a calendar or a definition from the tape, checked as a deploy checks it, and
/// (if it deploys) run.
fn case(values: &[u16]) -> Result<(), String> {
    let mut t = Tape::new(values);
    let mut knowledge = knowledge(&mut t);
    let now = now(&mut t);
    let calendar_file = t.chance(10);
    let mut tree = if calendar_file {
        grammar::calendar(&mut t)
    } else {
        grammar::definition(&mut t)
    };
    yaml::mutate(&mut tree, &mut t);
    let json = t.chance(15);
    let mut text = yaml::render(&tree, json);
    yaml::mutate_text(&mut text, &mut t);
    if calendar_file {
        return match parse_calendar("hostile.yaml", &text) {
            Err(e) => check_refusal(&text, &e)
                .map_err(|e| format!("{e}\n--- the calendar:\n{}", shown(&text))),
            Ok(calendar) => deployed_calendar(calendar, &knowledge, now),
        };
    }
    if t.chance(5) {
        // A redeployed calendar that refers to itself through another.
        let cyclic = parse_calendar(
            "holidays.yaml",
            "calendar: holidays\ninclude:\n  - calendar: business-days\n",
        )
        .expect("parses");
        knowledge
            .calendars
            .insert(cyclic.id.clone(), Arc::new(cyclic));
    }
    // Mostly as a deploy checks it; sometimes as a stored definition is read back (durations
    // past their bound, defaults up to the ceiling of the data limits).
    let read_back = t.chance(20);
    let parsed = if read_back {
        parse_definition("hostile.yaml", &text)
    } else {
        parse_with("hostile.yaml", &text, &knowledge.limits)
    };
    let max_depth = if read_back {
        DataLimits::CEILING.max_depth
    } else {
        knowledge.limits.max_depth
    };
    match parsed {
        Err(e) => {
            check_refusal(&text, &e).map_err(|e| format!("{e}\n--- the file:\n{}", shown(&text)))
        }
        Ok(def) => run::run(&def, &knowledge, max_depth, now, &mut t)
            .map_err(|e| format!("{e}\n--- the definition:\n{}", shown(&text))),
    }
}

/// A file as a failure shows it: long lines cut.
fn shown(text: &str) -> String {
    text.lines()
        .map(|line| {
            if line.chars().count() > 200 {
                format!("{}…", line.chars().take(200).collect::<String>())
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A calendar that deploys answers for any day, through its references, without a panic.
fn deployed_calendar(
    calendar: Calendar,
    knowledge: &Knowledge,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let lookup = |id: &str| knowledge.calendars.get(id).cloned();
    let _ = calendar.check_references(&lookup);
    let _ = calendar.contains(now, &lookup);
    Ok(())
}

/// Runs `f` on a thread with the stack of an engine worker (2 MiB), turning a panic into a failure.
fn on_worker_stack(f: impl FnOnce() -> Result<(), String> + Send + 'static) -> Result<(), String> {
    let joined = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(f)
        .expect("a thread")
        .join();
    match joined {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned());
            Err(format!(
                "panicked: {}",
                message.unwrap_or_else(|| "a panic".into())
            ))
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn no_hostile_definition_data_or_command_crashes_the_core_or_poisons_an_instance(values in prop::collection::vec(any::<u16>(), 0..500)) {
        let result = on_worker_stack(move || case(&values));
        prop_assert!(result.is_ok(), "{}", result.unwrap_err());
    }
}
