//! `/stats`: the digest's figures for any period.

use chrono::{DateTime, NaiveDate, Utc};
use poem::web::Data;
use poem_openapi::{ApiResponse, OpenApi, param::Query, payload::Json};

use super::{ApiTags, TokenAuth};
use crate::{
    domain::{Scope, start_of_day},
    error::{ApiResult, ServiceError},
    services::{
        Context, digests,
        stats::{self, PeriodStats},
    },
};

/// The longest period one request may ask for, in days.
const MAX_DAYS: i64 = 400;

#[derive(ApiResponse)]
pub enum StatsFound {
    /// The figures for the period.
    #[oai(status = 200)]
    Ok(Json<PeriodStats>),
}

pub struct StatsApi;

/// A bound: an RFC 3339 instant, or a date (midnight in the digest's zone;
/// for `to`, the end of that day).
fn bound(
    field: &str,
    text: &str,
    end_of_day: bool,
    tz: chrono_tz::Tz,
) -> Result<DateTime<Utc>, ServiceError> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    // The spec's pattern has already checked the form: what fails here is a
    // day or time that does not exist (2026-02-30, 25:00), a 422.
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ServiceError::validation(
            field,
            format!("`{field}` {text:?} is neither a date (2026-11-16) nor an RFC 3339 time"),
        )
    })?;
    let date = if end_of_day {
        date.succ_opt()
            .ok_or_else(|| ServiceError::validation(field, "date out of range"))?
    } else {
        date
    };
    Ok(start_of_day(date, tz))
}

#[OpenApi(tag = "ApiTags::Stats")]
impl StatsApi {
    /// Get the figures for a period
    ///
    /// The Ops Review digest's figures (see the README, "Digest figures")
    /// for `[from, to)`: incidents opened and resolved by severity, time to
    /// detect, acknowledge, mitigate and resolve (median and worst), the
    /// period's incidents, remediation items opened, closed and overdue
    /// with the completion rate, pending cleanup items and incidents whose
    /// customer updates ran late. At most 400 days.
    #[oai(path = "/stats", method = "get", operation_id = "get_stats")]
    async fn get_stats(
        &self,
        auth: TokenAuth,
        Data(ctx): Data<&Context>,
        /// Start: `2026-11-16` (midnight in `digest.time_zone`) or an RFC 3339 time.
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        from: Query<String>,
        /// End: `2026-11-22` (that whole day included) or an RFC 3339 time (excluded).
        #[oai(validator(
            max_length = 64,
            pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2}([Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2}))?$"
        ))]
        to: Query<String>,
    ) -> ApiResult<StatsFound> {
        auth.require(Scope::Read)?;
        let tz = digests::time_zone(&ctx.settings);
        let from = bound("from", &from.0, false, tz)?;
        let to = bound("to", &to.0, true, tz)?;
        if to <= from {
            return Err(ServiceError::validation("to", "`to` must be after `from`").into());
        }
        if (to - from).num_days() > MAX_DAYS {
            return Err(ServiceError::validation(
                "to",
                format!("the period may span at most {MAX_DAYS} days"),
            )
            .into());
        }
        let figures = stats::period_stats(
            &ctx.db,
            from,
            to,
            tz,
            &ctx.settings.customer_update_minutes,
            stats::Lists::Full,
        )
        .await?;
        Ok(StatsFound::Ok(Json(figures)))
    }
}
