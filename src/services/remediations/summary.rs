//! The remediation dashboard: counts by team and priority, the period's
//! on-time figures and the median age of open items.

use std::collections::HashMap;

use chrono::{DateTime, Days, NaiveDate, Utc};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{GroupCounts, RemediationSummary};
use crate::{
    domain::{Priority, RemediationStatus},
    services::{Context, ServiceError},
};

/// Dashboard figures. Counts come from one grouped query over the summary
/// index; the period figures and the median from two more.
pub async fn summary(
    ctx: &Context,
    from: Option<NaiveDate>,
    to: Option<NaiveDate>,
) -> Result<RemediationSummary, ServiceError> {
    let today = ctx.today();
    let to = to.unwrap_or(today);
    let from = from.unwrap_or_else(|| to.checked_sub_days(Days::new(90)).unwrap_or(to));
    if from > to {
        return Err(ServiceError::validation(
            "from,to",
            "`from` must not be after `to`",
        ));
    }
    let sql = Sql::for_backend(ctx.db.get_database_backend());
    let mut tally = Tally::default();
    tally.add_counts(ctx, sql).await?;
    tally.add_overdue(ctx, sql, today).await?;
    let (due_in_period, done_on_time) = period_figures(ctx, sql, from, to, today).await?;
    let median_open_age_days = median_open_age(ctx, tally.totals.open).await?;
    let Tally {
        totals,
        by_team,
        by_priority,
    } = tally;
    let mut by_team: Vec<_> = by_team.into_iter().collect();
    by_team.sort_by(|a, b| a.0.cmp(&b.0));
    let mut by_priority: Vec<_> = by_priority.into_iter().collect();
    by_priority.sort_by_key(|(priority, _)| priority.as_str());
    Ok(RemediationSummary {
        as_of: today,
        from,
        to,
        totals,
        by_team,
        by_priority,
        due_in_period,
        done_on_time,
        #[expect(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        completion_rate: (due_in_period > 0).then(|| done_on_time as f64 / due_in_period as f64),
        median_open_age_days,
    })
}

/// How the summary's SQL is spelled on the backend in use.
#[derive(Clone, Copy)]
struct Sql {
    backend: DbBackend,
}

impl Sql {
    fn for_backend(backend: DbBackend) -> Self {
        Self { backend }
    }

    /// The `n`th placeholder.
    fn ph(self, n: usize) -> String {
        if self.backend == DbBackend::Postgres {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    }

    /// SQLite's planner may prefer a non-covering index for these; the
    /// summary's cost rests on the covering ones, so name them there.
    fn hint(self, index: &str) -> String {
        if self.backend == DbBackend::Sqlite {
            format!(" INDEXED BY {index}")
        } else {
            String::new()
        }
    }
}

/// The counts as they add up: over all items, by team and by priority.
#[derive(Default)]
struct Tally {
    totals: GroupCounts,
    by_team: HashMap<Option<String>, GroupCounts>,
    by_priority: HashMap<Priority, GroupCounts>,
}

impl Tally {
    /// The three groups an item of `team` and `priority` counts in.
    fn groups(&mut self, team: Option<String>, priority: Priority) -> [&mut GroupCounts; 3] {
        [
            &mut self.totals,
            self.by_team.entry(team).or_default(),
            self.by_priority.entry(priority).or_default(),
        ]
    }

    /// Open and closed counts, from the count groups.
    async fn add_counts(&mut self, ctx: &Context, sql: Sql) -> Result<(), ServiceError> {
        let counts =
            "SELECT team, priority, status, count FROM remediation_counts WHERE count <> 0";
        for row in ctx
            .db
            .query_all_raw(Statement::from_string(sql.backend, counts))
            .await?
        {
            let team: String = row.try_get_by_index(0)?;
            let team = (!team.is_empty()).then_some(team);
            let priority: Priority = row.try_get_by_index(1)?;
            let status: RemediationStatus = row.try_get_by_index(2)?;
            let n = as_u64(row.try_get_by_index(3)?);
            for g in self.groups(team, priority) {
                if status.is_closed() {
                    g.closed += n;
                } else {
                    g.open += n;
                }
            }
        }
        Ok(())
    }

    /// Overdue counts, from the overdue index.
    async fn add_overdue(
        &mut self,
        ctx: &Context,
        sql: Sql,
        today: NaiveDate,
    ) -> Result<(), ServiceError> {
        let overdue = format!(
            "SELECT team, priority, COUNT(*) FROM remediation_items{hint} \
             WHERE status IN ('open', 'in_progress', 'blocked') AND due_date < {t} \
             GROUP BY team, priority",
            hint = sql.hint(migration::indexes::REMEDIATION_ITEMS_OVERDUE),
            t = sql.ph(1)
        );
        for row in ctx
            .db
            .query_all_raw(Statement::from_sql_and_values(
                sql.backend,
                overdue,
                [today.into()],
            ))
            .await?
        {
            let team: Option<String> = row.try_get_by_index(0)?;
            let priority: Priority = row.try_get_by_index(1)?;
            let n = as_u64(row.try_get_by_index(2)?);
            for g in self.groups(team, priority) {
                g.overdue += n;
            }
        }
        Ok(())
    }
}

fn as_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// Items due within [from, to], and of those the ones done on time: done
/// ones count whenever done; open ones only once their due date is behind
/// us (they can no longer be on time).
async fn period_figures(
    ctx: &Context,
    sql: Sql,
    from: NaiveDate,
    to: NaiveDate,
    today: NaiveDate,
) -> Result<(u64, u64), ServiceError> {
    let backend = sql.backend;
    let period = format!(
        "SELECT COUNT(*), SUM(CASE WHEN status = 'done' AND closed_at < {next_day_of_due} THEN 1 ELSE 0 END) \
         FROM remediation_items{hint} \
         WHERE due_date >= {from} AND due_date <= {to} AND status <> 'wont_do' \
           AND (status = 'done' OR due_date < {today})",
        next_day_of_due = if backend == DbBackend::Postgres {
            "((due_date + 1)::timestamp AT TIME ZONE 'UTC')".to_string()
        } else {
            "date(due_date, '+1 day')".to_string()
        },
        hint = sql.hint(migration::indexes::REMEDIATION_ITEMS_DUE_STATUS_CLOSED),
        from = sql.ph(1),
        to = sql.ph(2),
        today = sql.ph(3),
    );
    let row = ctx
        .db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            period,
            [from.into(), to.into(), today.into()],
        ))
        .await?;
    Ok(match row {
        Some(row) => {
            let a: Option<i64> = row.try_get_by_index(0)?;
            let b: Option<i64> = row.try_get_by_index(1)?;
            (as_u64(a.unwrap_or(0)), as_u64(b.unwrap_or(0)))
        }
        None => (0, 0),
    })
}

async fn median_open_age(ctx: &Context, open: u64) -> Result<Option<f64>, ServiceError> {
    if open == 0 {
        return Ok(None);
    }
    let db = &ctx.db;
    let backend = db.get_database_backend();
    // The predicate is the partial index's, word for word, so the offset
    // walks that index instead of sorting the open items (SQLite is told).
    let hint = if backend == DbBackend::Sqlite {
        format!(
            " INDEXED BY {}",
            migration::indexes::REMEDIATION_ITEMS_OPEN_CREATED
        )
    } else {
        String::new()
    };
    let nth = |offset: u64| {
        let sql = format!(
            "SELECT created_at FROM remediation_items{hint} \
             WHERE status IN ('open', 'in_progress', 'blocked') \
             ORDER BY created_at LIMIT 1 OFFSET {offset}"
        );
        async move {
            let row = db
                .query_one_raw(Statement::from_string(backend, sql))
                .await?;
            row.map(|r| r.try_get_by_index::<DateTime<Utc>>(0))
                .transpose()
        }
    };
    let middle = (open - 1) / 2;
    let a = nth(middle).await?;
    let b = if open.is_multiple_of(2) {
        nth(middle + 1).await?
    } else {
        a
    };
    let now = ctx.now();
    #[expect(
        clippy::cast_precision_loss,
        reason = "ages in seconds are far below 2^52"
    )]
    let age = |t: DateTime<Utc>| (now - t).num_seconds() as f64 / 86_400.0;
    Ok(match (a, b) {
        (Some(a), Some(b)) => Some(((age(a) + age(b)) / 2.0 * 100.0).round() / 100.0),
        _ => None,
    })
}
