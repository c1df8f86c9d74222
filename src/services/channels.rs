//! Incident notification channels (e-mail addresses and Slack-compatible
//! webhooks) and the distribution of each new sitrep version to them
//! through the outbox.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, sea_query::OnConflict,
};
use serde::Serialize;
use uuid::Uuid;

use crate::{
    domain::{ChannelKind, ChannelTarget, IncidentRef, WebhookSecret},
    entities::{
        delivery::{self, DeliveryKind},
        incident, incident_channel, sitrep,
    },
    notify::{
        address_policy::{AddressPolicy, REGISTRATION_RESOLVE_TIMEOUT},
        webhook::slack_payload,
    },
    reports::email::{MailBody, MailLinks, render_mail},
    services::{
        Context, ServiceError, find_incident, new_id,
        outbox::{self, NewDelivery},
    },
};

/// A channel checked at the edge: a valid address, or an http(s) URL.
/// Where a webhook URL points is checked by [`add`], which may resolve it.
#[derive(Debug, Clone)]
pub struct NewChannel {
    kind: ChannelKind,
    target: String,
    /// The parsed webhook URL.
    url: Option<reqwest::Url>,
}

impl NewChannel {
    pub fn parse(kind: ChannelKind, target: ChannelTarget) -> Result<Self, ServiceError> {
        let target = target.as_str().trim().to_string();
        let mut webhook_url = None;
        match kind {
            ChannelKind::Email => {
                target.parse::<lettre::Address>().map_err(|err| {
                    ServiceError::validation(
                        "target",
                        format!("`target` {target:?} is not an e-mail address ({err})"),
                    )
                })?;
            }
            ChannelKind::Webhook => {
                let url = reqwest::Url::parse(&target).map_err(|err| {
                    ServiceError::validation(
                        "target",
                        format!("`target` {target:?} is not a URL ({err})"),
                    )
                })?;
                if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
                    return Err(ServiceError::validation(
                        "target",
                        format!("`target` {target:?} must be an http or https URL"),
                    ));
                }
                webhook_url = Some(url);
            }
        }
        Ok(Self {
            kind,
            target,
            url: webhook_url,
        })
    }
}

/// Add a channel to an incident, with a new signing secret; the same
/// target twice is a 409. A webhook URL whose host is, or resolves to, an
/// address that `webhooks.allow_addresses` does not allow (loopback,
/// private, link-local …) is a 422 naming `target`. A name that does not
/// resolve now is accepted: every call resolves it again and is refused
/// then if it points somewhere not allowed.
pub async fn add(
    ctx: &Context,
    reference: IncidentRef,
    new: NewChannel,
) -> Result<incident_channel::Model, ServiceError> {
    if let Some(url) = &new.url {
        // Before the transaction: resolving is a network wait.
        AddressPolicy::new(&ctx.settings.webhooks.allow_addresses)
            .check_target(url, REGISTRATION_RESOLVE_TIMEOUT)
            .await
            .map_err(|_| {
                ServiceError::validation(
                    "target",
                    "`target` points to an address webhooks may not reach (loopback, private, \
                     link-local, multicast or reserved); an operator can allow it with \
                     webhooks.allow_addresses",
                )
            })?;
    }
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let incident = find_incident(&txn, reference).await?;
    let model = insert(&txn, &incident, new, now).await?;
    txn.commit().await?;
    Ok(model)
}

/// Store a new channel of `incident`, with a new signing secret, inside the
/// caller's transaction: the one writer of channels. The same target twice
/// is a 409. Where a webhook URL points is the caller's to check first
/// (resolving it is a network wait, never inside a write transaction).
pub async fn insert<C: ConnectionTrait>(
    db: &C,
    incident: &incident::Model,
    new: NewChannel,
    now: DateTime<Utc>,
) -> Result<incident_channel::Model, ServiceError> {
    let model = incident_channel::Model {
        id: new_id(),
        incident_id: incident.id,
        kind: new.kind,
        target: new.target,
        signing_secret: WebhookSecret::generate(),
        created_at: now,
    };
    let inserted = incident_channel::Entity::insert(model.clone().into_active_model())
        .on_conflict(
            OnConflict::columns([
                incident_channel::Column::IncidentId,
                incident_channel::Column::Kind,
                incident_channel::Column::Target,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    if inserted == 0 {
        return Err(ServiceError::Conflict {
            detail: format!(
                "{} already has the {} channel {}",
                IncidentRef::display(incident.number),
                model.kind,
                model.target
            ),
            field: Some("target".into()),
            details: None,
        });
    }
    Ok(model)
}

/// An incident's channels, oldest first.
pub async fn list(
    ctx: &Context,
    reference: IncidentRef,
) -> Result<Vec<incident_channel::Model>, ServiceError> {
    let order = [
        (incident_channel::Column::CreatedAt, sea_orm::Order::Asc),
        (incident_channel::Column::Id, sea_orm::Order::Asc),
    ];
    let all = incident_channel::Entity::find();
    super::reads::of_incident(
        &ctx.db,
        reference,
        all,
        incident_channel::Column::IncidentId,
        &order,
        None,
    )
    .await
}

/// Remove a channel. E-mails already queued still go out; webhook calls
/// already queued are given up, since the channel's signing secret goes
/// with it (see [`webhook_secret`]).
pub async fn remove(ctx: &Context, reference: IncidentRef, id: Uuid) -> Result<(), ServiceError> {
    let incident = find_incident(&ctx.db, reference).await?;
    let txn = ctx.begin_write().await?;
    let deleted = incident_channel::Entity::delete_many()
        .filter(incident_channel::Column::IncidentId.eq(incident.id))
        .filter(incident_channel::Column::Id.eq(id))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    if deleted.rows_affected == 0 {
        return Err(ServiceError::NotFound(format!("channel {id}")));
    }
    Ok(())
}

#[derive(Serialize)]
struct SitrepMail<'a> {
    version: i32,
    incident: String,
    title: &'a str,
    severity: &'a str,
    status: &'a str,
    summary: &'a str,
    customer_impact: Option<&'a str>,
    roles: Vec<crate::entities::sitrep::RoleSnapshot>,
    open_issues: Vec<String>,
    resolved_issues: Vec<String>,
    current_actions: Vec<String>,
    next_update_due: Option<String>,
    author: Option<&'a str>,
    /// Links into the service, when `mail.link_base_url` is set.
    incident_url: Option<String>,
    sitrep_url: Option<String>,
}

/// Queue the new sitrep for every channel of its incident, inside the
/// transaction that created it: the sitrep and its deliveries commit
/// together.
pub async fn enqueue_sitrep<C: ConnectionTrait>(
    txn: &C,
    ctx: &Context,
    incident: &incident::Model,
    sitrep: &sitrep::Model,
    now: DateTime<Utc>,
) -> Result<usize, ServiceError> {
    let channels = incident_channel::Entity::find()
        .filter(incident_channel::Column::IncidentId.eq(incident.id))
        .all(txn)
        .await?;
    if channels.is_empty() {
        return Ok(0);
    }
    let reference = IncidentRef::display(incident.number);
    let links = MailLinks::from_settings(&ctx.settings);
    let MailBody { text, html } = render_mail(
        "sitrep_email",
        SitrepMail {
            version: sitrep.version,
            incident: reference.clone(),
            title: &incident.title,
            severity: incident.severity.as_str(),
            status: incident.status.as_str(),
            summary: &sitrep.summary,
            customer_impact: sitrep.customer_impact.as_deref(),
            roles: sitrep.roles.to_vec(),
            open_issues: sitrep.open_issues.to_vec(),
            resolved_issues: sitrep.resolved_issues.to_vec(),
            current_actions: sitrep.current_actions.to_vec(),
            next_update_due: sitrep.next_update_due.map(|d| d.to_rfc3339()),
            author: sitrep.author.as_deref(),
            incident_url: links.incident(&reference),
            sitrep_url: links.sitrep(&reference, sitrep.version),
        },
    )?;
    let subject = format!(
        "[{reference}] Sitrep v{}: {}",
        sitrep.version, incident.title
    );
    let domain = outbox::message_id_domain(&ctx.settings);
    let rows: Vec<delivery::ActiveModel> = channels
        .iter()
        .map(|channel| {
            let webhook = channel.kind == ChannelKind::Webhook;
            outbox::pending(
                DeliveryKind::Sitrep,
                channel.kind,
                NewDelivery {
                    key: format!("sitrep:{}:{}:{}", sitrep.id, channel.kind, channel.target),
                    recipient: channel.target.clone(),
                    subject: subject.clone(),
                    payload: if webhook {
                        slack_payload(&format!("*{subject}*\n{text}"))
                    } else {
                        text.clone()
                    },
                    html: (!webhook).then(|| html.clone()),
                    message_id: format!("<sitrep-{}-{}@{domain}>", sitrep.id, channel.id),
                    sitrep_id: Some(sitrep.id),
                    ..NewDelivery::default()
                },
                now,
            )
        })
        .collect();
    let count = rows.len();
    delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(delivery::Column::DeliveryKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(count)
}

/// The signing secret for a webhook delivery: that of the webhook channel
/// of the sitrep's incident with the delivery's target (re-created with
/// the same target, the new channel's). `None` when there is no such
/// channel any more.
pub async fn webhook_secret<C: ConnectionTrait>(
    db: &C,
    delivery: &delivery::Model,
) -> Result<Option<WebhookSecret>, ServiceError> {
    let Some(sitrep_id) = delivery.sitrep_id else {
        return Ok(None);
    };
    // Channel -> incident -> the sitrep: one statement.
    Ok(incident_channel::Entity::find()
        .select_only()
        .column(incident_channel::Column::SigningSecret)
        .join(
            JoinType::InnerJoin,
            incident_channel::Relation::Incident.def(),
        )
        .join(JoinType::InnerJoin, incident::Relation::Sitreps.def())
        .filter(sitrep::Column::Id.eq(sitrep_id))
        .filter(incident_channel::Column::Kind.eq(ChannelKind::Webhook))
        .filter(incident_channel::Column::Target.eq(&delivery.recipient))
        .into_tuple()
        .one(db)
        .await?)
}

/// The deliveries of some sitreps, by sitrep.
pub async fn sitrep_deliveries<C: ConnectionTrait>(
    db: &C,
    sitrep_ids: Vec<Uuid>,
) -> Result<Vec<delivery::Model>, ServiceError> {
    if sitrep_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(delivery::Entity::find()
        .filter(delivery::Column::SitrepId.is_in(sitrep_ids))
        .order_by_asc(delivery::Column::CreatedAt)
        .order_by_asc(delivery::Column::Recipient)
        .all(db)
        .await?)
}
