//! The weekly Ops Review digest: generate a week (Markdown, HTML, chart,
//! PDF), keep it in the archive, and queue its mails in the outbox, once per
//! recipient and send.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::OnConflict,
};

use crate::{
    config::{FactorSettings, Settings},
    domain::{ChannelKind, IsoWeek, SendTrigger, parse_time_zone},
    entities::{
        delivery::{self, DeliveryKind},
        digest, digest_send,
    },
    reports::{
        chart::{self, TrendPoint},
        digest::{self as render, DigestModel, WeekColumn},
        pdf::{PdfOptions, render_pdf},
    },
    services::{
        Context, ServiceError, new_id,
        outbox::{self, NewDelivery, recipient_tag},
        stats::{self, FactorWeeks, Lists, PeriodStats},
    },
};

/// Weeks shown beside the digest's week for comparison.
pub const COMPARISON_WEEKS: u32 = 4;
/// Weeks in the trend chart.
pub const TREND_WEEKS: u32 = 12;
/// Overdue remediation items and post-mortems the digest lists (most
/// overdue first); it gives the count of the rest and where they all are.
/// Without a limit the mail would grow with every item left open for
/// years, and so would the time to lay it out.
pub const DIGEST_LIST_LIMIT: usize = 100;

/// A generated digest, before or after it is archived.
#[derive(Debug, Clone)]
pub struct GeneratedDigest {
    pub week: IsoWeek,
    pub period_start: DateTime<Utc>,
    pub period_end: DateTime<Utc>,
    pub time_zone: String,
    pub stats: PeriodStats,
    pub markdown: String,
    pub html: String,
    pub chart_png: Vec<u8>,
    pub pdf: Option<Vec<u8>>,
}

/// The configured time zone (checked when the settings were loaded).
pub fn time_zone(settings: &Settings) -> Tz {
    parse_time_zone("digest.time_zone", &settings.digest.time_zone).unwrap_or(chrono_tz::UTC)
}

/// Generate a week's digest from the data as it is. Reads only; the same
/// data gives the same digest.
pub async fn generate<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    week: IsoWeek,
) -> Result<GeneratedDigest, ServiceError> {
    let tz = time_zone(settings);
    let definitions = stats::Definitions {
        tz,
        intervals: &settings.customer_update_minutes,
        taxonomy: &settings.factors,
    };
    let (period_start, period_end) = week.bounds(tz);
    let mut weeks = Vec::new();
    for back in 0..=COMPARISON_WEEKS {
        let w = week.minus(back);
        let (from, to) = w.bounds(tz);
        // The week lists its most overdue items (all are counted); the
        // weeks before show counts only.
        let lists = if back == 0 {
            Lists::Most(DIGEST_LIST_LIMIT)
        } else {
            Lists::CountsOnly
        };
        weeks.push(WeekColumn {
            week: w.to_string(),
            stats: stats::period_stats(db, from, to, definitions, lists).await?,
        });
    }
    let (trend, factors) = trend(db, week, tz, &settings.factors).await?;
    let current = weeks[0].stats.clone();
    let last_day = period_end.with_timezone(&tz).date_naive().pred_opt();
    let model = DigestModel {
        week: week.to_string(),
        period: format!(
            "{} to {}",
            week.monday().format("%-d %B %Y"),
            last_day.unwrap_or(week.monday()).format("%-d %B %Y")
        ),
        time_zone: tz.name().to_string(),
        current: current.clone(),
        weeks,
        trend: trend.clone(),
        factors,
        list_limit: DIGEST_LIST_LIMIT,
        from_day: week.monday().to_string(),
        to_day: last_day.unwrap_or(week.monday()).to_string(),
    };
    let chart_png = chart::trend_png(&trend)?;
    let markdown = render::digest_markdown(&model)?;
    let html = render::digest_html(&model, &markdown, &chart_png)?;
    // The PDF is laid out from the same Markdown, the chart embedded; its
    // creation date is the end of the week, so the same data gives the
    // same document.
    let mut options = PdfOptions::new(format!("Ops Review digest {week}"), period_end);
    options.subject = format!("Ops Review digest {week}, {}", model.period);
    options.paper = settings.documents.paper_size;
    options.font_dirs = settings.documents.font_dirs.clone();
    options
        .images
        .insert(render::CHART_REF.to_string(), chart_png.clone());
    // Laid out on a blocking thread: it takes a core for a while.
    let pdf_markdown = markdown.clone();
    let pdf = tokio::task::spawn_blocking(move || render_pdf(&pdf_markdown, &options))
        .await
        .map_err(|e| ServiceError::Internal(e.into()))?
        .map_err(|e| {
            ServiceError::Internal(anyhow::Error::new(e).context("cannot lay out the digest PDF"))
        })?;
    Ok(GeneratedDigest {
        week,
        period_start,
        period_end,
        time_zone: tz.name().to_string(),
        stats: current,
        markdown,
        html,
        chart_png,
        pdf: Some(pdf),
    })
}

/// Incidents opened per week by severity and the median time to resolve,
/// and the incidents that name each contributing factor, for the twelve
/// weeks ending with `week`: one query of the incidents over the window.
async fn trend<C: ConnectionTrait>(
    db: &C,
    week: IsoWeek,
    tz: Tz,
    taxonomy: &FactorSettings,
) -> Result<(Vec<TrendPoint>, FactorWeeks), ServiceError> {
    let first = week.minus(TREND_WEEKS - 1);
    let (from, _) = first.bounds(tz);
    let (_, to) = week.bounds(tz);
    let active = stats::active_incidents(db, from, to).await?;
    let weeks: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = (0..TREND_WEEKS)
        .rev()
        .map(|back| {
            let w = week.minus(back);
            let (a, b) = w.bounds(tz);
            (w.to_string(), a, b)
        })
        .collect();
    let factors = stats::factor_weeks(db, &active, &weeks, taxonomy).await?;
    let none = BTreeMap::new();
    let points = weeks
        .iter()
        .map(|(name, a, b)| {
            let figures = stats::incident_figures(&active, *a, *b, &none);
            TrendPoint {
                week: name.clone(),
                opened: [
                    figures.opened.sev1,
                    figures.opened.sev2,
                    figures.opened.sev3,
                    figures.opened.sev4,
                ],
                median_resolve_seconds: figures.response_times.resolve.median_seconds,
            }
        })
        .collect();
    Ok((points, factors))
}

/// A week as served: the archived digest when the week was sent, otherwise
/// generated now (a preview).
pub async fn get_or_preview(ctx: &Context, week: IsoWeek) -> Result<GeneratedDigest, ServiceError> {
    if let Some(row) = digest::Entity::find()
        .filter(digest::Column::Week.eq(week.to_string()))
        .one(&ctx.db)
        .await?
    {
        return Ok(GeneratedDigest {
            week,
            period_start: row.period_start,
            period_end: row.period_end,
            time_zone: row.time_zone,
            stats: serde_json::from_str(&row.stats).map_err(|e| {
                ServiceError::Internal(anyhow::Error::new(e).context("corrupt digest stats"))
            })?,
            markdown: row.markdown,
            html: row.html,
            chart_png: row.chart_png,
            pdf: row.pdf,
        });
    }
    generate_in_turn(ctx, week).await
}

/// [`generate`], in turn with the other renders (see
/// [`RenderQueue`](super::render_queue::RenderQueue)).
pub async fn generate_in_turn(
    ctx: &Context,
    week: IsoWeek,
) -> Result<GeneratedDigest, ServiceError> {
    let _turn = ctx.renders.admit().await?;
    generate(&ctx.db, &ctx.settings, week).await
}

/// An archived week with its sends and per-recipient deliveries.
#[derive(Debug, Clone)]
pub struct ArchivedDigest {
    pub digest: digest::Model,
    pub sends: Vec<digest_send::Model>,
    pub deliveries: Vec<delivery::Model>,
}

/// The archive, newest week first.
pub async fn list(ctx: &Context) -> Result<Vec<ArchivedDigest>, ServiceError> {
    let digests = digest::Entity::find()
        .select_only()
        .columns([
            digest::Column::Id,
            digest::Column::Week,
            digest::Column::PeriodStart,
            digest::Column::PeriodEnd,
            digest::Column::TimeZone,
            digest::Column::GeneratedAt,
            digest::Column::CreatedAt,
            digest::Column::UpdatedAt,
        ])
        .order_by_desc(digest::Column::Week)
        .into_tuple::<(
            uuid::Uuid,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            String,
            DateTime<Utc>,
            DateTime<Utc>,
            DateTime<Utc>,
        )>()
        .all(&ctx.db)
        .await?;
    let sends = digest_send::Entity::find()
        .order_by_asc(digest_send::Column::Week)
        .order_by_asc(digest_send::Column::SendNumber)
        .all(&ctx.db)
        .await?;
    let deliveries = delivery::Entity::find()
        .filter(delivery::Column::DigestWeek.is_not_null())
        .order_by_asc(delivery::Column::SendNumber)
        .order_by_asc(delivery::Column::Recipient)
        .all(&ctx.db)
        .await?;
    Ok(digests
        .into_iter()
        .map(
            |(
                id,
                week,
                period_start,
                period_end,
                time_zone,
                generated_at,
                created_at,
                updated_at,
            )| {
                ArchivedDigest {
                    sends: sends.iter().filter(|s| s.week == week).cloned().collect(),
                    deliveries: deliveries
                        .iter()
                        .filter(|d| d.digest_week.as_deref() == Some(week.as_str()))
                        .cloned()
                        .collect(),
                    digest: digest::Model {
                        id,
                        week,
                        period_start,
                        period_end,
                        time_zone,
                        markdown: String::new(),
                        html: String::new(),
                        chart_png: Vec::new(),
                        pdf: None,
                        stats: String::new(),
                        generated_at,
                        created_at,
                        updated_at,
                    },
                }
            },
        )
        .collect())
}

/// What a send queued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    pub week: IsoWeek,
    pub send_number: i32,
    pub recipients: Vec<String>,
}

/// Generate, archive and queue a week's digest for every configured
/// recipient, in one transaction. Without `resend`, a week that was already
/// sent is a 409; with it, the send is recorded as the next send number and
/// mailed again. Each (week, send, recipient) is one outbox row with a
/// unique key, so nothing is queued twice.
pub async fn send(
    ctx: &Context,
    week: IsoWeek,
    resend: bool,
    trigger: SendTrigger,
    requested_by: Option<String>,
) -> Result<Queued, ServiceError> {
    let recipients = ctx.settings.digest.recipients.clone();
    check_recipients(&recipients)?;
    // Render outside the transaction: SQLite has one writer.
    let generated = generate_in_turn(ctx, week).await?;
    let now = ctx.now();
    let txn = ctx.begin_write().await?;
    let send_number = next_send_number(&txn, week, resend).await?;
    archive(&txn, &generated, now).await?;
    let sent = digest_send::Model {
        id: new_id(),
        week: week.to_string(),
        send_number,
        trigger,
        requested_by,
        recipients: i32::try_from(recipients.len()).unwrap_or(i32::MAX),
        created_at: now,
    };
    record_send(&txn, sent.clone()).await?;
    queue_deliveries(&txn, &ctx.settings, &sent, &recipients).await?;
    txn.commit().await?;
    tracing::info!(
        digest.week = %week,
        digest.send = send_number,
        "Queued Ops Review digest {week} for {} recipients",
        recipients.len()
    );
    Ok(Queued {
        week,
        send_number,
        recipients,
    })
}

/// A digest is sent only to configured recipients.
fn check_recipients(recipients: &[String]) -> Result<(), ServiceError> {
    if recipients.is_empty() {
        return Err(ServiceError::Conflict {
            detail: "no digest recipients are configured: set `digest.recipients` or \
                     DEBRIEF_DIGEST_RECIPIENTS"
                .into(),
            field: None,
            details: None,
        });
    }
    Ok(())
}

/// The week's next send number: 1, or after the last one when `resend`
/// asks to mail a week already sent.
async fn next_send_number<C: ConnectionTrait>(
    txn: &C,
    week: IsoWeek,
    resend: bool,
) -> Result<i32, ServiceError> {
    let last: Option<i32> = digest_send::Entity::find()
        .filter(digest_send::Column::Week.eq(week.to_string()))
        .select_only()
        .column_as(digest_send::Column::SendNumber.max(), "max")
        .into_tuple::<Option<i32>>()
        .one(txn)
        .await?
        .flatten();
    if last.is_some() && !resend {
        return Err(ServiceError::Conflict {
            detail: format!(
                "the digest of {week} was already sent; send again with `\"resend\": true` \
                 (or `--resend`) to mail it once more"
            ),
            field: Some("resend".into()),
            details: None,
        });
    }
    Ok(last.unwrap_or(0) + 1)
}

/// The send recorded under its (week, send number), refused if another
/// request recorded it first.
async fn record_send<C: ConnectionTrait>(
    txn: &C,
    sent: digest_send::Model,
) -> Result<(), ServiceError> {
    let week = sent.week.clone();
    let inserted = digest_send::Entity::insert(sent.into_active_model())
        .on_conflict(
            OnConflict::columns([digest_send::Column::Week, digest_send::Column::SendNumber])
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    if inserted == 0 {
        // Another replica recorded this send between our read and write.
        return Err(ServiceError::conflict(format!(
            "the digest of {week} is being sent by another request"
        )));
    }
    Ok(())
}

/// One outbox row per recipient of the send, under a key unique to
/// (week, send, recipient) so nothing is queued twice.
async fn queue_deliveries<C: ConnectionTrait>(
    txn: &C,
    settings: &Settings,
    sent: &digest_send::Model,
    recipients: &[String],
) -> Result<(), ServiceError> {
    let (week, send_number) = (&sent.week, sent.send_number);
    let domain = outbox::message_id_domain(settings);
    let subject = format!("Ops Review digest {week}");
    let rows: Vec<delivery::ActiveModel> = recipients
        .iter()
        .map(|recipient| {
            outbox::pending(
                DeliveryKind::Digest,
                ChannelKind::Email,
                NewDelivery {
                    key: format!("digest:{week}:{send_number}:{}", recipient.to_lowercase()),
                    recipient: recipient.clone(),
                    subject: subject.clone(),
                    message_id: format!(
                        "<digest-{week}-{send_number}-{}@{domain}>",
                        recipient_tag(recipient)
                    ),
                    digest_week: Some(week.clone()),
                    send_number: Some(send_number),
                    ..NewDelivery::default()
                },
                sent.created_at,
            )
        })
        .collect();
    delivery::Entity::insert_many(rows)
        .on_conflict(
            OnConflict::column(delivery::Column::DeliveryKey)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// Store (or replace) the week's archived content.
async fn archive<C: ConnectionTrait>(
    db: &C,
    generated: &GeneratedDigest,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let stats = serde_json::to_string(&generated.stats)
        .map_err(|e| ServiceError::Internal(anyhow::Error::new(e).context("cannot store stats")))?;
    let existing = digest::Entity::find()
        .filter(digest::Column::Week.eq(generated.week.to_string()))
        .one(db)
        .await?;
    match existing {
        Some(row) => {
            let mut active = row.into_active_model();
            active.markdown = Set(generated.markdown.clone());
            active.html = Set(generated.html.clone());
            active.chart_png = Set(generated.chart_png.clone());
            active.pdf = Set(generated.pdf.clone());
            active.stats = Set(stats);
            active.generated_at = Set(now);
            active.updated_at = Set(now);
            active.update(db).await?;
        }
        None => {
            digest::Entity::insert(
                digest::Model {
                    id: new_id(),
                    week: generated.week.to_string(),
                    period_start: generated.period_start,
                    period_end: generated.period_end,
                    time_zone: generated.time_zone.clone(),
                    markdown: generated.markdown.clone(),
                    html: generated.html.clone(),
                    chart_png: generated.chart_png.clone(),
                    pdf: generated.pdf.clone(),
                    stats,
                    generated_at: now,
                    created_at: now,
                    updated_at: now,
                }
                .into_active_model(),
            )
            .exec_without_returning(db)
            .await?;
        }
    }
    Ok(())
}
