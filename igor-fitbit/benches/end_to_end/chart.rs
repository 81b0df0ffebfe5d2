//! A small SVG chart writer: grouped bars on a logarithmic scale and
//! horizontal bars, stacked into one image.

use std::fmt::Write as _;

pub struct Series<'a> {
    pub name: &'a str,
    pub color: &'a str,
    pub values: Vec<f64>,
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;

/// Panels drawn one below the other.
#[derive(Default)]
pub struct Chart {
    body: String,
    height: f64,
}

impl Chart {
    /// Bars for each group (e.g. a concurrency) and series (a system), on a
    /// log10 axis; each bar is labelled with `label(value)`.
    pub fn grouped_log_bars(
        &mut self,
        title: &str,
        groups: &[String],
        series: &[Series<'_>],
        label: impl Fn(f64) -> String,
    ) {
        let (top, plot) = (self.height + 50.0, 220.0);
        let values = series.iter().flat_map(|s| s.values.iter().copied());
        let max = values.clone().fold(f64::MIN, f64::max).max(1e-9);
        let min = values
            .filter(|v| *v > 0.0)
            .fold(f64::MAX, f64::min)
            .min(max);
        let (lo, hi) = (
            min.log10().floor(),
            max.log10().ceil().max(min.log10().floor() + 1.0),
        );
        let y = |v: f64| top + plot - (v.max(10f64.powf(lo)).log10() - lo) / (hi - lo) * plot;
        self.title(title);
        for decade in lo as i32..=hi as i32 {
            let v = 10f64.powi(decade);
            let _ = write!(
                self.body,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end" class="axis">{}</text>"##,
                WIDTH - RIGHT,
                LEFT - 6.0,
                y(v) + 4.0,
                label(v),
                y = y(v),
            );
        }
        let group_width = (WIDTH - LEFT - RIGHT) / groups.len() as f64;
        let bar = (group_width - 40.0) / series.len() as f64;
        for (g, group) in groups.iter().enumerate() {
            let x0 = LEFT + g as f64 * group_width + 20.0;
            for (s, series) in series.iter().enumerate() {
                let Some(&v) = series.values.get(g) else {
                    continue;
                };
                let (x, top_y) = (x0 + s as f64 * bar, y(v));
                let _ = write!(
                    self.body,
                    r#"<rect x="{x:.1}" y="{top_y:.1}" width="{:.1}" height="{:.1}" fill="{}"/><text x="{:.1}" y="{:.1}" text-anchor="middle" class="value">{}</text>"#,
                    bar - 4.0,
                    top + plot - top_y,
                    series.color,
                    x + (bar - 4.0) / 2.0,
                    top_y - 4.0,
                    label(v)
                );
            }
            let _ = write!(
                self.body,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="middle" class="group">{}</text>"#,
                x0 + (group_width - 40.0) / 2.0,
                top + plot + 18.0,
                escape(group)
            );
        }
        self.height = top + plot + 30.0;
        self.legend(series);
    }

    /// One bar per item, scaled to the largest.
    pub fn horizontal_bars(&mut self, title: &str, items: &[(String, f64, &str)], unit: &str) {
        let top = self.height + 50.0;
        self.title(title);
        let max = items.iter().map(|i| i.1).fold(0.0, f64::max).max(1e-9);
        let (label_width, row) = (330.0, 20.0);
        let span = WIDTH - RIGHT - LEFT - label_width - 80.0;
        for (i, (label, value, color)) in items.iter().enumerate() {
            let y = top + i as f64 * row;
            let width = (value / max * span).max(1.0);
            let x = LEFT + label_width;
            let _ = write!(
                self.body,
                r#"<text x="{:.1}" y="{:.1}" text-anchor="end" class="axis">{}</text><rect x="{x:.1}" y="{y:.1}" width="{width:.1}" height="{:.1}" fill="{color}"/><text x="{:.1}" y="{:.1}" class="value">{value:.0} {unit}</text>"#,
                x - 8.0,
                y + 13.0,
                escape(label),
                row - 5.0,
                x + width + 6.0,
                y + 13.0,
            );
        }
        self.height = top + items.len() as f64 * row + 10.0;
    }

    fn title(&mut self, title: &str) {
        let _ = write!(
            self.body,
            r#"<text x="{LEFT}" y="{:.1}" class="title">{}</text>"#,
            self.height + 30.0,
            escape(title)
        );
    }

    fn legend(&mut self, series: &[Series<'_>]) {
        let y = self.height + 5.0;
        let mut x = LEFT;
        for s in series {
            let _ = write!(
                self.body,
                r#"<rect x="{x:.1}" y="{y:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{:.1}" class="axis" text-anchor="start">{}</text>"#,
                s.color,
                x + 16.0,
                y + 10.0,
                escape(s.name)
            );
            x += 30.0 + 7.0 * s.name.len() as f64;
        }
        self.height = y + 20.0;
    }

    pub fn finish(self) -> String {
        format!(
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{h:.0}" viewBox="0 0 {WIDTH} {h:.0}" font-family="sans-serif">
<style>.title {{ font-size: 15px; font-weight: bold; }} .axis {{ font-size: 11px; fill: #333; }} .value {{ font-size: 10px; fill: #222; }} .group {{ font-size: 12px; }}</style>
<rect width="100%" height="100%" fill="white"/>
{}
</svg>
"#,
            self.body,
            h = self.height + 10.0
        )
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
