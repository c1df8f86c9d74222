//! Contributing factors: the factors of the configured taxonomy a
//! post-mortem names, each with a note. They are written only with the
//! post-mortem ([`write`](super::write): a change through the API, or an
//! import), as one ordered list that replaces the stored one; read by
//! post-mortem (its view, its documents) or by incidents (statistics,
//! related incidents).

use super::*;
use crate::{
    config::{FactorSettings, MAX_FACTORS},
    domain::FactorSlug,
    entities::contributing_factor,
};

/// A factor as a post-mortem names it: its id and a note (Markdown, may be
/// empty), already checked as a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorInput {
    pub factor: FactorSlug,
    pub note: String,
}

/// Which factor ids a write accepts.
#[derive(Debug, Clone, Copy)]
pub enum FactorCheck<'a> {
    /// A change made now (the API): the factors of the taxonomy, and those
    /// the post-mortem already names, so that a list read back and sent
    /// again keeps a factor that has since left the taxonomy.
    Taxonomy(&'a FactorSettings),
    /// An import: any well-formed id. A bundle may come from a Debrief with
    /// another taxonomy; its factors are kept as they were recorded, and
    /// shown as retired where this taxonomy does not list them.
    AnyId,
}

/// A factor as read: the stored row, its label, and whether the taxonomy
/// still lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactorView {
    pub row: contributing_factor::Model,
    /// The configured label; the id itself for a retired factor.
    pub label: String,
    /// The taxonomy no longer lists the factor.
    pub retired: bool,
}

/// The stored factors with their labels from `taxonomy`.
pub fn factor_views(
    taxonomy: &FactorSettings,
    rows: Vec<contributing_factor::Model>,
) -> Vec<FactorView> {
    rows.into_iter()
        .map(|row| {
            let configured = taxonomy.get(row.factor.as_str());
            FactorView {
                label: configured.map_or_else(|| row.factor.to_string(), |f| f.label.clone()),
                retired: configured.is_none(),
                row,
            }
        })
        .collect()
}

/// The factors a post-mortem names, in its order.
pub async fn factors_of<C: ConnectionTrait>(
    db: &C,
    postmortem_id: Uuid,
) -> Result<Vec<contributing_factor::Model>, ServiceError> {
    Ok(contributing_factor::Entity::find()
        .filter(contributing_factor::Column::PostmortemId.eq(postmortem_id))
        .order_by_asc(contributing_factor::Column::Position)
        .all(db)
        .await?)
}

/// The factors of each of `incident_ids` that names any, each list in its
/// post-mortem's order (500 incidents per statement).
pub async fn factors_of_incidents<C: ConnectionTrait>(
    db: &C,
    incident_ids: &[Uuid],
) -> Result<BTreeMap<Uuid, Vec<contributing_factor::Model>>, ServiceError> {
    let mut factors: BTreeMap<Uuid, Vec<contributing_factor::Model>> = BTreeMap::new();
    for chunk in incident_ids.chunks(500) {
        let rows = contributing_factor::Entity::find()
            .filter(contributing_factor::Column::IncidentId.is_in(chunk.iter().copied()))
            .order_by_asc(contributing_factor::Column::IncidentId)
            .order_by_asc(contributing_factor::Column::Position)
            .all(db)
            .await?;
        for row in rows {
            factors.entry(row.incident_id).or_default().push(row);
        }
    }
    Ok(factors)
}

/// What a list of factors may not hold, whatever the taxonomy: more than
/// [`MAX_FACTORS`] entries, or one factor twice. `field` names the list.
pub fn check_factor_list(field: &str, inputs: &[FactorInput]) -> Result<(), ServiceError> {
    if inputs.len() > MAX_FACTORS {
        return Err(ServiceError::validation(
            field,
            format!("`{field}` names at most {MAX_FACTORS} factors"),
        ));
    }
    for (i, input) in inputs.iter().enumerate() {
        if inputs[..i].iter().any(|f| f.factor == input.factor) {
            let at = format!("{field}[{i}].factor");
            return Err(ServiceError::validation(
                at.clone(),
                format!("`{at}` {:?} appears twice", input.factor.as_str()),
            ));
        }
    }
    Ok(())
}

/// Replace the factors of `postmortem` with `inputs` (a factor named before
/// keeps its creation time), unless they already hold them. Returns
/// whether anything changed. Inside the caller's transaction.
pub(super) async fn replace_factors<C: ConnectionTrait>(
    db: &C,
    postmortem: &postmortem::Model,
    inputs: &[FactorInput],
    check: FactorCheck<'_>,
    now: DateTime<Utc>,
) -> Result<bool, ServiceError> {
    check_factor_list("contributing_factors", inputs)?;
    let current = factors_of(db, postmortem.id).await?;
    if let FactorCheck::Taxonomy(taxonomy) = check {
        for (i, input) in inputs.iter().enumerate() {
            let slug = input.factor.as_str();
            if taxonomy.get(slug).is_none() && !current.iter().any(|f| f.factor == input.factor) {
                let field = format!("contributing_factors[{i}].factor");
                return Err(ServiceError::validation(
                    field.clone(),
                    format!(
                        "`{field}` {slug:?} is not a contributing factor of the taxonomy; allowed: {}",
                        taxonomy.ids()
                    ),
                ));
            }
        }
    }
    let unchanged = current.len() == inputs.len()
        && current
            .iter()
            .zip(inputs)
            .all(|(f, i)| f.factor == i.factor && f.note == i.note);
    if unchanged {
        return Ok(false);
    }
    let created: BTreeMap<&FactorSlug, DateTime<Utc>> =
        current.iter().map(|f| (&f.factor, f.created_at)).collect();
    contributing_factor::Entity::delete_many()
        .filter(contributing_factor::Column::PostmortemId.eq(postmortem.id))
        .exec(db)
        .await?;
    if !inputs.is_empty() {
        let rows = inputs.iter().enumerate().map(|(position, input)| {
            contributing_factor::Model {
                id: new_id(),
                postmortem_id: postmortem.id,
                incident_id: postmortem.incident_id,
                position: position as i32,
                factor: input.factor.clone(),
                note: input.note.clone(),
                created_at: created.get(&input.factor).copied().unwrap_or(now),
                updated_at: now,
            }
            .into_active_model()
        });
        contributing_factor::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await?;
    }
    Ok(true)
}
