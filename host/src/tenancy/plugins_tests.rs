//! Unit tests of the pure rules of `tenancy/plugins.rs`.

use super::*;
use serde_json::json;

/// Unix ms of a UTC date and time (H. Hinnant's `days_from_civil`).
fn utc_ms(y: i64, m: i64, d: i64, h: i64, min: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    ((days * 24 + h) * 60 + min) * 60_000
}

fn office() -> Schedule {
    Schedule::from_json(
        r#"{ "periods": [
                { "weekday": 1, "from": "09:00", "to": "17:00" },
                { "weekday": 5, "from": "09:00", "to": "12:30" },
                { "weekday": 7, "from": "22:00", "to": "24:00" }
             ],
             "holidays": ["2026-01-06"] }"#,
    )
    .unwrap()
}

#[test]
fn local_time_knows_the_calendar() {
    let t = local_time(0, 0);
    assert_eq!(
        (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
        (1970, 1, 1, 0, 0, 4)
    );
    // 2026-01-05 is a Monday
    let t = local_time(utc_ms(2026, 1, 5, 13, 7), 0);
    assert_eq!(
        (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
        (2026, 1, 5, 13, 7, 1)
    );
    // leap day, a Sunday
    let t = local_time(utc_ms(2032, 2, 29, 23, 59), 0);
    assert_eq!((t.month, t.day, t.weekday), (2, 29, 7));
    // an offset crosses the date line both ways
    let t = local_time(utc_ms(2026, 1, 4, 23, 30), 60);
    assert_eq!((t.day, t.hour, t.minute, t.weekday), (5, 0, 30, 1));
    let t = local_time(utc_ms(2026, 1, 5, 0, 30), -300);
    assert_eq!((t.day, t.hour, t.minute, t.weekday), (4, 19, 30, 7));
    // before the epoch
    let t = local_time(-60_000, 0);
    assert_eq!(
        (t.year, t.month, t.day, t.hour, t.minute, t.weekday),
        (1969, 12, 31, 23, 59, 3)
    );
}

#[test]
fn open_within_periods_and_boundaries() {
    let s = office();
    // Monday 2026-01-05
    assert!(!s.is_open(utc_ms(2026, 1, 5, 8, 59)));
    assert!(s.is_open(utc_ms(2026, 1, 5, 9, 0)), "from is inclusive");
    assert!(s.is_open(utc_ms(2026, 1, 5, 16, 59)));
    assert!(!s.is_open(utc_ms(2026, 1, 5, 17, 0)), "to is exclusive");
    // Wednesday: no period
    assert!(!s.is_open(utc_ms(2026, 1, 7, 10, 0)));
    // Friday half day
    assert!(s.is_open(utc_ms(2026, 1, 9, 12, 29)));
    assert!(!s.is_open(utc_ms(2026, 1, 9, 12, 30)));
    // Sunday until midnight, closed on Monday 00:00 until 09:00
    assert!(s.is_open(utc_ms(2026, 1, 11, 23, 59)));
    assert!(!s.is_open(utc_ms(2026, 1, 12, 0, 0)));
    assert!(!s.is_open(utc_ms(2026, 1, 11, 21, 59)));
}

#[test]
fn holidays_close_the_whole_local_day() {
    let mut s = office();
    s.periods.push(Period {
        weekday: 2,
        from: "00:00".into(),
        to: "24:00".into(),
    });
    // Tuesday 2026-01-06 is a holiday; Tuesday 2026-01-13 is not
    assert!(!s.is_open(utc_ms(2026, 1, 6, 10, 0)));
    assert!(!s.is_open(utc_ms(2026, 1, 6, 0, 0)));
    assert!(s.is_open(utc_ms(2026, 1, 13, 10, 0)));
    // in UTC+2 the holiday starts at 22:00 UTC the day before
    s.time_zone_offset_minutes = Some(120);
    assert!(s.is_open(utc_ms(2026, 1, 12, 22, 0)), "Tuesday 00:00 local");
    assert!(
        !s.is_open(utc_ms(2026, 1, 12, 21, 59)),
        "Monday 23:59 local"
    );
    assert!(!s.is_open(utc_ms(2026, 1, 5, 22, 0)), "holiday 00:00 local");
    assert!(!s.is_open(utc_ms(2026, 1, 6, 21, 59)));
    assert!(
        !s.is_open(utc_ms(2026, 1, 6, 22, 0)),
        "Wednesday local: no period"
    );
}

#[test]
fn utc_offset_moves_the_periods() {
    let mut s = office();
    s.time_zone_offset_minutes = Some(60);
    // Monday 09:00 in UTC+1 is 08:00 UTC
    assert!(!s.is_open(utc_ms(2026, 1, 5, 7, 59)));
    assert!(s.is_open(utc_ms(2026, 1, 5, 8, 0)));
    assert!(!s.is_open(utc_ms(2026, 1, 5, 16, 0)));
    // west of UTC: Monday 09:00 in UTC-5 is 14:00 UTC
    s.time_zone_offset_minutes = Some(-300);
    assert!(!s.is_open(utc_ms(2026, 1, 5, 13, 59)));
    assert!(s.is_open(utc_ms(2026, 1, 5, 14, 0)));
    assert!(s.is_open(utc_ms(2026, 1, 5, 21, 59)));
    assert!(!s.is_open(utc_ms(2026, 1, 5, 22, 0)));
    // Sunday 22:00-24:00 in UTC-5 is Monday 03:00-05:00 UTC
    assert!(s.is_open(utc_ms(2026, 1, 12, 3, 0)));
    assert!(!s.is_open(utc_ms(2026, 1, 12, 5, 0)));
    // a half-hour zone
    s.time_zone_offset_minutes = Some(330);
    assert!(s.is_open(utc_ms(2026, 1, 5, 3, 30)));
    assert!(!s.is_open(utc_ms(2026, 1, 5, 3, 29)));
}

#[test]
fn schedules_are_validated() {
    assert!(Schedule::from_json("{}").unwrap().periods.is_empty());
    assert!(!Schedule::default().is_open(0), "no periods: always closed");
    for (bad, word) in [
        (
            r#"{"periods":[{"weekday":0,"from":"09:00","to":"10:00"}]}"#,
            "weekday",
        ),
        (
            r#"{"periods":[{"weekday":8,"from":"09:00","to":"10:00"}]}"#,
            "weekday",
        ),
        (
            r#"{"periods":[{"weekday":1,"from":"9:00","to":"10:00"}]}"#,
            "from",
        ),
        (
            r#"{"periods":[{"weekday":1,"from":"24:00","to":"24:00"}]}"#,
            "from",
        ),
        (
            r#"{"periods":[{"weekday":1,"from":"09:00","to":"09:60"}]}"#,
            "to",
        ),
        (
            r#"{"periods":[{"weekday":1,"from":"10:00","to":"09:00"}]}"#,
            "after",
        ),
        (
            r#"{"periods":[{"weekday":1,"from":"10:00","to":"10:00"}]}"#,
            "after",
        ),
        (r#"{"holidays":["2026-02-29"]}"#, "holiday"),
        (r#"{"holidays":["2026-1-5"]}"#, "holiday"),
        (r#"{"time_zone_offset_minutes":900}"#, "offset"),
        (r#"{"periods":[],"colour":"red"}"#, "colour"),
        ("[]", "schedule"),
    ] {
        let e = Schedule::from_json(bad).unwrap_err();
        assert!(e.contains(word), "{bad}: {e}");
    }
    assert!(Schedule::from_json(r#"{"holidays":["2028-02-29"]}"#).is_ok());
}

#[test]
fn settings_merge_subject_over_tenant() {
    let tenant = json!({"greeting": "hello", "limits": {"a": 1, "b": 2}, "list": [1, 2]});
    let subject = json!({"limits": {"b": 3}, "list": [9], "extra": true});
    assert_eq!(
        merge_settings(&tenant, &subject),
        json!({"greeting": "hello", "limits": {"a": 1, "b": 3}, "list": [9], "extra": true})
    );
    assert_eq!(merge_settings(&tenant, &json!({})), tenant);
    assert_eq!(merge_settings(&json!({}), &subject), subject);
}

#[test]
fn versions_follow_semver_precedence() {
    use std::cmp::Ordering::*;
    let ordered = [
        "0.9.0",
        "1.0.0-alpha",
        "1.0.0-alpha.1",
        "1.0.0-alpha.beta",
        "1.0.0-beta.2",
        "1.0.0-beta.11",
        "1.0.0-rc.1",
        "1.0.0",
        "1.0.1",
        "1.2.0",
        "1.10.0",
        "2.0.0",
    ];
    for (i, a) in ordered.iter().enumerate() {
        for (j, b) in ordered.iter().enumerate() {
            assert_eq!(compare_versions(a, b), Some(i.cmp(&j)), "{a} vs {b}");
        }
    }
    assert_eq!(compare_versions("1.0.0+build.7", "1.0.0"), Some(Equal));
    for bad in [
        "1",
        "1.0",
        "1.0.0.0",
        "01.0.0",
        "1.0.0-",
        "1.0.0-a..b",
        "v1.0.0",
        "",
    ] {
        assert!(!is_version(bad), "{bad}");
    }
    assert!(is_version("0.1.0-rc.1+sha.5114f85"));
}
