//! How domain values sit in their columns: an enumeration as its snake_case
//! name (`"sev1"`), a list as JSON text (`["api","db"]`), in text columns on
//! both databases. Reading one that does not parse is an error naming the
//! column, the row and the value, never a default.
//!
//! The value traits are written here rather than derived: `DeriveActiveEnum`
//! and `DeriveValueType` would read the same text, but their error names
//! only the type (`unexpected value for Severity enum: sev9`), not the row.

use std::fmt;

use sea_orm::{
    ActiveValue, ColIdx, DbErr, IntoActiveValue, QueryResult, TryFromU64, TryGetError, TryGetable,
    Value,
    sea_query::{ArrayType, ColumnType, Nullable, StringLen, ValueType, ValueTypeErr},
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

use crate::{
    domain::{
        ChannelKind, CleanupKind, CleanupStatus, EventSource, FactorSlug, IncidentStatus,
        PostmortemKind, PostmortemStatus, Priority, PublicStatus, RedactionKind, RemediationKind,
        RemediationStatus, RemoteState, Scope, SendTrigger, Severity, TimelineKind, TrackerKind,
        Visibility,
    },
    entities::{
        delivery::{DeliveryKind, DeliveryStatus},
        job_claim::ScheduledJob,
        tracker_push::TrackerPushStatus,
    },
    reports::{Format, Variant},
};

/// The error for a stored value that does not read back: which column of
/// which row held what, and why it is refused.
fn corrupt<I: ColIdx>(res: &QueryResult, idx: I, problem: impl fmt::Display) -> TryGetError {
    let (column, row) = match idx.as_str() {
        Some(column) => (format!("`{column}`"), row_id(res, column)),
        None => (
            format!("#{}", idx.as_usize().copied().unwrap_or_default()),
            None,
        ),
    };
    let row = row.map_or_else(
        || "a row without an `id`".to_string(),
        |id| format!("row {id}"),
    );
    TryGetError::DbErr(DbErr::Type(format!(
        "corrupt stored value in column {column} of {row}: {problem}"
    )))
}

/// The `id` of the row `column` was read from: the plain `id`, or `A_id`
/// when sea-orm selected two entities with `A_`/`B_` prefixes.
fn row_id(res: &QueryResult, column: &str) -> Option<String> {
    let prefix = match column.split_once('_') {
        Some((head, _)) if !head.is_empty() && head.chars().all(|c| c.is_ascii_uppercase()) => {
            &column[..=head.len()]
        }
        _ => "",
    };
    let id = format!("{prefix}id");
    res.try_get_by::<Uuid, _>(id.as_str())
        .ok()
        .map(|id| id.to_string())
}

/// Store each enumeration as its `as_str()` name (or the name another
/// method gives, `@text Type, method`), read it back with its `FromStr`
/// (whose error lists the names it accepts).
macro_rules! stored_enum {
    ($($name:ty),+ $(,)?) => {$(
        stored_enum!(@text $name, as_str);
    )+};
    (@text $name:ty, $to_text:ident) => {
        impl From<$name> for Value {
            fn from(value: $name) -> Self {
                value.$to_text().into()
            }
        }

        impl TryGetable for $name {
            fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
                let text = String::try_get_by(res, idx)?;
                text.parse().map_err(|err: String| {
                    corrupt(res, idx, format_args!("{} {err}", stringify!($name)))
                })
            }
        }

        impl ValueType for $name {
            fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
                <String as ValueType>::try_from(value)?
                    .parse()
                    .map_err(|_| ValueTypeErr)
            }

            fn type_name() -> String {
                stringify!($name).to_owned()
            }

            fn array_type() -> ArrayType {
                ArrayType::String
            }

            fn column_type() -> ColumnType {
                ColumnType::String(StringLen::None)
            }
        }

        impl Nullable for $name {
            fn null() -> Value {
                <String as Nullable>::null()
            }
        }

        impl IntoActiveValue<$name> for $name {
            fn into_active_value(self) -> ActiveValue<$name> {
                ActiveValue::Set(self)
            }
        }

        // Needed by a primary key (`incident_external_ids.source`); a
        // number is never one of the names, as for sea-orm's own strings.
        impl TryFromU64 for $name {
            fn try_from_u64(_: u64) -> Result<Self, DbErr> {
                Err(DbErr::ConvertFromU64(stringify!($name)))
            }
        }
    };
}

stored_enum!(
    ChannelKind,
    CleanupKind,
    CleanupStatus,
    EventSource,
    IncidentStatus,
    PostmortemKind,
    PostmortemStatus,
    Priority,
    PublicStatus,
    RemediationKind,
    RemediationStatus,
    Scope,
    Severity,
    TimelineKind,
    Visibility,
    DeliveryKind,
    DeliveryStatus,
    RedactionKind,
    SendTrigger,
    ScheduledJob,
    Variant,
    TrackerKind,
    RemoteState,
    TrackerPushStatus,
    // Not an enumeration, but stored and read back the same way: its
    // `as_str()`, checked by its `FromStr`.
    FactorSlug,
);
stored_enum!(@text Format, extension);

/// A list stored as JSON text (`["api","db"]`): labels, components, a
/// sitrep's issues and roles, a reminder's items.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JsonList<T>(pub Vec<T>);

/// The common case: a list of strings.
pub type StringList = JsonList<String>;

impl<T> From<Vec<T>> for JsonList<T> {
    fn from(items: Vec<T>) -> Self {
        Self(items)
    }
}

impl<T> From<JsonList<T>> for Vec<T> {
    fn from(list: JsonList<T>) -> Self {
        list.0
    }
}

impl<T> std::ops::Deref for JsonList<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T: Serialize> JsonList<T> {
    /// The JSON text stored for this list.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a list of plain values always serialises")
    }
}

impl<T: Serialize> From<JsonList<T>> for Value {
    fn from(list: JsonList<T>) -> Self {
        list.to_json().into()
    }
}

impl<T: DeserializeOwned> TryGetable for JsonList<T> {
    fn try_get_by<I: ColIdx>(res: &QueryResult, idx: I) -> Result<Self, TryGetError> {
        let text = String::try_get_by(res, idx)?;
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|err| corrupt(res, idx, format_args!("not a JSON list ({err})")))
    }
}

impl<T: DeserializeOwned> ValueType for JsonList<T> {
    fn try_from(value: Value) -> Result<Self, ValueTypeErr> {
        let text = <String as ValueType>::try_from(value)?;
        serde_json::from_str(&text)
            .map(Self)
            .map_err(|_| ValueTypeErr)
    }

    fn type_name() -> String {
        "JsonList".to_owned()
    }

    fn array_type() -> ArrayType {
        ArrayType::String
    }

    fn column_type() -> ColumnType {
        ColumnType::Text
    }
}

impl<T> Nullable for JsonList<T> {
    fn null() -> Value {
        <String as Nullable>::null()
    }
}

impl<T: Serialize> IntoActiveValue<JsonList<T>> for JsonList<T> {
    fn into_active_value(self) -> ActiveValue<JsonList<T>> {
        ActiveValue::Set(self)
    }
}
