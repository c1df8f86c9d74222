//! How Debrief writes the figures a person reads, in post-mortems, the
//! digest and anything else it words: durations, the names of the time
//! figures (each says what it counts from), and stored names in words.
//!
//! What each time figure counts is defined once, in docs/digest.md ("Digest
//! figures"); the post-mortem and the digest use these labels, so they
//! cannot drift apart.

/// Time to detect: `detected_at − started_at`.
pub const TIME_TO_DETECT: &str = "time to detect (from start)";
/// Time to acknowledge: `acknowledged_at − detected_at`.
pub const TIME_TO_ACKNOWLEDGE: &str = "time to acknowledge (from detection)";
/// Time to mitigate: `mitigated_at − start`.
pub const TIME_TO_MITIGATE: &str = "time to mitigate (from start)";
/// Time to resolve: `resolved_at − start`, the incident's duration.
pub const TIME_TO_RESOLVE: &str = "time to resolve (from start)";

/// A duration as a person reads it, in whole minutes (seconds are
/// dropped), with hours and then days once it has them; below the largest
/// unit every unit is shown, zero included: `45 min`, `6 h 12 min`,
/// `2 h 0 min`, `1 d 0 h 14 min`. None at all is `0 min`; 1 to 59 seconds
/// is `under 1 min`, so a time that passed never reads as none. A negative
/// duration (milestones out of order, which Debrief refuses to store)
/// keeps its sign rather than hide the fault.
pub fn duration(seconds: i64) -> String {
    let sign = if seconds < 0 { "-" } else { "" };
    let s = seconds.unsigned_abs();
    let (d, h, m) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    let text = match (d, h, m) {
        (0, 0, 0) if s > 0 => "under 1 min".to_string(),
        (0, 0, m) => format!("{m} min"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, h, m) => format!("{d} d {h} h {m} min"),
    };
    format!("{sign}{text}")
}

/// A stored name (a kind, a status, a role) in words: `silenced_alert` →
/// "silenced alert", `in_review` → "in review", `wont_do` → "won't do".
pub fn words(value: &str) -> String {
    match value {
        "wont_do" => "won't do".to_string(),
        other => other.replace('_', " "),
    }
}

/// `{{ name | words }}`: see [`words`].
pub fn words_filter(value: String) -> String {
    words(&value)
}

/// A label with its first letter in upper case, for the start of a line.
pub fn capitalised(label: &str) -> String {
    let mut chars = label.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_have_one_form() {
        let cases = [
            (0, "0 min"),
            (1, "under 1 min"),
            (59, "under 1 min"),
            (60, "1 min"),
            (45 * 60 + 59, "45 min"),
            (3600, "1 h 0 min"),
            (6 * 3600 + 12 * 60, "6 h 12 min"),
            (372 * 60, "6 h 12 min"),
            (23 * 3600 + 59 * 60 + 59, "23 h 59 min"),
            (86_400, "1 d 0 h 0 min"),
            (24 * 3600 + 14 * 60, "1 d 0 h 14 min"),
            (2 * 86_400 + 3 * 3600 + 5, "2 d 3 h 0 min"),
            (-(19 * 60), "-19 min"),
        ];
        for (seconds, text) in cases {
            assert_eq!(duration(seconds), text, "{seconds} s");
        }
    }

    #[test]
    fn stored_names_read_as_words() {
        assert_eq!(words("silenced_alert"), "silenced alert");
        assert_eq!(words("in_review"), "in review");
        assert_eq!(words("wont_do"), "won't do");
        assert_eq!(words("investigating"), "investigating");
    }

    #[test]
    fn labels_start_in_upper_case() {
        assert_eq!(capitalised(TIME_TO_RESOLVE), "Time to resolve (from start)");
        assert_eq!(capitalised(""), "");
    }
}
