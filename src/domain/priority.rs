//! A task's priority: `none` (the default), `low`, `medium` or `high`, and its sort order.

use std::fmt;
use std::str::FromStr;

use super::DomainError;

/// How important a task is. Ordered `None < Low < Medium < High`, so sorting "most important
/// first" is a descending sort (or an ascending sort on `-rank()`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Priority {
    /// No priority given: the default, and the lowest in the order.
    #[default]
    None,
    Low,
    Medium,
    High,
}

impl Priority {
    /// Every priority, lowest first.
    pub const ALL: [Priority; 4] = [Self::None, Self::Low, Self::Medium, Self::High];

    /// Parses the wire spelling: exactly `none`, `low`, `medium` or `high` (lowercase).
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        match raw {
            "none" => Ok(Self::None),
            "low" => Ok(Self::Low),
            "medium" => Ok(Self::Medium),
            "high" => Ok(Self::High),
            _ => Err(DomainError::new(
                "enum",
                format!(
                    "priority must be one of none, low, medium, high (got {:?})",
                    truncate(raw)
                ),
            )),
        }
    }

    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
        }
    }

    /// A number for sorting and storing order: high 3 > medium 2 > low 1 > none 0.
    pub fn rank(self) -> u8 {
        match self {
            Self::None => 0,
            Self::Low => 1,
            Self::Medium => 2,
            Self::High => 3,
        }
    }

    /// The priority with this `rank()`, if any (for reading a stored rank back).
    pub fn from_rank(rank: u8) -> Option<Self> {
        Self::ALL.get(usize::from(rank)).copied()
    }
}

impl FromStr for Priority {
    type Err = DomainError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Echo at most 40 characters of a rejected value back in a message.
fn truncate(raw: &str) -> String {
    raw.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_four_priorities_parse_and_print_back() {
        for p in Priority::ALL {
            assert_eq!(Priority::parse(p.as_str()), Ok(p));
            assert_eq!(p.to_string(), p.as_str());
        }
    }

    #[test]
    fn the_default_is_none() {
        assert_eq!(Priority::default(), Priority::None);
    }

    #[test]
    fn unknown_and_differently_cased_priorities_are_rejected() {
        for bad in ["urgent", "", "High", " low", "NONE", "0"] {
            let err = Priority::parse(bad).unwrap_err();
            assert_eq!(err.kind, "enum", "{bad:?}");
        }
    }

    #[test]
    fn high_outranks_medium_outranks_low_outranks_none() {
        assert!(Priority::High.rank() > Priority::Medium.rank());
        assert!(Priority::Medium.rank() > Priority::Low.rank());
        assert!(Priority::Low.rank() > Priority::None.rank());
        let mut sorted = vec![
            Priority::Low,
            Priority::High,
            Priority::None,
            Priority::Medium,
        ];
        sorted.sort_by_key(|p| std::cmp::Reverse(p.rank()));
        assert_eq!(
            sorted,
            [
                Priority::High,
                Priority::Medium,
                Priority::Low,
                Priority::None
            ]
        );
        // `Ord` agrees with `rank()`.
        assert!(Priority::High > Priority::Medium && Priority::Low > Priority::None);
    }

    #[test]
    fn ranks_round_trip() {
        for p in Priority::ALL {
            assert_eq!(Priority::from_rank(p.rank()), Some(p));
        }
        assert_eq!(Priority::from_rank(4), None);
    }
}
