//! Column types that bind and decode on both databases, so that one statement and one row
//! mapping serve both: times (unix milliseconds in SQLite's INTEGER columns, `timestamptz`
//! on PostgreSQL) and the roles of a user (one comma-separated text on both).

use chrono::{DateTime, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Postgres, Sqlite, Type};

/// A point in time as a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time(pub(crate) DateTime<Utc>);

impl Time {
    /// Now, to the millisecond: the precision SQLite keeps, so both stores answer alike.
    pub(crate) fn now() -> Self {
        Self::millis(Utc::now())
    }

    /// `at` cut to the millisecond.
    pub(crate) fn millis(at: DateTime<Utc>) -> Self {
        Time(millis_to_time(at.timestamp_millis()))
    }
}

pub(crate) fn millis_to_time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

impl From<DateTime<Utc>> for Time {
    fn from(at: DateTime<Utc>) -> Self {
        Time(at)
    }
}

impl From<Time> for DateTime<Utc> {
    fn from(time: Time) -> Self {
        time.0
    }
}

impl Type<Sqlite> for Time {
    fn type_info() -> <Sqlite as Database>::TypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &<Sqlite as Database>::TypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for Time {
    fn encode_by_ref(&self, buf: &mut <Sqlite as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Sqlite>>::encode(self.0.timestamp_millis(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for Time {
    fn decode(value: <Sqlite as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Time(millis_to_time(<i64 as Decode<Sqlite>>::decode(value)?)))
    }
}

impl Type<Postgres> for Time {
    fn type_info() -> <Postgres as Database>::TypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }
    fn compatible(ty: &<Postgres as Database>::TypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl Encode<'_, Postgres> for Time {
    fn encode_by_ref(&self, buf: &mut <Postgres as Database>::ArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <DateTime<Utc> as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Time {
    fn decode(value: <Postgres as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Time(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

/// A time column that may be NULL, for `#[sqlx(try_from = "MaybeTime")]` on an
/// `Option<DateTime<Utc>>` field.
pub(crate) struct MaybeTime(Option<Time>);

impl<DB: Database> Type<DB> for MaybeTime
where
    Time: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <Time as Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <Time as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for MaybeTime
where
    Option<Time>: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(MaybeTime(<Option<Time> as Decode<DB>>::decode(value)?))
    }
}

impl From<MaybeTime> for Option<DateTime<Utc>> {
    fn from(time: MaybeTime) -> Self {
        time.0.map(|t| t.0)
    }
}

/// A user's roles, selected with [`roles_column!`] as one comma-separated text (a role
/// never holds a comma), sorted here.
pub(crate) struct Roles(Vec<String>);

/// The roles of the user `u`, for a select list. `string_agg` is spelled alike by SQLite
/// (where it is `group_concat`) and PostgreSQL; the order is left to [`Roles`], which
/// costs less than an ordered aggregate on either database.
macro_rules! roles_column {
    () => {
        "(SELECT string_agg(r.role, ',') FROM user_roles r WHERE r.user_id = u.id) AS roles"
    };
}
pub(crate) use roles_column;

impl<DB: Database> Type<DB> for Roles
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }
    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database> Decode<'r, DB> for Roles
where
    Option<String>: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let joined = <Option<String> as Decode<DB>>::decode(value)?;
        let mut roles: Vec<String> = joined.map(|r| r.split(',').map(str::to_string).collect()).unwrap_or_default();
        roles.sort();
        Ok(Roles(roles))
    }
}

impl From<Roles> for Vec<String> {
    fn from(roles: Roles) -> Self {
        roles.0
    }
}
