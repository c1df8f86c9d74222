//! Due dates: a post-mortem's due date from its incident's severity and the
//! configured periods, and keeping the stored due dates in force in line.

use super::*;

/// The due date of a post-mortem by its incident's severity, counted from
/// the day the incident started (UTC), with the configured due periods.
pub fn due_by_severity(periods: &PostmortemDue, incident: &incident::Model) -> Option<NaiveDate> {
    let start = incident
        .started_at
        .unwrap_or(incident.created_at)
        .date_naive();
    due_after(start, periods.period(incident.severity))
}

/// The due date in force (`due_on`) of a post-mortem: none when it is
/// `not_required`, else the one set on it, else its incident's severity's.
pub fn due_in_force(
    postmortem: &postmortem::Model,
    incident: &incident::Model,
    periods: &PostmortemDue,
) -> Option<NaiveDate> {
    if postmortem.status == PostmortemStatus::NotRequired {
        return None;
    }
    postmortem
        .due_date
        .or_else(|| due_by_severity(periods, incident))
}

/// `start` plus a due period; business days skip Saturdays and Sundays.
pub fn due_after(start: NaiveDate, period: DuePeriod) -> Option<NaiveDate> {
    match period {
        DuePeriod::None => None,
        DuePeriod::Days(n) => start.checked_add_days(Days::new(u64::from(n))),
        DuePeriod::BusinessDays(n) => {
            let mut day = start;
            let mut left = n;
            while left > 0 {
                day = day.succ_opt()?;
                if !matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                    left -= 1;
                }
            }
            Some(day)
        }
    }
}

/// Bring the due date in force (`due_on`) of every post-mortem without a
/// set due date in line with the configured periods (they may have changed
/// since it was stored). Returns how many changed.
pub async fn sync_due_on<C: ConnectionTrait>(
    db: &C,
    periods: &PostmortemDue,
) -> Result<u64, ServiceError> {
    let followers = postmortem::Entity::find()
        .filter(postmortem::Column::DueDate.is_null())
        .filter(postmortem::Column::Status.ne(PostmortemStatus::NotRequired))
        .find_also_related(incident::Entity)
        .all(db)
        .await?;
    let mut changed = 0;
    for (postmortem, incident) in followers {
        // The foreign key keeps every post-mortem's incident.
        let Some(incident) = incident else { continue };
        let due_on = due_by_severity(periods, &incident);
        if postmortem.due_on != due_on {
            set_due_on(db, postmortem.id, due_on).await?;
            changed += 1;
        }
    }
    Ok(changed)
}

/// The `service_state` key of the due periods the stored `due_on` dates
/// were computed with.
const DUE_PERIODS_KEY: &str = "postmortem_due_periods";

/// [`sync_due_on`], when the configured periods differ from the ones the
/// stored dates were computed with (or those were never recorded); then
/// record them. A start with unchanged settings reads one row instead of
/// every post-mortem. Returns how many changed, `None` when it was skipped.
pub async fn sync_due_on_if_changed(
    db: &DatabaseConnection,
    periods: &PostmortemDue,
    now: DateTime<Utc>,
) -> Result<Option<u64>, ServiceError> {
    let current = serde_json::to_string(periods).map_err(|e| ServiceError::Internal(e.into()))?;
    let recorded = service_state::Entity::find_by_id(DUE_PERIODS_KEY)
        .one(db)
        .await?;
    if recorded.is_some_and(|r| r.value == current) {
        return Ok(None);
    }
    let changed = sync_due_on(db, periods).await?;
    service_state::Entity::insert(
        service_state::Model {
            key: DUE_PERIODS_KEY.into(),
            value: current,
            updated_at: now,
        }
        .into_active_model(),
    )
    .on_conflict(
        OnConflict::column(service_state::Column::Key)
            .update_columns([
                service_state::Column::Value,
                service_state::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(Some(changed))
}

pub(super) async fn set_due_on<C: ConnectionTrait>(
    db: &C,
    id: Uuid,
    due_on: Option<NaiveDate>,
) -> Result<(), ServiceError> {
    use sea_orm::sea_query::Expr;
    postmortem::Entity::update_many()
        .col_expr(postmortem::Column::DueOn, Expr::value(due_on))
        .filter(postmortem::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn due_dates_count_calendar_or_business_days() {
        // 2026-11-20 is a Friday.
        assert_eq!(
            due_after(day("2026-11-20"), DuePeriod::Days(3)),
            Some(day("2026-11-23"))
        );
        assert_eq!(
            due_after(day("2026-11-20"), DuePeriod::BusinessDays(5)),
            Some(day("2026-11-27"))
        );
        assert_eq!(
            due_after(day("2026-11-21"), DuePeriod::BusinessDays(1)),
            Some(day("2026-11-23")),
            "from a Saturday, one business day is Monday"
        );
        assert_eq!(
            due_after(day("2026-11-18"), DuePeriod::BusinessDays(10)),
            Some(day("2026-12-02"))
        );
        assert_eq!(due_after(day("2026-11-18"), DuePeriod::None), None);
    }
}
