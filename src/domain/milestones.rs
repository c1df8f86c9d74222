//! An incident's milestones, which must be in order when set.

use chrono::{DateTime, Utc};

use super::Invalid;

/// The milestone fields, in the order they must happen.
pub const MILESTONE_FIELDS: [&str; 5] = [
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
];

/// Started → detected → acknowledged → mitigated → resolved. Any may be unset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Milestones {
    pub started_at: Option<DateTime<Utc>>,
    pub detected_at: Option<DateTime<Utc>>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub mitigated_at: Option<DateTime<Utc>>,
    pub resolved_at: Option<DateTime<Utc>>,
}

impl Milestones {
    fn as_array(&self) -> [Option<DateTime<Utc>>; 5] {
        [
            self.started_at,
            self.detected_at,
            self.acknowledged_at,
            self.mitigated_at,
            self.resolved_at,
        ]
    }

    /// Every pair of set milestones must be in order; the error names both
    /// fields of the first pair that is not.
    pub fn check(&self) -> Result<(), Invalid> {
        let values = self.as_array();
        for later in 1..values.len() {
            let Some(later_at) = values[later] else {
                continue;
            };
            for earlier in (0..later).rev() {
                let Some(earlier_at) = values[earlier] else {
                    continue;
                };
                if earlier_at > later_at {
                    let (a, b) = (MILESTONE_FIELDS[earlier], MILESTONE_FIELDS[later]);
                    return Err(Invalid::new(
                        format!("{a},{b}"),
                        format!(
                            "`{b}` ({}) is before `{a}` ({}): milestones must be in the order {}",
                            later_at.to_rfc3339(),
                            earlier_at.to_rfc3339(),
                            MILESTONE_FIELDS.join(" ≤ ")
                        ),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> Option<DateTime<Utc>> {
        Some(Utc.with_ymd_and_hms(2026, 11, 20, h, 0, 0).unwrap())
    }

    #[test]
    fn ordered_and_partial_milestones_pass() {
        let m = Milestones {
            started_at: at(1),
            detected_at: None,
            acknowledged_at: at(2),
            mitigated_at: at(2),
            resolved_at: at(5),
        };
        assert!(m.check().is_ok());
        assert!(Milestones::default().check().is_ok());
    }

    #[test]
    fn out_of_order_names_both_fields() {
        let m = Milestones {
            started_at: at(3),
            detected_at: None,
            acknowledged_at: None,
            mitigated_at: at(1),
            resolved_at: None,
        };
        let err = m.check().unwrap_err();
        assert_eq!(err.field, "started_at,mitigated_at");
        assert!(err.detail.contains("mitigated_at") && err.detail.contains("started_at"));
    }
}
