//! Serde for the timestamps in stored states and events: the text chrono writes (RFC 3339 in
//! UTC, `Z`, the fraction as 0, 3, 6 or 9 digits as needed), written without `fmt`.
//!
//! Why not chrono's own: it formats through `fmt::Display`, which serde_json feeds to its
//! string escaper a piece at a time; with a dozen timestamps in a state that was about a tenth
//! of the time the engine spends on a human-task step (the W2 benchmark's profile). Reading back
//! uses chrono's parser unchanged.

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Deserializer, Serializer};

/// The latest instant Baton computes: the end of year 9999. Stores keep instants as RFC 3339
/// text, which has four-digit years (and sorts as text only then), so a timer is never set
/// past it, however long the duration it waits for.
pub const LATEST: DateTime<Utc> = match DateTime::from_timestamp(253_402_300_799, 0) {
    Some(t) => t,
    None => panic!("9999-12-31T23:59:59Z is an instant"),
};

/// `t + d`, or [`LATEST`] if that is later: how every duration is added to an instant.
pub fn after(t: DateTime<Utc>, d: std::time::Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .map_or(LATEST, |t| t.min(LATEST))
}

/// Longest text [`format`] writes: chrono's for the largest years, `+262142-12-31T23:59:59.999999999Z`.
const MAX_TEXT: usize = 40;

/// `2026-11-25T23:49:12.798062174Z`: 30 bytes or fewer for four-digit years.
fn format(t: &DateTime<Utc>, buf: &mut [u8; MAX_TEXT]) -> usize {
    fn digits(buf: &mut [u8], mut n: u32) {
        for b in buf.iter_mut().rev() {
            *b = b'0' + (n % 10) as u8;
            n /= 10;
        }
    }
    let year = t.year();
    if !(0..=9999).contains(&year) {
        // Outside four-digit years chrono writes a sign and more digits; let it.
        let text = t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        return n;
    }
    digits(&mut buf[0..4], year as u32);
    buf[4] = b'-';
    digits(&mut buf[5..7], t.month());
    buf[7] = b'-';
    digits(&mut buf[8..10], t.day());
    buf[10] = b'T';
    digits(&mut buf[11..13], t.hour());
    buf[13] = b':';
    digits(&mut buf[14..16], t.minute());
    buf[16] = b':';
    // A leap second shows as second 60, as chrono writes it.
    let nanos = t.nanosecond();
    let (second, nanos) = if nanos >= 1_000_000_000 {
        (60, nanos - 1_000_000_000)
    } else {
        (t.second(), nanos)
    };
    digits(&mut buf[17..19], second);
    let mut end = 19;
    let fraction = match nanos {
        0 => None,
        n if n % 1_000_000 == 0 => Some((n / 1_000_000, 3)),
        n if n % 1_000 == 0 => Some((n / 1_000, 6)),
        n => Some((n, 9)),
    };
    if let Some((value, width)) = fraction {
        buf[end] = b'.';
        digits(&mut buf[end + 1..end + 1 + width], value);
        end += 1 + width;
    }
    buf[end] = b'Z';
    end + 1
}

pub fn serialize<S: Serializer>(t: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut buf = [0u8; MAX_TEXT];
    let n = format(t, &mut buf);
    serializer.serialize_str(std::str::from_utf8(&buf[..n]).expect("ASCII"))
}

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    DateTime::<Utc>::deserialize(deserializer)
}

/// The same for an optional timestamp.
pub mod option {
    use super::*;

    pub fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::serialize(t, serializer),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn ours(t: &DateTime<Utc>) -> String {
        let mut buf = [0u8; MAX_TEXT];
        let n = format(t, &mut buf);
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn writes_what_chrono_writes_for_each_fraction_width() {
        let base = Utc.with_ymd_and_hms(2026, 11, 25, 23, 49, 12).unwrap();
        for nanos in [
            0,
            5_000_000,
            798_000_000,
            798_062_000,
            798_062_174,
            1,
            999_999_999,
        ] {
            let t = base + chrono::Duration::nanoseconds(nanos);
            assert_eq!(
                ours(&t),
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
        }
        assert_eq!(ours(&base), "2026-11-25T23:49:12Z");
    }

    #[test]
    fn every_instant_chrono_holds_is_written_whole_and_reads_back() {
        for t in [
            DateTime::<Utc>::MAX_UTC,
            DateTime::<Utc>::MIN_UTC,
            LATEST + chrono::Duration::nanoseconds(999_999_999),
        ] {
            assert_eq!(
                ours(&t),
                t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            );
            let json = serde_json::to_string(&Wrapper(t)).unwrap();
            assert_eq!(serde_json::from_str::<Wrapper>(&json).unwrap().0, t);
        }
    }

    #[test]
    fn a_duration_added_to_an_instant_stops_at_the_end_of_year_9999() {
        let base = Utc.with_ymd_and_hms(2026, 11, 25, 23, 49, 12).unwrap();
        assert_eq!(
            after(base, std::time::Duration::from_secs(60)),
            base + chrono::Duration::seconds(60)
        );
        assert_eq!(
            after(
                base,
                std::time::Duration::from_secs(300_000_000 * 31_557_600)
            ),
            LATEST
        );
        assert_eq!(after(base, std::time::Duration::MAX), LATEST);
        assert_eq!(
            after(DateTime::<Utc>::MAX_UTC, std::time::Duration::from_secs(1)),
            LATEST
        );
        assert_eq!(ours(&LATEST), "9999-12-31T23:59:59Z");
    }

    proptest! {
        #[test]
        fn any_timestamp_reads_back_and_matches_chrono(secs in -8_200_000_000_000i64..8_200_000_000_000i64, nanos in 0u32..1_000_000_000) {
            let t = Utc.timestamp_opt(secs, nanos).unwrap();
            prop_assert_eq!(ours(&t), t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true));
            let json = serde_json::to_string(&Wrapper(t)).unwrap();
            prop_assert_eq!(serde_json::from_str::<Wrapper>(&json).unwrap().0, t);
        }
    }

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Wrapper(#[serde(with = "super")] DateTime<Utc>);
}
