//! Which workflow transition moves an issue to the state Debrief wants.
//!
//! Jira has no "close" call: an issue changes status through the
//! transitions its workflow offers from the current status
//! (`GET /rest/api/3/issue/{key}/transitions?expand=transitions.fields`,
//! <https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-transitions-get>).
//! Debrief picks by the target status's category (`done`, `new`,
//! `indeterminate`), never by a status name, so renamed statuses work.

use super::wire::{Transition, is_not_planned};
use crate::trackers::RemoteState;

/// A transition to make, with the resolution to set on its screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub id: String,
    /// The transition's name, for logs and errors.
    pub name: String,
    pub resolution: Option<String>,
    /// This step reaches a status of the wanted category (else it is an
    /// intermediate step of a linear workflow, e.g. To Do → In Progress).
    pub arrives: bool,
}

/// The step toward `want` among `transitions`, avoiding statuses already
/// passed through (`visited`, by name); `None` if the workflow offers none.
pub fn choose(transitions: &[Transition], want: RemoteState, visited: &[String]) -> Option<Step> {
    let to_category = |t: &&Transition, key: &str| t.to.category.key == key;
    let fresh = |t: &&Transition| !visited.iter().any(|v| v == &t.to.name);
    let step = |t: &Transition, resolution: Option<String>, arrives: bool| Step {
        id: t.id.clone(),
        name: t.name.clone(),
        resolution,
        arrives,
    };
    let done: Vec<&Transition> = transitions
        .iter()
        .filter(|t| to_category(t, "done"))
        .collect();
    match want {
        RemoteState::Done => {
            // A done status not itself named like "Won't Do", with the
            // resolution "Done" (or "Fixed", or the first that is not a
            // not-planned one) when the screen asks.
            let chosen = done
                .iter()
                .find(|t| !is_not_planned(&t.to.name) && !is_not_planned(&t.name))
                .or(done.first());
            if let Some(t) = chosen {
                let offered = t.resolutions();
                let resolution = ["Done", "Fixed"]
                    .iter()
                    .find_map(|want| offered.iter().find(|o| o.eq_ignore_ascii_case(want)))
                    .or_else(|| offered.iter().find(|o| !is_not_planned(o)))
                    .cloned();
                return Some(step(t, resolution, true));
            }
        }
        RemoteState::NotPlanned => {
            // Best: a screen that offers a not-planned resolution. Next: a
            // transition or status named like one (its post-function sets
            // the resolution). Last: any done transition; the issue then
            // reads back as Done (see docs/trackers.md).
            for t in &done {
                if let Some(r) = t.resolutions().into_iter().find(|r| is_not_planned(r)) {
                    return Some(step(t, Some(r), true));
                }
            }
            if let Some(t) = done
                .iter()
                .find(|t| is_not_planned(&t.to.name) || is_not_planned(&t.name))
            {
                return Some(step(t, None, true));
            }
            if let Some(t) = done.first() {
                return Some(step(t, None, true));
            }
        }
        RemoteState::Open => {
            if let Some(t) = transitions
                .iter()
                .find(|t| to_category(t, "new"))
                .or_else(|| transitions.iter().find(|t| to_category(t, "indeterminate")))
            {
                return Some(step(t, None, true));
            }
            return None;
        }
    }
    // No done status reachable in one step: go through an in-progress one
    // not yet visited (linear workflows: To Do → In Progress → Done).
    transitions
        .iter()
        .filter(fresh)
        .find(|t| to_category(t, "indeterminate"))
        .map(|t| step(t, None, false))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn transitions(value: serde_json::Value) -> Vec<Transition> {
        serde_json::from_value::<super::super::wire::Transitions>(json!({ "transitions": value }))
            .unwrap()
            .transitions
    }

    fn to(id: &str, status: &str, category: &str) -> serde_json::Value {
        json!({"id": id, "name": status, "to": {"name": status, "statusCategory": {"key": category}}})
    }

    #[test]
    fn done_prefers_the_done_resolution() {
        let mut done = to("31", "Done", "done");
        done["fields"] =
            json!({"resolution": {"allowedValues": [{"name": "Won't Do"}, {"name": "Done"}]}});
        let list = transitions(json!([to("11", "To Do", "new"), done]));
        let step = choose(&list, RemoteState::Done, &[]).unwrap();
        assert_eq!(
            (step.id.as_str(), step.resolution.as_deref()),
            ("31", Some("Done"))
        );
        let step = choose(&list, RemoteState::NotPlanned, &[]).unwrap();
        assert_eq!(
            (step.id.as_str(), step.resolution.as_deref()),
            ("31", Some("Won't Do"))
        );
        let step = choose(&list, RemoteState::Open, &[]).unwrap();
        assert_eq!(step.id, "11");
    }

    #[test]
    fn linear_workflows_go_through_in_progress_once() {
        let list = transitions(json!([to("21", "In Progress", "indeterminate")]));
        let step = choose(&list, RemoteState::Done, &[]).unwrap();
        assert!(!step.arrives);
        assert!(choose(&list, RemoteState::Done, &["In Progress".into()]).is_none());
    }

    #[test]
    fn not_planned_uses_a_wont_do_status_when_no_screen_offers_it() {
        let list = transitions(json!([
            to("31", "Done", "done"),
            to("41", "Won't Do", "done")
        ]));
        let step = choose(&list, RemoteState::NotPlanned, &[]).unwrap();
        assert_eq!(step.id, "41");
        let step = choose(&list, RemoteState::Done, &[]).unwrap();
        assert_eq!(step.id, "31");
    }
}
