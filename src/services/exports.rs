//! CSV exports of the incident and remediation lists: the same filters and
//! order as the JSON lists, read page after page (keyset pagination, no
//! transaction held between pages) and written as CSV chunks, one chunk
//! per page, so memory stays the same for ten rows or a million. The first
//! page is read before the answer starts, so a failing database is still a
//! 500; a failure later can only cut the body short (it is logged).

use std::collections::BTreeMap;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::{
    Context, ServiceError,
    incidents::{self, IncidentFilter, IncidentView},
    pagination::{MAX_LIMIT, Page, PageRequest},
    postmortems,
    remediations::{self, RemediationFilter, RemediationView},
};
use crate::{
    domain::{IncidentRef, PostmortemStatus, RemediationRef},
    entities::postmortem,
    reports::csv::{Cell, write_header, write_row},
};

/// Rows read (and written as one chunk) at a time.
pub const EXPORT_PAGE: u64 = MAX_LIMIT;

/// A CSV body: UTF-8 chunks, the header row in the first.
pub type CsvChunks = std::pin::Pin<Box<dyn Stream<Item = Result<Bytes, ServiceError>> + Send>>;

/// The columns of `GET /api/v1/incidents.csv`.
pub const INCIDENT_COLUMNS: [&str; 18] = [
    "reference",
    "id",
    "title",
    "severity",
    "status",
    "started_at",
    "detected_at",
    "acknowledged_at",
    "mitigated_at",
    "resolved_at",
    "closed_at",
    "affected_components",
    "labels",
    "customer_impact",
    "customer_update_overdue",
    "postmortem_status",
    "contributing_factors",
    "created_at",
];

/// The columns of `GET /api/v1/remediations.csv`.
pub const REMEDIATION_COLUMNS: [&str; 16] = [
    "reference",
    "id",
    "title",
    "kind",
    "priority",
    "status",
    "owner",
    "team",
    "due_date",
    "overdue",
    "incidents",
    "tracker_url",
    "description",
    "reason",
    "created_at",
    "closed_at",
];

/// How lists sit in one cell: `checkout; payments-api`.
const LIST_SEPARATOR: &str = "; ";

/// What an export needs to read its next page.
struct Next<F> {
    ctx: Context,
    filter: F,
    cursor: String,
}

/// The CSV of the incidents `filter` selects, newest first.
pub async fn incidents_csv(
    ctx: &Context,
    filter: IncidentFilter,
) -> Result<CsvChunks, ServiceError> {
    let first = incidents::list(
        ctx,
        filter.clone(),
        PageRequest::parse(Some(EXPORT_PAGE), None)?,
    )
    .await?;
    let mut head = Vec::new();
    write_header(&mut head, &INCIDENT_COLUMNS);
    let (chunk, cursor) = incident_chunk(ctx, first, head).await?;
    let rest = cursor.map(|cursor| Next {
        ctx: ctx.clone(),
        filter,
        cursor,
    });
    let tail = stream::try_unfold(rest, |next| async move {
        let Some(next) = next else {
            return Ok(None);
        };
        let page = PageRequest::parse(Some(EXPORT_PAGE), Some(&next.cursor))?;
        let rows = incidents::list(&next.ctx, next.filter.clone(), page).await?;
        let (chunk, cursor) = incident_chunk(&next.ctx, rows, Vec::new()).await?;
        Ok(Some((chunk, cursor.map(|cursor| Next { cursor, ..next }))))
    });
    Ok(Box::pin(stream::once(async { Ok(chunk) }).chain(tail)))
}

/// The CSV of the remediation items `filter` selects, in the list's order.
pub async fn remediations_csv(
    ctx: &Context,
    filter: RemediationFilter,
) -> Result<CsvChunks, ServiceError> {
    let page = PageRequest::parse(Some(EXPORT_PAGE), None)?;
    let first = remediations::list(ctx, filter.clone(), page).await?;
    let mut head = Vec::new();
    write_header(&mut head, &REMEDIATION_COLUMNS);
    let (chunk, cursor) = remediation_chunk(first, head);
    let rest = cursor.map(|cursor| Next {
        ctx: ctx.clone(),
        filter,
        cursor,
    });
    let tail = stream::try_unfold(rest, |next| async move {
        let Some(next) = next else {
            return Ok(None);
        };
        let page = PageRequest::parse(Some(EXPORT_PAGE), Some(&next.cursor))?;
        let rows = remediations::list(&next.ctx, next.filter.clone(), page).await?;
        let (chunk, cursor) = remediation_chunk(rows, Vec::new());
        Ok(Some((chunk, cursor.map(|cursor| Next { cursor, ..next }))))
    });
    Ok(Box::pin(stream::once(async { Ok(chunk) }).chain(tail)))
}

/// A page of incidents as CSV rows after `out`, with the cursor of the next.
async fn incident_chunk(
    ctx: &Context,
    page: Page<IncidentView>,
    mut out: Vec<u8>,
) -> Result<(Bytes, Option<String>), ServiceError> {
    let ids: Vec<Uuid> = page.items.iter().map(|v| v.incident.id).collect();
    let factors = postmortems::factors_of_incidents(&ctx.db, &ids).await?;
    let mut statuses: BTreeMap<Uuid, PostmortemStatus> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        let rows: Vec<(Uuid, PostmortemStatus)> = postmortem::Entity::find()
            .select_only()
            .columns([postmortem::Column::IncidentId, postmortem::Column::Status])
            .filter(postmortem::Column::IncidentId.is_in(chunk.iter().copied()))
            .into_tuple()
            .all(&ctx.db)
            .await?;
        statuses.extend(rows);
    }
    for view in &page.items {
        let i = &view.incident;
        let reference = IncidentRef::display(i.number);
        let id = i.id.to_string();
        let components = i.affected_components.join(LIST_SEPARATOR);
        let labels = i.labels.join(LIST_SEPARATOR);
        let named = factors
            .get(&i.id)
            .map(|list| {
                list.iter()
                    .map(|f| f.factor.as_str())
                    .collect::<Vec<_>>()
                    .join(LIST_SEPARATOR)
            })
            .unwrap_or_default();
        write_row(
            &mut out,
            &[
                Cell::text(&reference),
                Cell::text(&id),
                Cell::text(&i.title),
                Cell::text(i.severity.as_str()),
                Cell::text(i.status.as_str()),
                Cell::time(i.started_at),
                Cell::time(i.detected_at),
                Cell::time(i.acknowledged_at),
                Cell::time(i.mitigated_at),
                Cell::time(i.resolved_at),
                Cell::time(i.closed_at),
                Cell::text(&components),
                Cell::text(&labels),
                Cell::opt_text(i.customer_impact.as_deref()),
                Cell::boolean(view.customer_update_overdue),
                Cell::opt_text(statuses.get(&i.id).map(|s| s.as_str())),
                Cell::text(&named),
                Cell::time(Some(i.created_at)),
            ],
        );
    }
    Ok((Bytes::from(out), page.next_cursor))
}

/// A page of remediation items as CSV rows after `out`, with the cursor of
/// the next.
fn remediation_chunk(page: Page<RemediationView>, mut out: Vec<u8>) -> (Bytes, Option<String>) {
    for view in &page.items {
        let r = &view.item;
        let reference = RemediationRef::display(r.number);
        let id = r.id.to_string();
        let incidents = view.incidents.join(LIST_SEPARATOR);
        write_row(
            &mut out,
            &[
                Cell::text(&reference),
                Cell::text(&id),
                Cell::text(&r.title),
                Cell::text(r.kind.as_str()),
                Cell::text(r.priority.as_str()),
                Cell::text(r.status.as_str()),
                Cell::opt_text(r.owner.as_deref()),
                Cell::opt_text(r.team.as_deref()),
                Cell::date(r.due_date),
                Cell::boolean(view.overdue),
                Cell::text(&incidents),
                Cell::opt_text(r.tracker_url.as_deref()),
                Cell::opt_text(r.description.as_deref()),
                Cell::opt_text(r.reason.as_deref()),
                Cell::time(Some(r.created_at)),
                Cell::time(r.closed_at),
            ],
        );
    }
    (Bytes::from(out), page.next_cursor)
}
