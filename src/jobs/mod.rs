//! Background work: the scheduler (cron schedules in the configured zone,
//! runs claimed in the database), the digest and reminder jobs, and the
//! outbox worker. `debrief serve` calls [`Jobs::run_once`] every
//! `jobs.tick_seconds`; tests call it themselves with a manual clock;
//! `debrief job run` calls [`Jobs::run_now`] for one job.

pub mod outbox;
pub mod reminders;
pub mod scheduler;
pub mod tracker_push;
pub mod tracker_reconcile;

use std::{fmt, time::Duration as StdDuration};

use chrono::{DateTime, Duration, Utc};

use crate::{
    domain::{CronSpec, IsoWeek, SendTrigger},
    notify::{Mailer, WebhookClient},
    services::{Context, ServiceError, digests},
};
pub use outbox::DrainReport;
pub use scheduler::Claim;
pub use tracker_push::PushReport;
pub use tracker_reconcile::ReconcileReport;

pub use crate::entities::job_claim::ScheduledJob;

/// What one pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    /// Runs started by this pass, as `job@scheduled time`.
    pub runs: Vec<String>,
    /// Runs that failed (retried after their claim expires).
    pub failed_runs: Vec<String>,
    pub deliveries: DrainReport,
    /// Remediation items pushed to their trackers.
    pub tracker_pushes: PushReport,
}

impl RunReport {
    /// Whether anything happened ("did work") or there was nothing to do.
    pub fn did_work(&self) -> bool {
        !self.runs.is_empty()
            || !self.failed_runs.is_empty()
            || self.deliveries.did_work()
            || self.tracker_pushes.did_work()
    }
}

/// A job `debrief job run` runs now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobName {
    /// The weekly digest, mailed to `digest.recipients`.
    Digest,
    /// Reminders to owners of overdue remediation items.
    Reminders,
    /// Delivery of what the outbox holds.
    Outbox,
    /// Reconciliation of linked tracker issues, then the tracker pushes.
    TrackerSync,
}

/// What a job did when run now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    /// The week's digest was archived and queued.
    DigestQueued {
        week: IsoWeek,
        send_number: i32,
        recipients: usize,
    },
    /// The week's digest had been sent already: nothing was queued.
    DigestAlreadySent { week: IsoWeek },
    /// No `digest.recipients`: nothing was queued.
    DigestNoRecipients { week: IsoWeek },
    /// Reminders of the run scheduled for `period`, one per owner not
    /// reminded for that run yet.
    RemindersQueued {
        period: DateTime<Utc>,
        queued: usize,
    },
    /// Only the outbox was delivered.
    Outbox,
    /// Linked issues fetched again.
    TrackerSync { reconciled: ReconcileReport },
}

/// What [`Jobs::run_now`] did: the job, then the outbox delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRunReport {
    pub outcome: JobOutcome,
    pub deliveries: DrainReport,
    /// Remediation items pushed to their trackers.
    pub tracker_pushes: PushReport,
}

impl fmt::Display for JobRunReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.outcome {
            JobOutcome::DigestQueued {
                week,
                send_number,
                recipients,
            } => write!(
                f,
                "Digest {week} (send {send_number}) queued for {recipients} recipient(s). "
            )?,
            JobOutcome::DigestAlreadySent { week } => write!(
                f,
                "Digest {week} was already sent: nothing queued (`debrief digest --week {week} --send --resend` sends it again). "
            )?,
            JobOutcome::DigestNoRecipients { week } => write!(
                f,
                "Digest {week} not sent: no recipients are configured (digest.recipients). "
            )?,
            JobOutcome::RemindersQueued { period, queued } => write!(
                f,
                "Reminders for the run of {}: {queued} queued. ",
                period.to_rfc3339()
            )?,
            JobOutcome::Outbox => {}
            JobOutcome::TrackerSync { reconciled } => {
                write!(
                    f,
                    "Trackers: {} issue(s) checked, {} item(s) changed, {} failed. ",
                    reconciled.checked, reconciled.changed, reconciled.failed,
                )?;
                for (tracker, at) in &reconciled.paused {
                    write!(
                        f,
                        "The {tracker} tracker is rate limited until {}. ",
                        at.to_rfc3339()
                    )?;
                }
            }
        }
        let p = &self.tracker_pushes;
        if p.did_work() {
            write!(
                f,
                "Tracker pushes: {} done, {} to retry, {} failed. ",
                p.pushed, p.retrying, p.failed
            )?;
        }
        let d = &self.deliveries;
        if d.did_work() {
            write!(
                f,
                "Outbox: {} delivered, {} to retry, {} failed.",
                d.sent, d.retrying, d.failed
            )
        } else {
            write!(f, "Outbox: nothing to deliver.")
        }
    }
}

/// The scheduler and outbox worker of one process.
#[derive(Clone)]
pub struct Jobs {
    ctx: Context,
    mailer: Mailer,
    webhooks: WebhookClient,
    /// Who holds claims taken by this process.
    holder: String,
}

impl Jobs {
    pub fn new(ctx: Context, mailer: Mailer) -> anyhow::Result<Self> {
        Ok(Self {
            webhooks: WebhookClient::new(&ctx.settings.webhooks)?,
            ctx,
            mailer,
            holder: format!("debrief-{}", uuid::Uuid::new_v4().simple()),
        })
    }

    pub fn mailer(&self) -> &Mailer {
        &self.mailer
    }

    pub fn context(&self) -> &Context {
        &self.ctx
    }

    /// One pass: run every job whose latest scheduled time has come and is
    /// not claimed yet (so a run missed while the service was down is caught
    /// up once at start, and an expired claim is retried), then deliver
    /// what the outbox holds.
    pub async fn run_once(&self) -> Result<RunReport, ServiceError> {
        let mut report = RunReport::default();
        let tz = digests::time_zone(&self.ctx.settings);
        let mut jobs = vec![
            (ScheduledJob::Digest, &self.ctx.settings.digest.schedule),
            (
                ScheduledJob::Reminders,
                &self.ctx.settings.reminders.schedule,
            ),
        ];
        if !self.ctx.trackers.all().is_empty() {
            jobs.push((
                ScheduledJob::TrackerSync,
                &self.ctx.settings.trackers.reconcile_schedule,
            ));
        }
        for (job, schedule) in jobs {
            let spec = CronSpec::parse(schedule).map_err(|e| {
                ServiceError::Internal(anyhow::Error::new(e).context(format!("the {job} schedule")))
            })?;
            let now = self.ctx.now();
            let Some(at) = spec.latest_at_or_before(now, tz) else {
                continue;
            };
            if self.claim(job, at).await? == Claim::Taken {
                continue;
            }
            let label = format!("{job}@{}", at.to_rfc3339());
            match self.run_job(job, at).await {
                Ok(()) => {
                    scheduler::complete(&self.ctx.db, job, at, &self.holder, self.ctx.now())
                        .await?;
                    self.ctx
                        .metrics
                        .job_last_success
                        .with_label_values(&[job.as_str()])
                        .set(self.ctx.now().timestamp());
                    report.runs.push(label);
                }
                Err(err) => {
                    // `{:#}`: the error with its causes, on one line.
                    let error = format!("{err:#}");
                    tracing::error!(
                        job = job.as_str(),
                        error,
                        "Scheduled {job} run of {at} failed; retried when its claim expires"
                    );
                    scheduler::record_failure(&self.ctx.db, job, at, &error).await?;
                    report.failed_runs.push(label);
                }
            }
        }
        report.deliveries = self.drain_outbox().await?;
        report.tracker_pushes = tracker_push::drain(&self.ctx).await?;
        Ok(report)
    }

    /// Claim a run for `jobs.claim_seconds`.
    pub async fn claim(&self, job: ScheduledJob, at: DateTime<Utc>) -> Result<Claim, ServiceError> {
        let ttl =
            Duration::seconds(i64::try_from(self.ctx.settings.jobs.claim_seconds).unwrap_or(600));
        scheduler::claim(&self.ctx.db, job, at, &self.holder, self.ctx.now(), ttl).await
    }

    async fn run_job(&self, job: ScheduledJob, at: DateTime<Utc>) -> Result<(), ServiceError> {
        self.run_job_at(job, at, SendTrigger::Schedule)
            .await
            .map(|_| ())
    }

    /// The work of the run of `job` scheduled for `at`. Idempotent: the
    /// digest is sent once per week (a sent week is left alone), a reminder
    /// once per owner and run.
    async fn run_job_at(
        &self,
        job: ScheduledJob,
        at: DateTime<Utc>,
        trigger: SendTrigger,
    ) -> Result<JobOutcome, ServiceError> {
        match job {
            ScheduledJob::Digest => {
                let tz = digests::time_zone(&self.ctx.settings);
                let week = IsoWeek::of(at.with_timezone(&tz).date_naive()).minus(1);
                if self.ctx.settings.digest.recipients.is_empty() {
                    tracing::warn!(
                        "No digest recipients configured: the digest of {week} is not sent"
                    );
                    return Ok(JobOutcome::DigestNoRecipients { week });
                }
                match digests::send(&self.ctx, week, false, trigger, None).await {
                    Ok(queued) => Ok(JobOutcome::DigestQueued {
                        week,
                        send_number: queued.send_number,
                        recipients: queued.recipients.len(),
                    }),
                    // Already sent (by the API, the CLI or a replica): done.
                    Err(ServiceError::Conflict { .. }) => {
                        Ok(JobOutcome::DigestAlreadySent { week })
                    }
                    Err(err) => Err(err),
                }
            }
            ScheduledJob::Reminders => {
                let queued = reminders::queue(&self.ctx, at).await?;
                Ok(JobOutcome::RemindersQueued { period: at, queued })
            }
            ScheduledJob::TrackerSync => {
                let reconciled = tracker_reconcile::reconcile(&self.ctx).await?;
                Ok(JobOutcome::TrackerSync { reconciled })
            }
        }
    }

    /// Run one job now, as its schedule would have at its latest scheduled
    /// time (the digest of the week before it, the reminders of that run),
    /// then deliver the outbox. Safe beside `debrief serve` and a second
    /// time: the run's work is idempotent and deliveries are leased.
    pub async fn run_now(&self, job: JobName) -> Result<JobRunReport, ServiceError> {
        let scheduled = match job {
            JobName::Digest => Some((ScheduledJob::Digest, &self.ctx.settings.digest.schedule)),
            JobName::Reminders => Some((
                ScheduledJob::Reminders,
                &self.ctx.settings.reminders.schedule,
            )),
            JobName::Outbox => None,
            JobName::TrackerSync => Some((
                ScheduledJob::TrackerSync,
                &self.ctx.settings.trackers.reconcile_schedule,
            )),
        };
        let outcome = match scheduled {
            None => JobOutcome::Outbox,
            Some((name, schedule)) => {
                let spec = CronSpec::parse(schedule).map_err(|e| {
                    ServiceError::Internal(
                        anyhow::Error::new(e).context(format!("the {name} schedule")),
                    )
                })?;
                let now = self.ctx.now();
                let tz = digests::time_zone(&self.ctx.settings);
                let at = spec.latest_at_or_before(now, tz).unwrap_or(now);
                self.run_job_at(name, at, SendTrigger::Cli).await?
            }
        };
        let deliveries = self.drain_outbox().await?;
        let tracker_pushes = tracker_push::drain(&self.ctx).await?;
        Ok(JobRunReport {
            outcome,
            deliveries,
            tracker_pushes,
        })
    }

    /// Deliver what is due in the outbox.
    pub async fn drain_outbox(&self) -> Result<DrainReport, ServiceError> {
        outbox::drain(&self.ctx, &self.mailer, &self.webhooks).await
    }

    /// Run passes every `jobs.tick_seconds` until `stop` completes.
    pub async fn run_until(self, stop: impl std::future::Future<Output = ()> + Send) {
        let tick = StdDuration::from_secs(self.ctx.settings.jobs.tick_seconds);
        let mut stop = std::pin::pin!(stop);
        loop {
            if let Err(err) = self.run_once().await {
                tracing::error!(error = format!("{err:#}"), "Scheduler pass failed");
            }
            tokio::select! {
                () = tokio::time::sleep(tick) => {}
                () = &mut stop => break,
            }
        }
    }
}
