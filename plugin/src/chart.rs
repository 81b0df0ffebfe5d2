//! A user's last 90 days of weight (and body fat, on its own axis) as an
//! inline SVG: drawn here from the plugin's history, no scripts, no external
//! resources. Colours come from the page's style sheet (classes `w`, `f`,
//! `axis`), so the chart follows the page's light or dark scheme; the sheet
//! fills only the points, since a fill from CSS would override a line's
//! `fill="none"` and draw it as a filled shape.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::dates::Date;
use crate::history::HISTORY_DAYS;
use crate::html::escape;
use crate::provider::google::convert::{Units, round2};

const WIDTH: f64 = 560.0;
const HEIGHT: f64 = 190.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 52.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = 26.0;

/// One series scaled into the plot: points and the value range.
struct Scaled {
    points: Vec<(f64, f64, f64)>,
    low: f64,
    high: f64,
}

fn scale(values: &BTreeMap<Date, f64>, first: Date) -> Option<Scaled> {
    let (low, high) = values
        .values()
        .fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(*v), hi.max(*v)));
    if values.is_empty() {
        return None;
    }
    // A flat line sits in the middle; otherwise leave a little room.
    let pad = ((high - low) * 0.1).max(0.5);
    let (low, high) = (low - pad, high + pad);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let points = values
        .iter()
        .map(|(date, v)| {
            let day = f64::from(date.to_days() - first.to_days());
            let x = LEFT + plot_w * day / f64::from(HISTORY_DAYS - 1);
            let y = TOP + plot_h * (high - v) / (high - low);
            (x, y, *v)
        })
        .collect();
    Some(Scaled { points, low, high })
}

fn series_svg(out: &mut String, scaled: &Scaled, class: &str) {
    let line: Vec<String> = scaled
        .points
        .iter()
        .map(|(x, y, _)| format!("{x:.1},{y:.1}"))
        .collect();
    let _ = write!(
        out,
        "<polyline class=\"{class}\" fill=\"none\" stroke-width=\"2\" points=\"{}\"/>",
        line.join(" ")
    );
    for (x, y, _) in &scaled.points {
        let _ = write!(
            out,
            "<circle class=\"{class}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.5\"/>"
        );
    }
}

/// The chart for `user`, or `None` without weight or body fat in the last
/// 90 days up to `today`. `weight` is in kg, `fat` in %.
pub fn chart(
    user: &str,
    weight: &BTreeMap<Date, f64>,
    fat: &BTreeMap<Date, f64>,
    units: Units,
    today: Date,
) -> Option<String> {
    let first = today.add_days(1 - HISTORY_DAYS);
    let in_window = |series: &BTreeMap<Date, f64>| -> BTreeMap<Date, f64> {
        series.range(first..=today).map(|(d, v)| (*d, *v)).collect()
    };
    let unit = units.weight.label();
    let shown: BTreeMap<Date, f64> = in_window(weight)
        .into_iter()
        .map(|(d, kg)| (d, units.weight(kg * 1000.0)))
        .collect();
    let fat = in_window(fat);
    let weight_scaled = scale(&shown, first);
    let fat_scaled = scale(&fat, first);
    if weight_scaled.is_none() && fat_scaled.is_none() {
        return None;
    }
    let mut description = Vec::new();
    for (name, series, suffix) in [("weight", &shown, unit), ("body fat", &fat, "%")] {
        if let (Some((d0, v0)), Some((d1, v1))) = (series.iter().next(), series.iter().last()) {
            description.push(format!(
                "{name} from {} {suffix} on {d0} to {} {suffix} on {d1} ({} days)",
                round2(*v0),
                round2(*v1),
                series.len()
            ));
        }
    }
    let title = format!("{user}: weight and body fat, {first} to {today}");
    let mut out = String::new();
    let _ = write!(
        out,
        "<svg class=\"chart\" role=\"img\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" width=\"{WIDTH}\" \
         height=\"{HEIGHT}\" xmlns=\"http://www.w3.org/2000/svg\"><title>{}</title>\
         <desc>{}</desc>",
        escape(&title),
        escape(&description.join("; "))
    );
    let (bottom, right) = (HEIGHT - BOTTOM, WIDTH - RIGHT);
    let _ = write!(
        out,
        "<path class=\"axis\" fill=\"none\" d=\"M{LEFT},{TOP} V{bottom} H{right} V{TOP}\"/>\
         <text x=\"{LEFT}\" y=\"{}\" text-anchor=\"start\">{first}</text>\
         <text x=\"{right}\" y=\"{}\" text-anchor=\"end\">{today}</text>",
        HEIGHT - 8.0,
        HEIGHT - 8.0
    );
    if let Some(w) = &weight_scaled {
        let _ = write!(
            out,
            "<text class=\"wl\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{} {unit}</text>\
             <text class=\"wl\" x=\"{}\" y=\"{bottom}\" text-anchor=\"end\">{} {unit}</text>",
            LEFT - 4.0,
            TOP + 10.0,
            round2(w.high),
            LEFT - 4.0,
            round2(w.low)
        );
        series_svg(&mut out, w, "w");
    }
    if let Some(f) = &fat_scaled {
        let _ = write!(
            out,
            "<text class=\"fl\" x=\"{}\" y=\"{}\">{} %</text>\
             <text class=\"fl\" x=\"{}\" y=\"{bottom}\">{} %</text>",
            right + 4.0,
            TOP + 10.0,
            round2(f.high),
            right + 4.0,
            round2(f.low)
        );
        series_svg(&mut out, f, "f");
    }
    out.push_str("</svg>");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(text: &str) -> Date {
        Date::parse(text).unwrap()
    }

    #[test]
    fn draws_both_series_in_the_users_units_within_ninety_days() {
        let today = day("2026-11-25");
        let weight: BTreeMap<Date, f64> = [
            (day("2026-08-01"), 90.0),
            (day("2026-09-01"), 81.0),
            (day("2026-11-25"), 80.0),
        ]
        .into_iter()
        .collect();
        let fat: BTreeMap<Date, f64> = [(day("2026-11-20"), 21.5)].into_iter().collect();
        let svg = chart("jack", &weight, &fat, Units::from_system("en_US"), today).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(!svg.contains("<script") && !svg.contains("href"));
        // 81 kg = 178.57 lb; the point from August is outside the window.
        assert!(svg.contains("weight from 178.57 lb on 2026-09-01"), "{svg}");
        assert!(svg.contains("to 176.37 lb on 2026-11-25 (2 days)"), "{svg}");
        assert!(svg.contains("body fat from 21.5 % on 2026-11-20"), "{svg}");
        assert_eq!(svg.matches("<circle class=\"w\"").count(), 2);
        assert_eq!(svg.matches("<circle class=\"f\"").count(), 1);
        // The last day is at the right edge of the plot.
        assert!(
            svg.contains(&format!("cx=\"{:.1}\"", WIDTH - RIGHT)),
            "{svg}"
        );
        assert!(
            chart(
                "jack",
                &BTreeMap::new(),
                &BTreeMap::new(),
                Units::METRIC,
                today
            )
            .is_none()
        );
    }

    #[test]
    fn escapes_the_user_name() {
        let weight: BTreeMap<Date, f64> = [(day("2026-11-25"), 80.0)].into_iter().collect();
        let svg = chart(
            "<b>",
            &weight,
            &BTreeMap::new(),
            Units::METRIC,
            day("2026-11-25"),
        )
        .unwrap();
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
    }
}
