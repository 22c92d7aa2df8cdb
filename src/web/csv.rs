//! The CSV exports the API (`Accept: text/csv`) and the dashboard's download buttons share:
//! the same columns, the same guard against spreadsheet formulas.

use crate::domain::metrics;
use crate::web::problem::{ApiError, ApiResult};

/// A text cell that a spreadsheet would run as a formula gets a leading apostrophe, whatever
/// follows: `-inf` or `-1+1` are text a user typed (a handle), not numbers we wrote.
pub fn csv_text(s: &str) -> String {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_string()
    }
}

/// The columns of the exports that hold text (ids, handles, states, currencies); every other
/// column holds numbers or amounts the exporter wrote itself, which may start with `-`.
pub const TEXT_COLUMNS: [&str; 5] = [
    "enrollment_id",
    "influencer_id",
    "handle",
    "status",
    "currency",
];

/// CSV of `rows` under `header`: each row's JSON field of that name, nulls empty; the cells of
/// [`TEXT_COLUMNS`] guarded like [`csv_text`] (by column, never by what the value looks like).
pub fn csv_of<T: serde::Serialize>(header: &[&str], rows: &[T]) -> ApiResult<String> {
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(header).map_err(ApiError::internal)?;
    for row in rows {
        let value = serde_json::to_value(row).map_err(ApiError::internal)?;
        let cells: Vec<String> = header
            .iter()
            .map(|k| match value.get(k) {
                None | Some(serde_json::Value::Null) => String::new(),
                Some(serde_json::Value::String(s)) if TEXT_COLUMNS.contains(k) => csv_text(s),
                Some(serde_json::Value::String(s)) => s.clone(),
                Some(v) => v.to_string(),
            })
            .collect();
        out.write_record(&cells).map_err(ApiError::internal)?;
    }
    let bytes = out
        .into_inner()
        .map_err(|e| ApiError::internal(e.into_error()))?;
    String::from_utf8(bytes).map_err(ApiError::internal)
}

/// The leaderboard's CSV columns: rank, ids, handle, status, then the metrics in the order of
/// [`metrics::SORTABLE`], the other lead figures, impressions, reach, currency.
pub fn leaderboard_columns() -> Vec<&'static str> {
    let mut cols = vec!["rank", "enrollment_id", "influencer_id", "handle", "status"];
    cols.extend(metrics::SORTABLE);
    cols.extend([
        "leads_slow",
        "leads_medium",
        "median_days_to_order",
        "impressions",
        "reach",
        "currency",
    ]);
    cols
}

/// The payouts' CSV columns.
pub const PAYOUT_COLUMNS: [&str; 14] = [
    "enrollment_id",
    "influencer_id",
    "handle",
    "status",
    "currency",
    "fee",
    "commission_rate",
    "commissionable_net_pending",
    "commissionable_net_approved",
    "commission_pending",
    "commission_approved",
    "approved",
    "paid",
    "balance",
];
