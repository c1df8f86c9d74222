//! The bundle export: a whole incident in Debrief's own format (the
//! format the bundle import reads, `ingest::bundle`), the timeline streamed
//! page by page from one read snapshot.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    TransactionTrait,
};
use uuid::Uuid;

use super::{Context, ServiceError, find_incident};
use crate::{
    domain::IncidentRef,
    entities::{
        cleanup_item, incident, postmortem, postmortem_section, remediation_incident,
        remediation_item, role_assignment, sitrep, status_update, timeline_event,
    },
    ingest::bundle::{
        BUNDLE_FORMAT, BUNDLE_VERSION, Bundle, BundleCleanupItem, BundleEvent, BundleFactor,
        BundleIncident, BundlePostmortem, BundleRemediationItem, BundleRole, BundleSection,
        BundleSitrep, BundleStatusUpdate,
    },
};

/// Timeline events per page of an export.
const EXPORT_PAGE: u64 = 1000;

/// An export in progress: everything but the timeline, read; the timeline
/// is read page by page from the same read transaction (one snapshot), so
/// an incident of any size is exported holding one page at a time.
pub struct BundleExport {
    /// The bundle with an empty `timeline`.
    pub head: Bundle,
    db: Option<sea_orm::DatabaseTransaction>,
    incident_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
}

impl BundleExport {
    /// The next page of timeline events, oldest first; empty at the end.
    pub async fn next_events(&mut self) -> Result<Vec<BundleEvent>, ServiceError> {
        let Some(db) = &self.db else {
            return Ok(Vec::new());
        };
        let mut query = timeline_event::Entity::find()
            .filter(timeline_event::Column::IncidentId.eq(self.incident_id));
        if let Some((at, id)) = self.after {
            query = query.filter(
                sea_orm::Condition::any()
                    .add(timeline_event::Column::OccurredAt.gt(at))
                    .add(
                        sea_orm::Condition::all()
                            .add(timeline_event::Column::OccurredAt.eq(at))
                            .add(timeline_event::Column::Id.gt(id)),
                    ),
            );
        }
        let page = query
            .order_by_asc(timeline_event::Column::OccurredAt)
            .order_by_asc(timeline_event::Column::Id)
            .limit(EXPORT_PAGE)
            .all(db)
            .await?;
        match page.last() {
            Some(last) => self.after = Some((last.occurred_at, last.id)),
            None => {
                if let Some(db) = self.db.take() {
                    db.commit().await?;
                }
            }
        }
        page.into_iter()
            .map(|e| {
                Ok(BundleEvent {
                    id: e.id,
                    occurred_at: e.occurred_at,
                    kind: e.kind,
                    body: e.body,
                    author: e.author,
                    source: e.source,
                    external_id: e.external_id,
                    visibility: e.visibility,
                })
            })
            .collect()
    }
}

/// Export the whole incident in the bundle format (`timeline` last).
pub async fn export_bundle(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<BundleExport, ServiceError> {
    let db = ctx.db.begin().await?;
    let incident = find_incident(&db, reference).await?;
    let id = incident.id;
    // Not `roles::list_for`: ties are broken by id, which an import keeps,
    // not by `created_at`, which it does not, so export → import → export
    // gives the same bundle.
    let roles = role_assignment::Entity::find()
        .filter(role_assignment::Column::IncidentId.eq(id))
        .order_by_asc(role_assignment::Column::AssignedAt)
        .order_by_asc(role_assignment::Column::Id)
        .all(&db)
        .await?;
    let sitreps = super::sitreps::list_for(&db, id).await?;
    let updates = super::status_updates::list_for(&db, id).await?;
    let cleanup = super::cleanup::list_for(&db, id).await?;
    let remediation = remediation_item::Entity::find()
        .inner_join(remediation_incident::Entity)
        .filter(remediation_incident::Column::IncidentId.eq(id))
        .order_by_asc(remediation_item::Column::CreatedAt)
        .order_by_asc(remediation_item::Column::Id)
        .all(&db)
        .await?;
    let postmortem = bundle_postmortem(&db, id).await?;
    let head = Bundle {
        format: BUNDLE_FORMAT.into(),
        version: BUNDLE_VERSION,
        incident: incident.into(),
        roles: roles.into_iter().map(BundleRole::from).collect(),
        sitreps: sitreps.into_iter().map(BundleSitrep::from).collect(),
        status_updates: updates.into_iter().map(BundleStatusUpdate::from).collect(),
        cleanup_items: cleanup.into_iter().map(BundleCleanupItem::from).collect(),
        remediation_items: remediation
            .into_iter()
            .map(BundleRemediationItem::from)
            .collect(),
        postmortem,
        timeline: Vec::new(),
    };
    Ok(BundleExport {
        head,
        db: Some(db),
        incident_id: id,
        after: None,
    })
}

/// The incident's post-mortem with its sections in order, if it has one.
async fn bundle_postmortem(
    db: &DatabaseTransaction,
    incident_id: Uuid,
) -> Result<Option<BundlePostmortem>, ServiceError> {
    let Some(pm) = postmortem::Entity::find()
        .filter(postmortem::Column::IncidentId.eq(incident_id))
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    let sections = postmortem_section::Entity::find()
        .filter(postmortem_section::Column::PostmortemId.eq(pm.id))
        .order_by_asc(postmortem_section::Column::Position)
        .all(db)
        .await?
        .into_iter()
        .map(|s| BundleSection {
            id: s.id,
            key: s.key,
            title: s.title,
            body: s.body,
            visibility: s.visibility,
        })
        .collect();
    let factors = super::postmortems::factors_of(db, pm.id)
        .await?
        .into_iter()
        .map(|f| BundleFactor {
            factor: f.factor.to_string(),
            note: f.note,
        })
        .collect();
    Ok(Some(BundlePostmortem {
        id: pm.id,
        kind: pm.kind,
        owner: pm.owner,
        due_date: pm.due_date,
        review_at: pm.review_at,
        status: pm.status,
        not_required_reason: pm.not_required_reason,
        slug: pm.slug,
        published_at: pm.published_at,
        first_published_at: pm.first_published_at,
        sections,
        contributing_factors: Some(factors),
        created_at: pm.created_at,
    }))
}

impl From<incident::Model> for BundleIncident {
    fn from(incident: incident::Model) -> Self {
        BundleIncident {
            id: incident.id,
            title: incident.title,
            severity: incident.severity,
            status: incident.status,
            customer_impact: incident.customer_impact,
            affected_components: incident.affected_components.to_vec(),
            chat_room_url: incident.chat_room_url,
            labels: incident.labels.to_vec(),
            started_at: incident.started_at,
            detected_at: incident.detected_at,
            acknowledged_at: incident.acknowledged_at,
            mitigated_at: incident.mitigated_at,
            resolved_at: incident.resolved_at,
            closed_at: incident.closed_at,
            created_at: incident.created_at,
        }
    }
}

impl From<role_assignment::Model> for BundleRole {
    fn from(r: role_assignment::Model) -> Self {
        BundleRole {
            id: r.id,
            role: r.role,
            person: r.person,
            assigned_at: r.assigned_at,
            relieved_at: r.relieved_at,
        }
    }
}

impl From<sitrep::Model> for BundleSitrep {
    fn from(s: sitrep::Model) -> Self {
        BundleSitrep {
            id: s.id,
            version: s.version,
            roles: s.roles.to_vec(),
            summary: s.summary,
            customer_impact: s.customer_impact,
            open_issues: s.open_issues.to_vec(),
            resolved_issues: s.resolved_issues.to_vec(),
            current_actions: s.current_actions.to_vec(),
            next_update_due: s.next_update_due,
            author: s.author,
            status_update_id: s.status_update_id,
            created_at: s.created_at,
        }
    }
}

impl From<status_update::Model> for BundleStatusUpdate {
    fn from(u: status_update::Model) -> Self {
        BundleStatusUpdate {
            id: u.id,
            status: u.status,
            message: u.message,
            affected_components: u.affected_components.to_vec(),
            posted_at: u.posted_at,
            source: u.source,
            external_id: u.external_id,
        }
    }
}

impl From<cleanup_item::Model> for BundleCleanupItem {
    fn from(c: cleanup_item::Model) -> Self {
        BundleCleanupItem {
            id: c.id,
            kind: c.kind,
            description: c.description,
            owner: c.owner,
            status: c.status,
            reason: c.reason,
            created_at: c.created_at,
        }
    }
}

impl From<remediation_item::Model> for BundleRemediationItem {
    fn from(r: remediation_item::Model) -> Self {
        BundleRemediationItem {
            id: r.id,
            title: r.title,
            description: r.description,
            kind: r.kind,
            priority: r.priority,
            owner: r.owner,
            team: r.team,
            due_date: r.due_date,
            status: r.status,
            reason: r.reason,
            tracker_url: r.tracker_url,
            closed_at: r.closed_at,
            created_at: r.created_at,
        }
    }
}
