//! Hostile text: ids and strings with unicode, control characters, `#` and `/`, or far too
//! long; and the scalars hostile durations, times and numbers are written with.

use super::tape::Tape;

/// Text a person should not be able to break anything with.
pub fn hostile_text(t: &mut Tape) -> String {
    match t.below(10) {
        0 => "plain text".into(),
        1 => "é漢字😀 ÿ".into(),
        2 => "\u{0}\u{1}\u{1b}[31m\u{7f}\r\n\t".into(),
        3 => "\u{202e}\u{200b}\u{feff}\u{2028}\u{85}".into(),
        4 => "#0".into(),
        5 => "a/b".into(),
        6 => "x".repeat(t.between(129, 10_000)),
        7 => "😀".repeat(t.between(33, 3_000)),
        8 => "'\"\\`${}[]:-?|>*&!%@".into(),
        _ => String::new(),
    }
}

/// A process, task or calendar id: mostly good ones, sometimes one the id rules refuse.
pub fn id(t: &mut Tape, plain: &str) -> String {
    if !t.hostile(8) {
        return plain.to_owned();
    }
    match t.below(9) {
        0 => format!("{plain}#1"),
        1 => format!("{plain}/x"),
        2 => "a".repeat(128),
        3 => "a".repeat(t.between(129, 5_000)),
        4 => format!("{plain}é"),
        5 => format!("9{plain}"),
        6 => format!("{plain} {plain}"),
        7 => String::new(),
        _ => hostile_text(t),
    }
}

/// A duration as written in a definition: plain ones, huge ones, and nonsense.
pub fn duration(t: &mut Tape) -> String {
    let plain = [
        "1s", "30s", "5m", "1h 30m", "2 days", "PT2H", "P1DT12H", "P2W", "PT0.5S", "250ms", "0s",
    ];
    // Huge, but (to the parsers) durations.
    // At the bound (100 years), or oddly written.
    let huge = [
        "100years",
        "36525days",
        "P36525D",
        "P5217W6D",
        "P1.5D",
        "PT0.000000001S",
        "1y 364d 23h 59m 59s 999ms",
    ];
    // Past the bound (a stored definition read back still has them), or no duration at all.
    let broken = [
        "300000000years",
        "18446744073709551615s",
        "584542046090years",
        "P999999999999W",
        "101years",
        "99999999999999999999s",
        "PT99999999999999999999H",
        "PT1e308S",
        "-5s",
        "1e9s",
        "soon",
        "",
        "P",
        "PT",
        "P1Y",
        "5",
    ];
    one_of(t, &broken, &huge, &plain)
}

/// A broken value (only in a case that is not calm), an extreme one, or a plain one.
fn one_of(t: &mut Tape, broken: &[&str], extreme: &[&str], plain: &[&str]) -> String {
    if t.hostile(20) {
        t.pick(broken).to_owned()
    } else if t.chance(20) {
        t.pick(extreme).to_owned()
    } else {
        t.pick(plain).to_owned()
    }
}

/// A point in time as `earliest_start`, `latest_start` and `latest_end` take it.
pub fn time(t: &mut Tape) -> String {
    let plain = [
        "22:00",
        "today 22:00",
        "tomorrow 06:00",
        "+2h",
        "+1m",
        "2024-03-01T12:30:00Z",
        "00:00",
    ];
    let extreme = [
        "+0s",
        "+100years",
        "9999-12-31T23:59:59Z",
        "0001-01-01T00:00:00Z",
        "2262-04-11T23:47:16.854775807Z",
        "1970-01-01T00:00:00+14:00",
        "9999-12-31T23:00:00-14:00",
        "tomorrow 23:59:59",
        "+P1D",
        "+P36525D",
    ];
    let broken = [
        "+300000000years",
        "+18446744073709551615s",
        "+99999999999999999999s",
        "25:00",
        "yesterday 10:00",
        "tomorrow 24:00",
        "+P36526D",
        "+",
        "2024-02-30T00:00:00Z",
    ];
    one_of(t, &broken, &extreme, &plain)
}

/// A whole number field (`parallel`, `max_restarts`, `priority`): plain, its largest, or broken.
pub fn number(t: &mut Tape, plain: &str, largest: &str) -> String {
    let broken = [
        "0",
        "-1",
        "101",
        "4294967295",
        "4294967296",
        "2147483648",
        "-2147483649",
        "9223372036854775808",
        "1e3",
        "1.5",
        "x",
        "0x10",
    ];
    if t.hostile(10) {
        t.pick(&broken).to_owned()
    } else if t.chance(10) {
        largest.to_owned()
    } else {
        plain.to_owned()
    }
}
