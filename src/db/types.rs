//! How typed values live in text columns (ids, names of states, currency codes), and stored
//! rows that check them as they are read.
//!
//! A stored value that does not parse is never read as a default: it is an error naming the
//! table, the row and the column ([`row!`]).

use diesel::backend::Backend;
use diesel::deserialize::FromSql;
use diesel::serialize::{Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::attribution::{CreditKey, Via};
use crate::domain::campaign::{
    CampaignStatus, CostAllocation, CostKind, EnrollmentStatus, GoalMetric, Model,
};
use crate::domain::codes::{CodeStatus, DiscountType, LinkStatus};
use crate::domain::hooks::{DeliveryStatus, EventType};
use crate::domain::ids::{
    BrandId, CampaignId, ClickId, CodeId, CostId, DeliveryId, EnrollmentId, EventId, ExclusionId,
    HookEventId, InfluencerId, JobId, KeyId, LinkId, OrderId, PayoutId, PostId, PruneLogId,
    RefundId, RejectionId, WebhookId,
};
use crate::domain::integrations::Platform;
use crate::domain::money::{Currency, Rate};
use crate::domain::orders::{EventKind, OrderSource};
use crate::domain::outbox::{JobKind, JobStatus};
use crate::domain::pruning::PruneAction;
use crate::domain::scope::Scope;
use crate::domain::shop_sync::SyncStatus;
use crate::domain::traffic::ClickKind;

/// A value kept in a text column.
pub trait TextValue: Sized {
    fn text(&self) -> &str;
    /// The value of a stored text; the error says why it is none.
    fn from_text(text: String) -> Result<Self, String>;
}

/// Binds and reads a [`TextValue`] as text on every backend, and lets diesel's insert and
/// update builders take it as a value of a text column.
macro_rules! text_columns {
    ($($t:ty),+ $(,)?) => {$(
        const _: () = {
            #[derive(diesel::expression::AsExpression)]
            #[diesel(foreign_derive)]
            #[diesel(sql_type = Text)]
            #[allow(dead_code)]
            struct Column($t);
        };

        impl<DB: Backend> ToSql<Text, DB> for $t
        where
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> diesel::serialize::Result {
                <str as ToSql<Text, DB>>::to_sql(self.text(), out)
            }
        }

        impl<DB: Backend> FromSql<Text, DB> for $t
        where
            String: FromSql<Text, DB>,
        {
            fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
                let text = <String as FromSql<Text, DB>>::from_sql(bytes)?;
                Ok(<$t as TextValue>::from_text(text)?)
            }
        }

        impl<DB: Backend> diesel::deserialize::Queryable<Text, DB> for $t
        where
            $t: FromSql<Text, DB>,
        {
            type Row = Self;
            fn build(row: Self) -> diesel::deserialize::Result<Self> {
                Ok(row)
            }
        }
    )+};
}

macro_rules! id_values {
    ($($t:ty),+ $(,)?) => {$(
        impl TextValue for $t {
            fn text(&self) -> &str {
                self.as_str()
            }
            fn from_text(text: String) -> Result<Self, String> {
                Ok(<$t>::stored(text))
            }
        }
    )+
    text_columns!($($t),+);
    };
}

id_values!(
    BrandId,
    KeyId,
    InfluencerId,
    CampaignId,
    EnrollmentId,
    LinkId,
    CodeId,
    ClickId,
    OrderId,
    RefundId,
    EventId,
    RejectionId,
    PostId,
    PayoutId,
    PruneLogId,
    JobId,
    CostId,
    WebhookId,
    DeliveryId,
    HookEventId,
    ExclusionId,
);

macro_rules! name_values {
    ($($t:ty => $what:literal),+ $(,)?) => {$(
        impl TextValue for $t {
            fn text(&self) -> &str {
                self.as_str()
            }
            fn from_text(text: String) -> Result<Self, String> {
                <$t>::parse(&text).ok_or_else(|| format!("{text:?} is not a valid {}", $what))
            }
        }
    )+
    text_columns!($($t),+);
    };
}

name_values!(
    CampaignStatus => "campaign status",
    EnrollmentStatus => "enrollment status",
    Model => "attribution model",
    GoalMetric => "goal metric",
    CostAllocation => "cost allocation",
    CostKind => "cost kind",
    Scope => "key scope",
    LinkStatus => "link status",
    CodeStatus => "code status",
    DiscountType => "discount type",
    ClickKind => "click kind",
    Via => "touch kind",
    EventKind => "event type",
    OrderSource => "order source",
    PruneAction => "prune log action",
    CreditKey => "credit key",
    Platform => "platform",
    JobStatus => "job status",
    JobKind => "job kind",
    SyncStatus => "sync status",
    EventType => "webhook event type",
    DeliveryStatus => "webhook delivery status",
);

impl TextValue for Rate {
    fn text(&self) -> &str {
        self.as_str()
    }
    fn from_text(text: String) -> Result<Self, String> {
        let problem = format!("{text:?} is not a positive decimal");
        Rate::stored(text).ok_or(problem)
    }
}

impl TextValue for Currency {
    fn text(&self) -> &str {
        self.code()
    }
    fn from_text(text: String) -> Result<Self, String> {
        Currency::parse("currency", &text).map_err(|_| format!("{text:?} is not a currency"))
    }
}

text_columns!(Currency, Rate);

/// A column of a [`row!`]: read as its stored (raw) type, then checked.
pub trait Stored: Sized {
    type Raw;
    fn read(raw: Self::Raw) -> Result<Self, String>;
}

impl<T: TextValue> Stored for T {
    type Raw = String;
    fn read(raw: String) -> Result<Self, String> {
        T::from_text(raw)
    }
}

macro_rules! plain_columns {
    ($($t:ty),+) => {$(
        impl Stored for $t {
            type Raw = $t;
            fn read(raw: $t) -> Result<Self, String> {
                Ok(raw)
            }
        }
    )+};
}

plain_columns!(String, i64, i32, bool);

impl<T: Stored> Stored for Option<T> {
    type Raw = Option<T::Raw>;
    fn read(raw: Option<T::Raw>) -> Result<Self, String> {
        raw.map(T::read).transpose()
    }
}

/// A stored value that does not parse, with where it is.
#[derive(Debug, thiserror::Error)]
#[error("{table} row {row}: column {column}: {problem}")]
pub struct CorruptRow {
    pub table: &'static str,
    pub row: String,
    pub column: &'static str,
    pub problem: String,
}

/// Declares a stored row: a struct with diesel's `Selectable` for `table`, read column by
/// column as stored and then checked ([`Stored`]), so that a value that does not parse is a
/// [`CorruptRow`] naming the row (by its first column) instead of a default.
macro_rules! row {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident in $table:ident {
            $(#[$first_meta:meta])* pub $first:ident: $first_ty:ty,
            $( $(#[$field_meta:meta])* pub $field:ident: $ty:ty, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(diesel::Selectable)]
        #[diesel(table_name = $table)]
        $vis struct $name {
            $(#[$first_meta])* pub $first: $first_ty,
            $( $(#[$field_meta])* pub $field: $ty, )*
        }

        impl<__DB, __ST> diesel::deserialize::Queryable<__ST, __DB> for $name
        where
            __DB: diesel::backend::Backend,
            (
                <$first_ty as $crate::db::types::Stored>::Raw,
                $( <$ty as $crate::db::types::Stored>::Raw, )*
            ): diesel::deserialize::FromStaticSqlRow<__ST, __DB>,
        {
            type Row = (
                <$first_ty as $crate::db::types::Stored>::Raw,
                $( <$ty as $crate::db::types::Stored>::Raw, )*
            );

            fn build(($first, $($field,)*): Self::Row) -> diesel::deserialize::Result<Self> {
                use $crate::db::types::{CorruptRow, Stored};
                let corrupt = |row: String, column: &'static str, problem: String| CorruptRow {
                    table: stringify!($table),
                    row,
                    column,
                    problem,
                };
                let $first = <$first_ty as Stored>::read($first)
                    .map_err(|e| corrupt("?".into(), stringify!($first), e))?;
                $(
                    let $field = <$ty as Stored>::read($field)
                        .map_err(|e| corrupt($first.to_string(), stringify!($field), e))?;
                )*
                Ok(Self { $first, $($field,)* })
            }
        }
    };
}

pub(crate) use row;
