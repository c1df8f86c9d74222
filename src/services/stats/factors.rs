//! Contributing factors in the figures: how many incidents opened in a
//! period name each factor (by severity), and the digest's table of the
//! factors named week by week.

use super::*;
use crate::{config::FactorSettings, services::postmortems};

/// Incidents opened in the period whose post-mortem names one factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorCount {
    /// The factor's id, e.g. `change_deploy`.
    pub factor: String,
    /// Its label; the id itself when `retired`.
    pub label: String,
    /// The taxonomy no longer lists it (counted because incidents of the
    /// period name it).
    pub retired: bool,
    /// The incidents that name it, per severity. An incident names a
    /// factor at most once, and may name several.
    pub incidents: SeverityCounts,
}

/// The digest's table: incidents opened each week that name each factor.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorWeeks {
    /// The weeks, oldest first (`2026-W48`).
    pub weeks: Vec<String>,
    /// One row per factor named in any of the weeks, in the taxonomy's
    /// order (retired factors last, by id).
    pub rows: Vec<FactorWeekRow>,
    /// Incidents opened each week.
    pub opened: Vec<u64>,
    /// Of those, the ones whose post-mortem names no factor.
    pub without_factors: Vec<u64>,
    /// The sums of `opened` and `without_factors`.
    pub opened_total: u64,
    pub without_factors_total: u64,
}

/// One factor's counts in [`FactorWeeks`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorWeekRow {
    pub factor: String,
    pub label: String,
    pub retired: bool,
    /// Incidents opened in each week that name the factor.
    pub counts: Vec<u64>,
    /// Their sum over the weeks.
    pub total: u64,
}

/// The factors named by each incident of `incidents`, by incident id.
async fn factors_by_incident<C: ConnectionTrait>(
    db: &C,
    incidents: &[&incident::Model],
) -> Result<BTreeMap<Uuid, Vec<String>>, ServiceError> {
    let ids: Vec<Uuid> = incidents.iter().map(|i| i.id).collect();
    Ok(postmortems::factors_of_incidents(db, &ids)
        .await?
        .into_iter()
        .map(|(id, rows)| (id, rows.into_iter().map(|f| f.factor.to_string()).collect()))
        .collect())
}

/// The factors in the order figures list them: the taxonomy's, then the
/// retired ones among `named` by id. Each with its label and whether it
/// is retired.
fn listed_factors<'a>(
    taxonomy: &'a FactorSettings,
    named: impl IntoIterator<Item = &'a String>,
) -> Vec<(String, String, bool)> {
    let mut listed: Vec<(String, String, bool)> = taxonomy
        .taxonomy
        .iter()
        .map(|f| (f.id.clone(), f.label.clone(), false))
        .collect();
    let retired: std::collections::BTreeSet<&String> = named
        .into_iter()
        .filter(|id| taxonomy.get(id).is_none())
        .collect();
    listed.extend(retired.into_iter().map(|id| (id.clone(), id.clone(), true)));
    listed
}

/// Every factor of the taxonomy (zero included) and every retired factor
/// named by an incident opened in the period, with the incidents opened in
/// `[from, to)` that name it.
pub async fn factor_counts<C: ConnectionTrait>(
    db: &C,
    active: &[incident::Model],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    taxonomy: &FactorSettings,
) -> Result<Vec<FactorCount>, ServiceError> {
    let opened: Vec<&incident::Model> = active
        .iter()
        .filter(|i| (from..to).contains(&opened_at(i)))
        .collect();
    let named = factors_by_incident(db, &opened).await?;
    let mut counts: BTreeMap<&str, SeverityCounts> = BTreeMap::new();
    for incident in &opened {
        for factor in named.get(&incident.id).into_iter().flatten() {
            counts
                .entry(factor.as_str())
                .or_default()
                .add(incident.severity);
        }
    }
    Ok(listed_factors(taxonomy, named.values().flatten())
        .into_iter()
        .map(|(factor, label, retired)| FactorCount {
            incidents: counts.get(factor.as_str()).cloned().unwrap_or_default(),
            factor,
            label,
            retired,
        })
        .collect())
}

/// The digest's factor table over `weeks` (name, start, end; oldest
/// first), from the incidents active over them: a row for each factor
/// named in any week.
pub async fn factor_weeks<C: ConnectionTrait>(
    db: &C,
    active: &[incident::Model],
    weeks: &[(String, DateTime<Utc>, DateTime<Utc>)],
    taxonomy: &FactorSettings,
) -> Result<FactorWeeks, ServiceError> {
    let week_of = |incident: &incident::Model| {
        let at = opened_at(incident);
        weeks.iter().position(|(_, a, b)| at >= *a && at < *b)
    };
    let opened: Vec<(&incident::Model, usize)> = active
        .iter()
        .filter_map(|i| week_of(i).map(|w| (i, w)))
        .collect();
    let incidents: Vec<&incident::Model> = opened.iter().map(|(i, _)| *i).collect();
    let named = factors_by_incident(db, &incidents).await?;
    let mut table = FactorWeeks {
        weeks: weeks.iter().map(|(w, _, _)| w.clone()).collect(),
        opened: vec![0; weeks.len()],
        without_factors: vec![0; weeks.len()],
        rows: Vec::new(),
        opened_total: 0,
        without_factors_total: 0,
    };
    let mut counts: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (incident, week) in &opened {
        table.opened[*week] += 1;
        let factors = named.get(&incident.id).map(Vec::as_slice).unwrap_or(&[]);
        if factors.is_empty() {
            table.without_factors[*week] += 1;
        }
        for factor in factors {
            counts
                .entry(factor.as_str())
                .or_insert_with(|| vec![0; weeks.len()])[*week] += 1;
        }
    }
    table.opened_total = table.opened.iter().sum();
    table.without_factors_total = table.without_factors.iter().sum();
    table.rows = listed_factors(taxonomy, named.values().flatten())
        .into_iter()
        .filter_map(|(factor, label, retired)| {
            let counts = counts.get(factor.as_str())?.clone();
            Some(FactorWeekRow {
                total: counts.iter().sum(),
                counts,
                factor,
                label,
                retired,
            })
        })
        .collect();
    Ok(table)
}
