//! The tenant's schedules (business hours, holidays) and the time
//! (capability `schedule`).

use crate::bindings::centrale::plugin::schedule as wit;

/// A local date and time in the tenant's time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LocalTime {
    /// Year, e.g. 2026.
    pub year: u16,
    /// 1-12.
    pub month: u8,
    /// 1-31.
    pub day: u8,
    /// 0-23.
    pub hour: u8,
    /// 0-59.
    pub minute: u8,
    /// 1 = Monday ... 7 = Sunday (ISO 8601).
    pub weekday: u8,
}

impl LocalTime {
    /// Minutes since local midnight (0-1439).
    pub fn minute_of_day(&self) -> u16 {
        u16::from(self.hour) * 60 + u16::from(self.minute)
    }

    /// Saturday or Sunday.
    pub fn is_weekend(&self) -> bool {
        self.weekday >= 6
    }
}

impl From<wit::LocalTime> for LocalTime {
    fn from(t: wit::LocalTime) -> Self {
        LocalTime {
            year: t.year,
            month: t.month,
            day: t.day,
            hour: t.hour,
            minute: t.minute,
            weekday: t.weekday,
        }
    }
}

/// Unix time now, milliseconds.
pub fn now_ms() -> u64 {
    wit::now()
}

/// The tenant's local time now.
pub fn local_now() -> LocalTime {
    wit::local_now().into()
}

/// Whether the named schedule (e.g. `"business-hours"`) is open now: inside
/// one of its weekly periods and not on one of its holidays. `None` when the
/// tenant has no schedule of that name.
pub fn is_open(name: &str) -> Option<bool> {
    wit::is_open(name)
}
