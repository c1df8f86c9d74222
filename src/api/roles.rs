//! `/incidents/{reference}/roles`: assignments and hand-offs.

use chrono::{DateTime, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, Object, OpenApi, param::Path, payload::Json};
use serde::Deserialize;
use uuid::Uuid;

use super::{ApiJson, ApiTags, TokenAuth, params::IncidentParam};
use crate::{
    api::problem::ApiResult,
    clock::micros,
    domain::{Name, RoleName, Scope},
    entities::role_assignment,
    services::{
        Context,
        roles::{self, NewRoleAssignment},
    },
};

/// A person holding (or having held) a role in an incident.
#[derive(Debug, Clone, Object)]
pub struct RoleAssignment {
    /// Unique id.
    pub id: Uuid,
    /// The incident.
    pub incident_id: Uuid,
    /// `incident_commander`, `comms`, `scribe`, `responder`,
    /// `subject_matter_expert` or a custom name.
    pub role: String,
    /// Who holds it.
    pub person: String,
    /// When they took it.
    pub assigned_at: DateTime<Utc>,
    /// When they handed it off, if they have.
    #[oai(nullable)]
    pub relieved_at: Option<DateTime<Utc>>,
    /// Still holding the role.
    pub active: bool,
}

impl From<role_assignment::Model> for RoleAssignment {
    fn from(m: role_assignment::Model) -> Self {
        Self {
            id: m.id,
            incident_id: m.incident_id,
            role: m.role,
            person: m.person,
            assigned_at: m.assigned_at,
            active: m.relieved_at.is_none(),
            relieved_at: m.relieved_at,
        }
    }
}

/// Assign a role.
#[derive(Debug, Clone, Object, Deserialize)]
pub struct AssignRoleRequest {
    /// `incident_commander`, `comms`, `scribe`, `responder`,
    /// `subject_matter_expert` or a custom name (lower-case letters, digits,
    /// `_`). Assigning `incident_commander` or `comms` relieves the holder.
    #[oai(validator(pattern = "^[a-z0-9_]{1,64}$", min_length = 1, max_length = 64))]
    pub role: String,
    /// Who takes the role.
    pub person: Name,
    /// When they took it; now when absent.
    #[oai(nullable)]
    pub assigned_at: Option<DateTime<Utc>>,
}

crate::serde_json_body!(AssignRoleRequest);

/// Current roles and the full history of assignments.
#[derive(Debug, Clone, Object)]
pub struct RoleList {
    /// Roles held now.
    pub current: Vec<RoleAssignment>,
    /// Every assignment, oldest first, including hand-offs.
    pub history: Vec<RoleAssignment>,
}

#[derive(ApiResponse)]
pub enum RoleAssigned {
    /// The new assignment.
    #[oai(status = 201)]
    Created(Json<RoleAssignment>),
}

#[derive(ApiResponse)]
pub enum RolesListed {
    /// Current and past roles.
    #[oai(status = 200)]
    Ok(Json<RoleList>),
}

pub struct RolesApi;

#[OpenApi(tag = "ApiTags::Roles")]
impl RolesApi {
    /// Assign a role
    ///
    /// Assigning `incident_commander` or `comms` hands the role off: the
    /// current holder is relieved and the hand-off is written to the timeline.
    #[oai(
        path = "/incidents/:reference/roles",
        method = "post",
        operation_id = "assign_role"
    )]
    async fn assign_role(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
        body: ApiJson<AssignRoleRequest>,
    ) -> ApiResult<RoleAssigned> {
        auth.require(Scope::Write)?;
        let r = body.0;
        let new = NewRoleAssignment {
            role: RoleName::parse("role", &r.role)?,
            person: r.person.as_str().trim().to_string(),
            assigned_at: r.assigned_at.map(micros),
        };
        let model = roles::assign(ctx, reference.get("reference")?, new).await?;
        Ok(RoleAssigned::Created(Json(model.into())))
    }

    /// List roles
    ///
    /// Who holds which role now, and every assignment and hand-off before.
    #[oai(
        path = "/incidents/:reference/roles",
        method = "get",
        operation_id = "list_roles"
    )]
    async fn list_roles(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// The incident's UUID or `INC-n` reference.
        reference: Path<IncidentParam>,
    ) -> ApiResult<RolesListed> {
        auth.require(Scope::Read)?;
        let all: Vec<RoleAssignment> = roles::list(ctx, reference.get("reference")?)
            .await?
            .into_iter()
            .map(RoleAssignment::from)
            .collect();
        let current = all.iter().filter(|r| r.active).cloned().collect();
        Ok(RolesListed::Ok(Json(RoleList {
            current,
            history: all,
        })))
    }
}
