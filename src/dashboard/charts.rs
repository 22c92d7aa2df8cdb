//! Charts as inline SVG, drawn with plotters.

use maud::{html, Markup, PreEscaped};
use plotters::prelude::*;

const INK: RGBColor = RGBColor(0x1f, 0x29, 0x37);
const BLUE: RGBColor = RGBColor(0x1d, 0x4e, 0xd8);
const GREEN: RGBColor = RGBColor(0x04, 0x78, 0x57);

fn svg(draw: impl FnOnce(&mut String) -> Result<(), String>, label: &str) -> Markup {
    let mut out = String::new();
    match draw(&mut out) {
        Ok(()) => html! { figure.chart role="img" aria-label=(label) { (PreEscaped(out)) } },
        Err(e) => {
            tracing::warn!(error = %e, "chart not drawn");
            html! { p.muted { "Chart unavailable." } }
        }
    }
}

/// Clicks (bars) and net revenue (line) per day; `days` are (UTC day, clicks, net micros).
pub fn daily(days: &[(i64, i64, i64)], currency: &str) -> Markup {
    let label = format!(
        "Clicks and net revenue per day over {} days: {} clicks, {:.2} {currency} net revenue",
        days.len(),
        days.iter().map(|d| d.1).sum::<i64>(),
        days.iter().map(|d| d.2).sum::<i64>() as f64 / 1e6
    );
    let table = html! {
        details { summary { "The figures" }
            table { thead { tr { th { "Day" } th { "Clicks" } th { "Net revenue" } } }
                tbody { @for (d, c, n) in days { tr {
                    td { (chrono::DateTime::from_timestamp(d * 86_400, 0).map(|t| t.format("%Y-%m-%d").to_string()).unwrap_or_default()) }
                    td { (c) } td { (format!("{:.2}", *n as f64 / 1e6)) }
                } } } }
        }
    };
    let chart = svg(
        |out| {
            let root = SVGBackend::with_string(out, (720, 260)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            let n = days.len().max(1) as i32;
            let max_clicks = days.iter().map(|d| d.1).max().unwrap_or(0).max(1) as f64;
            let max_net = days.iter().map(|d| d.2).max().unwrap_or(0).max(1) as f64 / 1e6;
            let mut chart = ChartBuilder::on(&root)
                .margin(10)
                .x_label_area_size(24)
                .y_label_area_size(48)
                .right_y_label_area_size(64)
                .build_cartesian_2d(0..n, 0f64..max_clicks * 1.1)
                .map_err(|e| e.to_string())?
                .set_secondary_coord(0..n, 0f64..max_net * 1.1);
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(6)
                .x_label_formatter(&|i| {
                    days.get(*i as usize)
                        .and_then(|d| chrono::DateTime::from_timestamp(d.0 * 86_400, 0))
                        .map(|t| t.format("%d %b").to_string())
                        .unwrap_or_default()
                })
                .y_desc("clicks")
                // Counts have whole ticks.
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(("sans-serif", 15).into_font().color(&INK))
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .configure_secondary_axes()
                .y_desc(format!("net revenue ({currency})"))
                .label_style(("sans-serif", 15).into_font().color(&INK))
                .draw()
                .map_err(|e| e.to_string())?;
            chart
                .draw_series(days.iter().enumerate().map(|(i, d)| {
                    Rectangle::new(
                        [(i as i32, 0.0), (i as i32 + 1, d.1 as f64)],
                        BLUE.mix(0.35).filled(),
                    )
                }))
                .map_err(|e| e.to_string())?
                .label("clicks")
                .legend(|(x, y)| {
                    Rectangle::new([(x, y - 5), (x + 10, y + 5)], BLUE.mix(0.35).filled())
                });
            chart
                .draw_secondary_series(LineSeries::new(
                    days.iter()
                        .enumerate()
                        .map(|(i, d)| (i as i32, d.2 as f64 / 1e6)),
                    GREEN.stroke_width(3),
                ))
                .map_err(|e| e.to_string())?
                .label("net revenue")
                .legend(|(x, y)| {
                    PathElement::new(vec![(x, y), (x + 12, y)], GREEN.stroke_width(3))
                });
            root.present().map_err(|e| e.to_string())?;
            Ok(())
        },
        &label,
    );
    // The legend outside the plot, as text.
    let legend = html! {
        p.legend {
            span.key.clicks aria-hidden="true" {} " clicks (bars, left axis) "
            span.key.net aria-hidden="true" {} " net revenue in " (currency) " (line, right axis)"
        }
    };
    html! { (chart) (legend) (table) }
}

/// Funnel stages as horizontal bars with counts and step conversion. Stages the campaign never
/// used (none recorded, between the clicks and the orders) are left out; a stage larger than
/// the one before it (events are not nested: more carts than leads) is given as a share of
/// the clicks instead of over 100% "of previous".
pub fn funnel(all: &[(String, f64)]) -> Markup {
    let last = all.len().saturating_sub(1);
    let stages: Vec<(String, f64)> = all
        .iter()
        .enumerate()
        .filter(|(i, (_, n))| *i == 0 || *i == last || *n > 0.0)
        .map(|(_, s)| s.clone())
        .collect();
    let stages = &stages[..];
    let clicks = stages.first().map_or(0.0, |s| s.1);
    let label = stages
        .iter()
        .map(|(s, n)| format!("{s}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let max = stages.iter().map(|s| s.1).fold(1.0_f64, f64::max);
    let chart = svg(
        |out| {
            let height = 40 * stages.len().max(1) as u32 + 10;
            let root = SVGBackend::with_string(out, (720, height)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| e.to_string())?;
            for (i, (name, n)) in stages.iter().enumerate() {
                let y = 8 + 40 * i as i32;
                let w = ((n / max) * 460.0).round() as i32;
                root.draw(&Rectangle::new(
                    [(200, y), (200 + w.max(2), y + 26)],
                    BLUE.mix(0.6).filled(),
                ))
                .map_err(|e| e.to_string())?;
                root.draw(&Text::new(
                    name.clone(),
                    (4, y + 6),
                    ("sans-serif", 15).into_font().color(&INK),
                ))
                .map_err(|e| e.to_string())?;
                let step = if i == 0 {
                    String::new()
                } else {
                    let prev = stages[i - 1].1;
                    if prev > 0.0 && *n <= prev {
                        format!("  ({:.1}% of previous)", n / prev * 100.0)
                    } else if clicks > 0.0 {
                        format!("  ({:.1}% of clicks)", n / clicks * 100.0)
                    } else {
                        String::new()
                    }
                };
                root.draw(&Text::new(
                    format!(
                        "{}{step}",
                        if n.fract() == 0.0 {
                            format!("{n:.0}")
                        } else {
                            format!("{n:.2}")
                        }
                    ),
                    (208 + w.max(2), y + 6),
                    ("sans-serif", 15).into_font().color(&INK),
                ))
                .map_err(|e| e.to_string())?;
            }
            root.present().map_err(|e| e.to_string())?;
            Ok(())
        },
        &label,
    );
    html! { (chart) }
}
