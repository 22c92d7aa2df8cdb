//! Discount codes and their redemptions.

use diesel::prelude::*;

use crate::db::schema::discount_codes;
use crate::db::sql::{Bind, Fixed};
use crate::db::types::row;
use crate::db::{with_backend, AnyConnection};
use crate::domain::codes::{CodeStatus, DiscountType};
use crate::domain::ids::{BrandId, CampaignId, CodeId, EnrollmentId, InfluencerId};

row! {
    #[derive(Debug, Clone, Insertable)]
    pub struct CodeRow in discount_codes {
        pub id: CodeId,
        pub brand_id: BrandId,
        pub campaign_id: CampaignId,
        pub enrollment_id: EnrollmentId,
        pub influencer_id: InfluencerId,
        pub code: String,
        pub code_norm: String,
        pub discount_type: DiscountType,
        pub discount_value_micros: i64,
        pub max_redemptions: Option<i64>,
        pub redemptions: i64,
        pub expires_at: Option<i64>,
        pub status: CodeStatus,
        pub created_at: i64,
    }
}

#[derive(Debug, Clone, Default, AsChangeset)]
#[diesel(table_name = discount_codes)]
pub struct CodeUpdate {
    pub status: Option<CodeStatus>,
    pub max_redemptions: Option<Option<i64>>,
    pub expires_at: Option<Option<i64>>,
    pub discount_type: Option<DiscountType>,
    pub discount_value_micros: Option<i64>,
}

impl CodeUpdate {
    fn is_empty(&self) -> bool {
        let Self {
            status,
            max_redemptions,
            expires_at,
            discount_type,
            discount_value_micros,
        } = self;
        status.is_none()
            && max_redemptions.is_none()
            && expires_at.is_none()
            && discount_type.is_none()
            && discount_value_micros.is_none()
    }
}

/// Inserts a discount code. A generated code that collides is drawn again (`regenerate`); a
/// chosen (vanity) code that collides is reported as `Ok(false)`.
pub fn insert(
    conn: &mut AnyConnection,
    row: &mut CodeRow,
    regenerate: Option<&dyn Fn() -> String>,
) -> QueryResult<bool> {
    for _ in 0..8 {
        let attempt = conn.transaction(|conn| {
            diesel::insert_into(discount_codes::table)
                .values(&*row)
                .execute(conn)
        });
        match attempt {
            Ok(_) => return Ok(true),
            Err(e) if crate::db::is_duplicate(Some(&e)) => match regenerate {
                Some(generate) => {
                    row.code = generate();
                    row.code_norm = row.code.clone();
                }
                None => return Ok(false),
            },
            Err(e) => return Err(e),
        }
    }
    Err(diesel::result::Error::RollbackTransaction)
}

/// A code of the brand by id.
pub fn find(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    id: &CodeId,
) -> QueryResult<Option<CodeRow>> {
    discount_codes::table
        .filter(discount_codes::id.eq(id))
        .filter(discount_codes::brand_id.eq(brand_id))
        .select(CodeRow::as_select())
        .first(conn)
        .optional()
}

/// A code of the brand by its (normalised) text.
pub fn find_by_text(
    conn: &mut AnyConnection,
    brand_id: &BrandId,
    code: &str,
) -> QueryResult<Option<CodeRow>> {
    with_backend!(conn, |c| discount_codes::table
        .filter(discount_codes::brand_id.eq(brand_id))
        .filter(discount_codes::code_norm.eq(code))
        .select(CodeRow::as_select())
        .first(c)
        .optional())
}

/// The codes of these enrollments, in id order.
pub fn of_enrollments(
    conn: &mut AnyConnection,
    enrollment_ids: &[EnrollmentId],
) -> QueryResult<Vec<CodeRow>> {
    discount_codes::table
        .filter(discount_codes::enrollment_id.eq_any(enrollment_ids))
        .order(discount_codes::id.asc())
        .select(CodeRow::as_select())
        .load(conn)
}

pub fn update(conn: &mut AnyConnection, id: &CodeId, changes: &CodeUpdate) -> QueryResult<()> {
    // An UPDATE without a column is an error in diesel; a PATCH with nothing to change is not.
    if changes.is_empty() {
        return Ok(());
    }
    diesel::update(discount_codes::table.find(id))
        .set(changes)
        .execute(conn)
        .map(|_| ())
}

/// Moves an enrollment's codes to another enrollment (a successor campaign's).
pub fn move_to(
    conn: &mut AnyConnection,
    from: &EnrollmentId,
    to: &EnrollmentId,
    campaign: &CampaignId,
) -> QueryResult<()> {
    diesel::update(discount_codes::table.filter(discount_codes::enrollment_id.eq(from)))
        .set((
            discount_codes::enrollment_id.eq(to),
            discount_codes::campaign_id.eq(campaign),
        ))
        .execute(conn)
        .map(|_| ())
}

const ADD_REDEMPTION: &str = "UPDATE discount_codes SET redemptions = redemptions + 1 \
     WHERE id = ? AND (max_redemptions IS NULL OR redemptions < max_redemptions)";

pub const STATEMENTS: &[&str] = &[ADD_REDEMPTION];

/// Counts one use of a code (an order that reported it), unless its limit is reached
/// meanwhile: `Ok(false)` then. One statement, so concurrent orders cannot overshoot.
pub fn add_redemption(conn: &mut AnyConnection, code_id: &CodeId) -> QueryResult<bool> {
    let statement = Fixed::new(ADD_REDEMPTION, vec![Bind::Text(code_id.as_str())]);
    with_backend!(conn, |c| statement.execute(c)).map(|n| n == 1)
}

/// The ids of a campaign's codes.
pub fn ids_of_campaign(
    conn: &mut AnyConnection,
    campaign_id: &CampaignId,
) -> QueryResult<Vec<CodeId>> {
    discount_codes::table
        .filter(discount_codes::campaign_id.eq(campaign_id))
        .order(discount_codes::id.asc())
        .select(discount_codes::id)
        .load(conn)
}

/// The ids of a brand's codes.
pub fn ids_of_brand(conn: &mut AnyConnection, brand_id: &BrandId) -> QueryResult<Vec<CodeId>> {
    discount_codes::table
        .filter(discount_codes::brand_id.eq(brand_id))
        .order(discount_codes::id.asc())
        .select(discount_codes::id)
        .load(conn)
}

/// Deletes a code.
pub fn delete(conn: &mut AnyConnection, id: &CodeId) -> QueryResult<()> {
    diesel::delete(discount_codes::table.find(id))
        .execute(conn)
        .map(|_| ())
}
