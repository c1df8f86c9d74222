//! Reminders: each run of `reminders.schedule` mails every owner of overdue
//! remediation items one list of them. The `(owner, period)` key of the
//! reminder record makes a second run of the same period a no-op.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use lettre::message::Mailbox;
use sea_orm::{
    ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, sea_query::OnConflict,
};
use serde::Serialize;

use crate::{
    domain::{ChannelKind, RemediationRef, RemediationStatus},
    entities::{
        delivery::{self, DeliveryKind},
        remediation_item, reminder,
    },
    reports::email::{MailBody, MailLinks, render_mail},
    services::{
        Context, ServiceError, digests, new_id,
        outbox::{self, NewDelivery},
    },
};

#[derive(Debug, Clone, Serialize)]
struct ReminderLine {
    reference: String,
    title: String,
    priority: String,
    team: Option<String>,
    due_date: String,
    days_overdue: i64,
    /// The item in Debrief, when `mail.link_base_url` is set.
    url: Option<String>,
}

/// Where an owner's reminder goes: the owner itself when it is an address
/// or a mailbox (`Łukasz Nowak <lukasz@example.com>`), otherwise the owner
/// by name at `owner@<reminders.owner_domain>` when that is set
/// (`Ben <ben@example.com>`).
pub fn owner_mailbox(owner: &str, owner_domain: Option<&str>) -> Option<Mailbox> {
    let owner = owner.trim();
    if let Ok(address) = owner.parse::<lettre::Address>() {
        return Some(Mailbox::new(None, address));
    }
    if let Ok(mailbox) = owner.parse::<Mailbox>() {
        return Some(mailbox);
    }
    let domain = owner_domain?;
    let address = format!("{}@{domain}", owner.to_lowercase().replace(' ', "."))
        .parse::<lettre::Address>()
        .ok()?;
    Some(Mailbox::new(Some(owner.to_string()), address))
}

/// Queue this period's reminders; returns how many were queued.
pub async fn queue(ctx: &Context, period: DateTime<Utc>) -> Result<usize, ServiceError> {
    let tz = digests::time_zone(&ctx.settings);
    let today = period.with_timezone(&tz).date_naive();
    let by_owner = overdue_by_owner(ctx, today).await?;
    let round = Round {
        period,
        period_key: period.to_rfc3339(),
        domain: outbox::message_id_domain(&ctx.settings),
    };
    let mut queued = 0;
    for (owner, items) in by_owner {
        let Some(mailbox) = owner_mailbox(&owner, ctx.settings.reminders.owner_domain.as_deref())
        else {
            tracing::warn!(remediation.owner = %owner, "No reminder address for owner {owner}: set reminders.owner_domain or use e-mail addresses as owners");
            continue;
        };
        if queue_one(ctx, &round, &owner, &mailbox, &items).await? {
            queued += 1;
        }
    }
    Ok(queued)
}

/// What every reminder of one run shares.
struct Round {
    period: DateTime<Utc>,
    /// The period as stored in the reminder's key (RFC 3339).
    period_key: String,
    /// The domain of the mails' `Message-ID`.
    domain: String,
}

/// The open remediation items past their due date, by owner, oldest first.
async fn overdue_by_owner(
    ctx: &Context,
    today: NaiveDate,
) -> Result<BTreeMap<String, Vec<ReminderLine>>, ServiceError> {
    let overdue = remediation_item::Entity::find()
        .filter(remediation_item::Column::Status.is_in([
            RemediationStatus::Open,
            RemediationStatus::InProgress,
            RemediationStatus::Blocked,
        ]))
        .filter(remediation_item::Column::DueDate.is_not_null())
        .filter(remediation_item::Column::DueDate.lt(today))
        .filter(remediation_item::Column::Owner.is_not_null())
        .order_by_asc(remediation_item::Column::DueDate)
        .order_by_asc(remediation_item::Column::Number)
        .all(&ctx.db)
        .await?;
    let links = MailLinks::from_settings(&ctx.settings);
    let mut by_owner: BTreeMap<String, Vec<ReminderLine>> = BTreeMap::new();
    for item in overdue {
        let (Some(owner), Some(due)) = (item.owner.clone(), item.due_date) else {
            continue;
        };
        let reference = RemediationRef::display(item.number);
        by_owner.entry(owner).or_default().push(ReminderLine {
            url: links.remediation(&reference),
            reference,
            title: item.title,
            priority: item.priority.as_str().into(),
            team: item.team,
            due_date: due.to_string(),
            days_overdue: (today - due).num_days(),
        });
    }
    Ok(by_owner)
}

/// Record one owner's reminder of the period and queue its mail, in one
/// transaction; `false` when this period's reminder for the owner exists.
async fn queue_one(
    ctx: &Context,
    round: &Round,
    owner: &str,
    mailbox: &Mailbox,
    items: &[ReminderLine],
) -> Result<bool, ServiceError> {
    let MailBody { text, html } = render_mail(
        "reminder_email",
        serde_json::json!({
            "owner": mailbox.name.as_deref().unwrap_or(owner),
            "items": items,
        }),
    )?;
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let inserted = reminder::Entity::insert(
        reminder::Model {
            id: new_id(),
            owner: owner.to_string(),
            period: round.period_key.clone(),
            address: mailbox.email.to_string(),
            items: items
                .iter()
                .map(|i| i.reference.clone())
                .collect::<Vec<_>>()
                .into(),
            created_at: now,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::columns([reminder::Column::Owner, reminder::Column::Period])
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(&txn)
    .await?;
    if inserted == 0 {
        return Ok(false);
    }
    let mail = reminder_mail(round, owner, mailbox, items.len(), text, html);
    delivery::Entity::insert(outbox::pending(
        DeliveryKind::Reminder,
        ChannelKind::Email,
        mail,
        now,
    ))
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await?;
    Ok(true)
}

/// The delivery of one owner's reminder listing `count` items.
fn reminder_mail(
    round: &Round,
    owner: &str,
    mailbox: &Mailbox,
    count: usize,
    text: String,
    html: String,
) -> NewDelivery {
    let tag = outbox::recipient_tag(owner);
    NewDelivery {
        key: format!("reminder:{}:{owner}", round.period_key),
        // With the owner's name: `To: Ben <ben@example.com>`.
        recipient: mailbox.to_string(),
        subject: format!(
            "{count} overdue remediation item{}",
            if count == 1 { "" } else { "s" }
        ),
        payload: text,
        html: Some(html),
        message_id: format!(
            "<reminder-{}-{tag}@{}>",
            round.period.format("%Y%m%dT%H%M%SZ"),
            round.domain
        ),
        ..NewDelivery::default()
    }
}
