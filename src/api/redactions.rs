//! `/redactions` and `/incidents/{reference}/redactions`: what public
//! documents must never show.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, params::IncidentParam};
use crate::{
    api::problem::ApiResult,
    domain::{RedactionKind, RedactionText, Scope},
    entities::redaction_rule,
    services::{
        Context,
        redactions::{self, NewRule},
    },
};

/// A redaction rule.
#[derive(Debug, Clone, Object)]
pub struct RedactionRule {
    /// Unique id.
    pub id: Uuid,
    /// The incident it applies to; absent for a global rule.
    #[oai(nullable)]
    pub incident_id: Option<Uuid>,
    /// The term, removed wherever it appears (any case, any spacing between
    /// its words), when the rule is a term.
    #[oai(nullable)]
    pub term: Option<String>,
    /// The regular expression (case-insensitive), when the rule is a pattern.
    #[oai(nullable)]
    pub pattern: Option<String>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

impl From<redaction_rule::Model> for RedactionRule {
    fn from(m: redaction_rule::Model) -> Self {
        let is_pattern = m.kind == RedactionKind::Pattern;
        Self {
            id: m.id,
            incident_id: m.incident_id,
            term: (!is_pattern).then(|| m.value.clone()),
            pattern: is_pattern.then_some(m.value),
            created_at: m.created_at,
        }
    }
}

/// A new rule: give exactly one of `term` and `pattern` (the other absent or
/// `null`).
#[derive(Debug, Clone, Object, Deserialize)]
pub struct CreateRedactionRequest {
    /// A term to remove: a host name, a customer, a code name … (2 to 500
    /// characters).
    #[oai(nullable)]
    pub term: Option<RedactionText>,
    /// A regular expression (Rust `regex` syntax, case-insensitive, at most
    /// 500 characters) whose matches are removed, e.g. `cust-[0-9]+`.
    /// IPv4/IPv6 and e-mail addresses and host names under the configured
    /// internal domains are always removed.
    #[oai(nullable)]
    pub pattern: Option<RedactionText>,
}

crate::serde_json_body!(CreateRedactionRequest);

/// Redaction rules.
#[derive(Debug, Clone, Object)]
pub struct RedactionRuleList {
    /// The rules, oldest first (the list is always complete).
    pub items: Vec<RedactionRule>,
    /// Always absent: the list is not paged.
    #[oai(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(ApiResponse)]
pub enum RedactionCreated {
    /// The rule applies to every public document rendered from now on.
    #[oai(status = 201)]
    Created(Json<RedactionRule>),
}

#[derive(ApiResponse)]
pub enum RedactionsListed {
    /// The rules.
    #[oai(status = 200)]
    Ok(Json<RedactionRuleList>),
}

#[derive(ApiResponse)]
pub enum RedactionDeleted {
    /// The rule is gone.
    #[oai(status = 204)]
    NoContent,
}

fn listed(rules: Vec<redaction_rule::Model>) -> RedactionsListed {
    RedactionsListed::Ok(Json(RedactionRuleList {
        items: rules.into_iter().map(RedactionRule::from).collect(),
        next_cursor: None,
    }))
}

pub struct RedactionsApi;

#[OpenApi(tag = "ApiTags::Redactions")]
impl RedactionsApi {
    /// Add a global redaction rule
    ///
    /// `{"term": …}` or `{"pattern": …}`: applied to the public document of
    /// every incident. Needs the `admin` scope. A rule that matches words
    /// of the public document templates themselves (it would make every
    /// public document fail) is refused with 422 naming the word.
    #[oai(
        path = "/redactions",
        method = "post",
        operation_id = "create_redaction"
    )]
    async fn create_redaction(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        body: ApiJson<CreateRedactionRequest>,
    ) -> ApiResult<RedactionCreated> {
        auth.require(Scope::Admin)?;
        let rule = NewRule::parse(body.0.term, body.0.pattern)?;
        let model = redactions::create_global(ctx, rule).await?;
        Ok(RedactionCreated::Created(Json(model.into())))
    }

    /// List global redaction rules
    #[oai(path = "/redactions", method = "get", operation_id = "list_redactions")]
    async fn list_redactions(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
    ) -> ApiResult<RedactionsListed> {
        auth.require(Scope::Read)?;
        Ok(listed(redactions::list_global(ctx).await?))
    }

    /// Remove a redaction rule
    ///
    /// Global or of an incident, by id. A global rule needs the `admin`
    /// scope (403 with `write`), a rule of an incident `write`.
    #[oai(
        path = "/redactions/:rule_id",
        method = "delete",
        operation_id = "delete_redaction"
    )]
    async fn delete_redaction(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The rule's id.
        rule_id: Path<Uuid>,
    ) -> ApiResult<RedactionDeleted> {
        let principal = auth.require(Scope::Write)?;
        redactions::delete(ctx, rule_id.0, principal.scope.allows(Scope::Admin)).await?;
        Ok(RedactionDeleted::NoContent)
    }

    /// Add a redaction rule for one incident
    ///
    /// `{"term": …}` or `{"pattern": …}`: applied to this incident's public
    /// document, on top of the global rules.
    #[oai(
        path = "/incidents/:reference/redactions",
        method = "post",
        operation_id = "create_incident_redaction"
    )]
    async fn create_incident_redaction(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<CreateRedactionRequest>,
    ) -> ApiResult<RedactionCreated> {
        auth.require(Scope::Write)?;
        let rule = NewRule::parse(body.0.term, body.0.pattern)?;
        let model = redactions::create_for_incident(ctx, reference.get("reference")?, rule).await?;
        Ok(RedactionCreated::Created(Json(model.into())))
    }

    /// List an incident's redaction rules
    ///
    /// Only the incident's own rules; the global ones apply too.
    #[oai(
        path = "/incidents/:reference/redactions",
        method = "get",
        operation_id = "list_incident_redactions"
    )]
    async fn list_incident_redactions(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<RedactionsListed> {
        auth.require(Scope::Read)?;
        Ok(listed(
            redactions::list_for_incident(ctx, reference.get("reference")?).await?,
        ))
    }
}
