//! The report's charts, drawn as inline SVG by hand: no library, no script, no
//! external resource. Each data mark (a bar `rect`, a point `circle`, the rate `path`)
//! has the class `mark` and `data-*` attributes naming what it shows, and a `<title>`
//! for a tooltip.

use std::fmt::Write;

use sessiontrail_correlate::Severity;

use super::display::percent;
use super::escape::html;
use super::figures::Figure;

/// The statuses stacked in the daily chart, bottom to top, with their colours
/// (Okabe-Ito, distinguishable with colour-blindness and in greyscale print).
pub const STATUS_COLOURS: [(&str, &str); 7] = [
    ("attributed", "#009E73"),
    ("unattributed", "#D55E00"),
    ("orphan", "#E69F00"),
    ("pending", "#56B4E9"),
    ("direct", "#CC79A7"),
    ("failed", "#999999"),
    ("denied", "#0072B2"),
];

/// The colour of each severity, most severe first (the order of [`Severity::ALL`]).
pub const SEVERITY_COLOURS: [(Severity, &str); 4] = [
    (Severity::Critical, "#8E0E1F"),
    (Severity::High, "#D55E00"),
    (Severity::Medium, "#E6B400"),
    (Severity::Low, "#56B4E9"),
];

const OTHER_COLOUR: &str = "#777777";
const WIDTH: f64 = 960.0;
const FONT: &str = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

/// The colour of a severity named by its id (grey for an unknown one).
pub fn severity_colour(severity: &str) -> &'static str {
    Severity::from_id(severity)
        .and_then(|severity| {
            SEVERITY_COLOURS
                .iter()
                .find(|(known, _)| *known == severity)
        })
        .map_or(OTHER_COLOUR, |(_, colour)| colour)
}

/// A round upper bound for an axis and its tick step: 1, 2 or 5 times a power of ten,
/// about five ticks.
fn nice_axis(max: f64) -> (f64, f64) {
    if max <= 0.0 {
        return (1.0, 1.0);
    }
    let rough = max / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| *step >= rough)
        .unwrap_or(10.0 * power)
        .max(1.0);
    ((max / step).ceil() * step, step)
}

/// Numbers in SVG attributes: two decimals at most, no trailing zeros.
fn n(value: f64) -> String {
    let text = format!("{value:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

fn open(out: &mut String, id: &str, height: f64, label: &str) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" id=\"{id}\" \
         viewBox=\"0 0 {w} {h}\" width=\"100%\" role=\"img\" aria-labelledby=\"{id}-title\" \
         font-family=\"{font}\" font-size=\"12\">\
         <title id=\"{id}-title\">{label}</title>",
        w = n(WIDTH),
        h = n(height),
        font = html(FONT),
        label = html(label),
    );
}

fn legend(out: &mut String, x: f64, y: f64, entries: &[(&str, &str)]) {
    let mut x = x;
    out.push_str("<g class=\"legend\">");
    for (name, colour) in entries {
        let _ = write!(
            out,
            "<rect x=\"{}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{colour}\"/>\
             <text x=\"{}\" y=\"{}\">{}</text>",
            n(x),
            n(y),
            n(x + 16.0),
            n(y + 10.5),
            html(name)
        );
        x += 16.0 + 7.5 * name.chars().count() as f64 + 18.0;
    }
    out.push_str("</g>");
}

fn no_data(out: &mut String, x: f64, y: f64, text: &str) {
    let _ = write!(
        out,
        "<text class=\"no-data\" x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"16\" \
         fill=\"#555\">{}</text>",
        n(x),
        n(y),
        html(text)
    );
}

/// The plot area of the two daily charts.
struct Plot {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
    days: usize,
}

impl Plot {
    fn daily(days: usize, height: f64) -> Plot {
        Plot {
            left: 56.0,
            top: 16.0,
            width: WIDTH - 56.0 - 16.0,
            height,
            days: days.max(1),
        }
    }

    fn band(&self) -> f64 {
        self.width / self.days as f64
    }

    fn centre(&self, day: usize) -> f64 {
        self.left + self.band() * (day as f64 + 0.5)
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }

    /// Horizontal grid lines and their labels at `ticks` (value, label), for a y axis
    /// from 0 to `max`.
    fn y_grid(&self, out: &mut String, max: f64, ticks: &[(f64, String)]) {
        out.push_str("<g class=\"axis\">");
        for (value, label) in ticks {
            let y = self.bottom() - value / max * self.height;
            let _ = write!(
                out,
                "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>\
                 <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#444\">{}</text>",
                n(self.left),
                n(self.left + self.width),
                n(self.left - 6.0),
                n(y + 4.0),
                html(label),
                y = n(y),
            );
        }
        out.push_str("</g>");
    }

    /// The day-of-month labels under the plot.
    fn x_labels(&self, out: &mut String, days: &[String]) {
        out.push_str("<g class=\"axis\">");
        let _ = write!(
            out,
            "<line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#888\"/>",
            n(self.left),
            n(self.left + self.width),
            y = n(self.bottom()),
        );
        for (i, day) in days.iter().enumerate() {
            let label = day
                .rsplit('-')
                .next()
                .unwrap_or(day)
                .trim_start_matches('0');
            let _ = write!(
                out,
                "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\" font-size=\"10\">{}</text>",
                n(self.centre(i)),
                n(self.bottom() + 14.0),
                html(label)
            );
        }
        out.push_str("</g>");
    }
}

/// The days of a daily figure (column `day`), in row order.
fn days_of(figure: &Figure) -> Vec<String> {
    (0..figure.rows.len())
        .map(|row| figure.text(row, "day").unwrap_or_default().to_string())
        .collect()
}

/// Sessions per day, stacked by status, from the figure `sessions_by_day`.
pub fn daily_sessions_chart(figure: &Figure, month_label: &str) -> String {
    let days = days_of(figure);
    let plot = Plot::daily(days.len(), 240.0);
    let totals: Vec<i64> = (0..days.len())
        .map(|row| figure.int(row, "sessions").unwrap_or(0))
        .collect();
    let max_total = totals.iter().copied().max().unwrap_or(0);
    let (max, step) = nice_axis(max_total as f64);
    let height = plot.bottom() + 56.0;
    let mut out = String::new();
    open(
        &mut out,
        "chart-sessions-by-day",
        height,
        &format!("Sessions per day in {month_label}, stacked by status"),
    );
    let ticks: Vec<(f64, String)> = (0..=((max / step).round() as i64))
        .map(|i| (i as f64 * step, n(i as f64 * step)))
        .collect();
    plot.y_grid(&mut out, max, &ticks);
    out.push_str("<g class=\"marks\">");
    let bar = plot.band() * 0.72;
    for (row, day) in days.iter().enumerate() {
        let mut base = 0.0;
        for (status, colour) in STATUS_COLOURS {
            let value = figure.int(row, status).unwrap_or(0);
            if value <= 0 {
                continue;
            }
            let h = value as f64 / max * plot.height;
            let y = plot.bottom() - base - h;
            let _ = write!(
                out,
                "<rect class=\"mark\" data-day=\"{day}\" data-status=\"{status}\" \
                 data-value=\"{value}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                 fill=\"{colour}\"><title>{day}: {value} {status}</title></rect>",
                n(plot.centre(row) - bar / 2.0),
                n(y),
                n(bar),
                n(h),
                day = html(day),
            );
            base += h;
        }
    }
    out.push_str("</g>");
    plot.x_labels(&mut out, &days);
    legend(&mut out, plot.left, plot.bottom() + 30.0, &STATUS_COLOURS);
    if max_total == 0 {
        no_data(
            &mut out,
            plot.left + plot.width / 2.0,
            plot.top + plot.height / 2.0,
            &format!("No sessions in {month_label}"),
        );
    }
    out.push_str("</svg>");
    out
}

/// The attribution rate per day as a line (broken on days without broker sessions),
/// with the minimum as a dashed line, from the figure `attribution_rate_daily`.
pub fn daily_rate_chart(figure: &Figure, minimum: Option<f64>, month_label: &str) -> String {
    let days = days_of(figure);
    let plot = Plot::daily(days.len(), 200.0);
    let height = plot.bottom() + 48.0;
    let mut out = String::new();
    open(
        &mut out,
        "chart-attribution-rate-daily",
        height,
        &format!("Attribution rate per day in {month_label}"),
    );
    let ticks: Vec<(f64, String)> = [0.0, 0.25, 0.5, 0.75, 1.0]
        .into_iter()
        .map(|value| (value, format!("{} %", n(value * 100.0))))
        .collect();
    plot.y_grid(&mut out, 1.0, &ticks);
    let y_of = |rate: f64| plot.bottom() - rate.clamp(0.0, 1.0) * plot.height;
    if let Some(minimum) = minimum {
        let y = y_of(minimum);
        let _ = write!(
            out,
            "<g class=\"threshold\"><line x1=\"{}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" \
             stroke=\"#8E0E1F\" stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#8E0E1F\">minimum {}</text></g>",
            n(plot.left),
            n(plot.left + plot.width),
            n(plot.left + plot.width),
            n(y - 5.0),
            html(&percent(minimum)),
            y = n(y),
        );
    }
    let points: Vec<(usize, f64)> = (0..days.len())
        .filter_map(|row| {
            figure
                .float(row, "attribution_rate")
                .map(|rate| (row, rate))
        })
        .collect();
    out.push_str("<g class=\"marks\">");
    if !points.is_empty() {
        let mut d = String::new();
        let mut previous: Option<usize> = None;
        for &(row, rate) in &points {
            let command = if previous == Some(row.wrapping_sub(1)) {
                'L'
            } else {
                'M'
            };
            let _ = write!(d, "{command}{} {} ", n(plot.centre(row)), n(y_of(rate)));
            previous = Some(row);
        }
        let _ = write!(
            out,
            "<path class=\"mark\" data-series=\"attribution_rate\" data-points=\"{}\" d=\"{}\" \
             fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2\" stroke-linejoin=\"round\"/>",
            points.len(),
            d.trim_end()
        );
        for &(row, rate) in &points {
            let broker = figure.int(row, "broker_sessions").unwrap_or(0);
            let attributed = figure.int(row, "attributed").unwrap_or(0);
            let colour = match minimum {
                Some(min) if rate < min => "#D55E00",
                _ => "#0072B2",
            };
            let _ = write!(
                out,
                "<circle class=\"mark\" data-day=\"{day}\" data-value=\"{rate}\" cx=\"{}\" \
                 cy=\"{}\" r=\"4\" fill=\"{colour}\"><title>{day}: {} ({attributed} of \
                 {broker} broker sessions attributed)</title></circle>",
                n(plot.centre(row)),
                n(y_of(rate)),
                html(&percent(rate)),
                day = html(&days[row]),
            );
        }
    }
    out.push_str("</g>");
    plot.x_labels(&mut out, &days);
    if points.is_empty() {
        no_data(
            &mut out,
            plot.left + plot.width / 2.0,
            plot.top + plot.height / 2.0,
            &format!("No broker sessions in {month_label}"),
        );
    }
    out.push_str("</svg>");
    out
}

/// Findings per rule as horizontal bars coloured by severity, from the figure
/// `findings_by_rule`.
pub fn findings_by_rule_chart(figure: &Figure, month_label: &str) -> String {
    let rows = figure.rows.len();
    let label_width = 230.0;
    let row_height = 24.0;
    let top = 34.0;
    let left = label_width + 10.0;
    let width = WIDTH - left - 60.0;
    let height = top + row_height * rows.max(1) as f64 + 12.0;
    let max = (0..rows)
        .filter_map(|row| figure.int(row, "findings"))
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    open(
        &mut out,
        "chart-findings-by-rule",
        height,
        &format!("Findings by rule and severity in {month_label}"),
    );
    legend(
        &mut out,
        left,
        6.0,
        &SEVERITY_COLOURS.map(|(severity, colour)| (severity.as_str(), colour)),
    );
    out.push_str("<g class=\"marks\">");
    for row in 0..rows {
        let rule = figure.text(row, "rule").unwrap_or("—");
        let severity = figure.text(row, "severity").unwrap_or("—");
        let value = figure.int(row, "findings").unwrap_or(0);
        let y = top + row_height * row as f64;
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"#222\">{}</text>",
            n(label_width),
            n(y + 16.0),
            html(rule)
        );
        let w = if max > 0 {
            value as f64 / max as f64 * width
        } else {
            0.0
        };
        if value > 0 {
            let _ = write!(
                out,
                "<rect class=\"mark\" data-rule=\"{rule}\" data-severity=\"{severity}\" \
                 data-value=\"{value}\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" \
                 fill=\"{}\"><title>{rule} ({severity}): {value}</title></rect>",
                n(left),
                n(y + 4.0),
                n(w.max(1.0)),
                n(row_height - 8.0),
                severity_colour(severity),
                rule = html(rule),
                severity = html(severity),
            );
        }
        let _ = write!(
            out,
            "<text x=\"{}\" y=\"{}\" fill=\"#222\">{value}</text>",
            n(left + w + 6.0),
            n(y + 16.0)
        );
    }
    out.push_str("</g>");
    if max == 0 {
        no_data(
            &mut out,
            left + width / 2.0,
            top + row_height * rows.max(1) as f64 / 2.0,
            &format!("No findings in {month_label}"),
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_severity_has_its_colour_in_order() {
        let order: Vec<Severity> = SEVERITY_COLOURS.iter().map(|(s, _)| *s).collect();
        assert_eq!(order, Severity::ALL);
        assert_eq!(severity_colour("critical"), "#8E0E1F");
        assert_eq!(severity_colour("Critical"), OTHER_COLOUR);
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(nice_axis(0.0), (1.0, 1.0));
        assert_eq!(nice_axis(3.0), (3.0, 1.0));
        assert_eq!(nice_axis(67.0), (80.0, 20.0));
        assert_eq!(nice_axis(100.0), (100.0, 20.0));
        assert_eq!(nice_axis(7.0), (8.0, 2.0));
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(n(1.0), "1");
        assert_eq!(n(1.256), "1.26");
        assert_eq!(n(-0.001), "0");
    }
}
