//! A task's time zone: an IANA name (`Europe/Berlin`) known to the tz database bundled by
//! chrono-tz. A task without one (null) is in UTC.

use std::fmt;

use super::DomainError;

/// Longest name looked up; the longest IANA name is about 30 characters.
const NAME_MAX_CHARS: usize = 64;

/// A time zone known to the tz database. Stored and shown by its IANA name exactly as the
/// database spells it (names are case-sensitive: `europe/berlin` is rejected).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimeZoneName(chrono_tz::Tz);

impl TimeZoneName {
    /// Parses an IANA time zone name. Kind `time_zone_unknown` when the tz database lacks it.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        let unknown = || {
            DomainError::new(
                "time_zone_unknown",
                format!(
                    "time_zone must be an IANA time zone name such as Europe/Berlin (got {:?})",
                    raw.chars().take(NAME_MAX_CHARS).collect::<String>()
                ),
            )
        };
        if raw.is_empty() || raw.len() > NAME_MAX_CHARS {
            return Err(unknown());
        }
        raw.parse::<chrono_tz::Tz>()
            .map(Self)
            .map_err(|_| unknown())
    }

    /// UTC, the zone of a task that names none.
    pub const UTC: Self = Self(chrono_tz::Tz::UTC);

    /// The IANA name.
    pub fn as_str(&self) -> &'static str {
        self.0.name()
    }

    /// The zone itself, for date arithmetic.
    pub fn tz(&self) -> chrono_tz::Tz {
        self.0
    }

    /// The zone of an optional name: UTC when there is none.
    pub fn tz_or_utc(zone: Option<&Self>) -> chrono_tz::Tz {
        zone.map_or(chrono_tz::Tz::UTC, Self::tz)
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iana_names_are_accepted_and_kept() {
        for name in [
            "Europe/Berlin",
            "America/New_York",
            "Asia/Kolkata",
            "America/Argentina/Buenos_Aires",
            "UTC",
            "Etc/GMT+5",
            "Pacific/Chatham",
        ] {
            assert_eq!(TimeZoneName::parse(name).unwrap().as_str(), name);
        }
    }

    #[test]
    fn unknown_names_are_rejected() {
        for bad in [
            "Mars/Olympus",
            "",
            "europe/berlin",
            "Europe/Berlin ",
            "CEST",
            "+02:00",
            "Europe/Berlin\0",
            &"A".repeat(65),
        ] {
            let err = TimeZoneName::parse(bad).unwrap_err();
            assert_eq!(err.kind, "time_zone_unknown", "{bad:?}");
        }
    }

    #[test]
    fn no_zone_means_utc() {
        assert_eq!(TimeZoneName::tz_or_utc(None), chrono_tz::Tz::UTC);
        let berlin = TimeZoneName::parse("Europe/Berlin").unwrap();
        assert_eq!(
            TimeZoneName::tz_or_utc(Some(&berlin)),
            chrono_tz::Tz::Europe__Berlin
        );
        assert_eq!(TimeZoneName::UTC.as_str(), "UTC");
    }
}
