//! Google Health API v4 data → the legacy Fitbit shapes Igor's readers know.
//!
//! Google values are SI (grams, millimetres) with int64 fields as JSON
//! strings, times as RFC 3339 and civil times as objects; the legacy API
//! answered in the unit system of `Accept-Language`, with civil
//! `yyyy-MM-dd` / `HH:MM:SS` texts. Everything here is pure: `units` for
//! the unit systems, `time` for instants, civil times and windows, `logs`
//! for the legacy log entries.

mod logs;
mod time;
mod units;
mod zone;

pub use logs::*;
pub use time::*;
pub use units::*;
pub use zone::Zone;
