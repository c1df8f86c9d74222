//! Redaction rules: terms and patterns removed from public documents,
//! globally or for one incident.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::{Context, ServiceError, find_incident, insert_model, new_id};
use crate::{
    domain::{IncidentRef, RedactionKind, RedactionText},
    entities::redaction_rule,
    reports::{
        Templates, public_vocabulary,
        redaction::{RedactionRules, RuleOrigin, compile_pattern},
    },
};

/// A new rule: exactly one of a term or a pattern.
#[derive(Debug, Clone)]
pub enum NewRule {
    /// Removed wherever it appears, in any case.
    Term(String),
    /// A regular expression (case-insensitive).
    Pattern(String),
}

impl NewRule {
    /// Parse the request's `term` / `pattern` pair (each already a checked
    /// [`RedactionText`]).
    pub fn parse(
        term: Option<RedactionText>,
        pattern: Option<RedactionText>,
    ) -> Result<Self, ServiceError> {
        match (term, pattern) {
            (Some(_), Some(_)) => Err(ServiceError::validation(
                "term,pattern",
                "give either `term` or `pattern`, not both",
            )),
            (None, None) => Err(ServiceError::validation(
                "term,pattern",
                "give a `term` or a `pattern`",
            )),
            (Some(term), None) => {
                let term = term.into_inner();
                if term.chars().count() < 2 {
                    return Err(ServiceError::validation(
                        "term",
                        "`term` must be at least 2 characters: a shorter one would blank out ordinary words",
                    ));
                }
                Ok(NewRule::Term(term))
            }
            (None, Some(pattern)) => {
                let pattern = pattern.into_inner();
                compile_pattern(&pattern).map_err(|err| {
                    ServiceError::validation("pattern", format!("`pattern`: {err}"))
                })?;
                Ok(NewRule::Pattern(pattern))
            }
        }
    }
}

async fn insert(
    ctx: &Context,
    incident_id: Option<Uuid>,
    rule: NewRule,
) -> Result<redaction_rule::Model, ServiceError> {
    let (kind, value) = match rule {
        NewRule::Term(t) => (RedactionKind::Term, t),
        NewRule::Pattern(p) => (RedactionKind::Pattern, p),
    };
    check_template_words(ctx, kind, &value)?;
    let model = redaction_rule::Model {
        id: new_id(),
        incident_id,
        kind,
        value,
        created_at: ctx.now(),
    };
    let txn = ctx.begin_write().await?;
    let scope = redaction_rule::Entity::find()
        .filter(match incident_id {
            Some(id) => redaction_rule::Column::IncidentId.eq(id),
            None => redaction_rule::Column::IncidentId.is_null(),
        })
        .all(&txn)
        .await?;
    check_scope_size(&ctx.settings.limits, &scope, &model)?;
    insert_model(&txn, model.clone().into_active_model()).await?;
    txn.commit().await?;
    Ok(model)
}

/// A rule must not match the words every public document is made of (the
/// templates' own text, the labels and units Debrief writes): it would
/// make every public document fail the leak check. Refused with the word.
fn check_template_words(
    ctx: &Context,
    kind: RedactionKind,
    value: &str,
) -> Result<(), ServiceError> {
    let templates = Templates::load(ctx.settings.documents.templates_dir.as_deref())
        .map_err(|e| ServiceError::Internal(e.into()))?;
    let vocabulary = public_vocabulary(&templates);
    let mut rules = RedactionRules::default();
    match kind {
        RedactionKind::Pattern => rules
            .add_pattern(value, RuleOrigin::Global)
            .map_err(|err| ServiceError::validation("pattern", format!("`pattern`: {err}")))?,
        RedactionKind::Term => rules.add_term(value, RuleOrigin::Global),
    }
    let Some(leak) = rules.find_leak(&vocabulary) else {
        return Ok(());
    };
    // Name the whole word, not only the part that matched.
    let word = vocabulary
        .split_whitespace()
        .find(|word| rules.find_leak(word).is_some())
        .unwrap_or(leak.shown.as_str());
    Err(ServiceError::validation(
        kind.as_str(),
        format!(
            "the {kind} {value:?} matches {word:?} ({:?}), words of every public document \
             (its templates, labels and units): every public document would be refused. \
             Make the {kind} longer or more specific",
            leak.shown
        ),
    ))
}

/// Every public render runs each rule of its scopes over the whole
/// document: the rules of one scope are capped in number and in the
/// compiled size of all of them together.
fn check_scope_size(
    limits: &crate::config::LimitSettings,
    scope: &[redaction_rule::Model],
    new: &redaction_rule::Model,
) -> Result<(), ServiceError> {
    let field = new.kind.as_str();
    let where_ = if new.incident_id.is_some() {
        "this incident"
    } else {
        "the global scope"
    };
    if scope.len() >= limits.redaction_rules {
        return Err(ServiceError::validation(
            field,
            format!(
                "{where_} already holds {} redaction rules, the most allowed \
                 (`limits.redaction_rules`): remove one or combine several into a pattern",
                scope.len()
            ),
        ));
    }
    let source = scope
        .iter()
        .chain(std::iter::once(new))
        .map(|rule| match rule.kind {
            RedactionKind::Term => format!("(?:{})", regex::escape(&rule.value)),
            RedactionKind::Pattern => format!("(?:{})", rule.value),
        })
        .collect::<Vec<_>>()
        .join("|");
    regex::RegexBuilder::new(&source)
        .case_insensitive(true)
        .size_limit(limits.redaction_pattern_bytes)
        .build()
        .map_err(|_| {
            ServiceError::validation(
                field,
                format!(
                    "the redaction rules of {where_} would compile to more than {} bytes \
                     (`limits.redaction_pattern_bytes`): simplify the pattern or remove rules",
                    limits.redaction_pattern_bytes
                ),
            )
        })?;
    Ok(())
}

/// Add a global rule.
pub async fn create_global(
    ctx: &Context,
    rule: NewRule,
) -> Result<redaction_rule::Model, ServiceError> {
    insert(ctx, None, rule).await
}

/// Add a rule for one incident.
pub async fn create_for_incident(
    ctx: &Context,
    reference: IncidentRef,
    rule: NewRule,
) -> Result<redaction_rule::Model, ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    insert(ctx, Some(incident.id), rule).await
}

/// The global rules, oldest first.
pub async fn list_global(ctx: &Context) -> Result<Vec<redaction_rule::Model>, ServiceError> {
    Ok(redaction_rule::Entity::find()
        .filter(redaction_rule::Column::IncidentId.is_null())
        .order_by_asc(redaction_rule::Column::CreatedAt)
        .order_by_asc(redaction_rule::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// The rules of one incident (not the global ones), oldest first.
pub async fn list_for_incident(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<redaction_rule::Model>, ServiceError> {
    let order = [
        (redaction_rule::Column::CreatedAt, sea_orm::Order::Asc),
        (redaction_rule::Column::Id, sea_orm::Order::Asc),
    ];
    let all = redaction_rule::Entity::find();
    super::reads::of_incident(
        &ctx.db,
        reference,
        all,
        redaction_rule::Column::IncidentId,
        &order,
        None,
    )
    .await
}

/// Every rule that applies to an incident: global and its own.
pub async fn rules_for<C: ConnectionTrait>(
    db: &C,
    incident_id: Uuid,
) -> Result<Vec<redaction_rule::Model>, ServiceError> {
    Ok(redaction_rule::Entity::find()
        .filter(
            Condition::any()
                .add(redaction_rule::Column::IncidentId.is_null())
                .add(redaction_rule::Column::IncidentId.eq(incident_id)),
        )
        .order_by_asc(redaction_rule::Column::CreatedAt)
        .order_by_asc(redaction_rule::Column::Id)
        .all(db)
        .await?)
}

/// Remove a rule (global or of any incident) by id; a global rule only
/// when `may_remove_global` (the caller has the admin scope).
pub async fn delete(ctx: &Context, id: Uuid, may_remove_global: bool) -> Result<(), ServiceError> {
    let txn = ctx.begin_write().await?;
    let rule = redaction_rule::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| ServiceError::NotFound(format!("redaction rule {id}")))?;
    if rule.incident_id.is_none() && !may_remove_global {
        return Err(ServiceError::Forbidden("admin"));
    }
    redaction_rule::Entity::delete_by_id(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(())
}
