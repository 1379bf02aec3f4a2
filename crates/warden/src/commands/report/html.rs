//! The `--html` page of `warden report`: one self-contained file (inline CSS, hand-written inline
//! SVG charts, no scripts, no external fetches) that a person can open or attach anywhere.

use super::{Report, duration_text, one_line};
use std::fmt::Write as _;

const TIER_COLOURS: [(&str, &str); 4] = [
    ("auto", "#2e9e5b"),
    ("async", "#e0a800"),
    ("sync", "#e06c00"),
    ("deny", "#c62828"),
];

/// Escape text for HTML element content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(s: f64) -> String {
    format!("{:.1}%", s * 100.0)
}

/// One horizontal bar split into coloured segments, with a legend under it.
fn stacked_bar(segments: &[(&str, usize, &str)], width: u32) -> String {
    let total: usize = segments.iter().map(|s| s.1).sum();
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="64" role="img" aria-label="actions per tier">"#
    );
    let mut x = 0f64;
    for (label, n, colour) in segments {
        if total == 0 || *n == 0 {
            continue;
        }
        let w = f64::from(width) * (*n as f64) / (total as f64);
        let _ = write!(
            svg,
            r#"<rect x="{x:.2}" y="0" width="{w:.2}" height="32" fill="{colour}"><title>{} {n}</title></rect>"#,
            esc(label)
        );
        x += w;
    }
    if total == 0 {
        let _ = write!(
            svg,
            r##"<rect x="0" y="0" width="{width}" height="32" fill="#ddd"/>"##
        );
    }
    let mut lx = 0;
    for (label, n, colour) in segments {
        let _ = write!(
            svg,
            r#"<rect x="{lx}" y="44" width="12" height="12" fill="{colour}"/><text x="{}" y="55" font-size="12">{} {n} ({})</text>"#,
            lx + 16,
            esc(label),
            pct(if total == 0 {
                0.0
            } else {
                *n as f64 / total as f64
            })
        );
        lx += 150;
    }
    svg.push_str("</svg>");
    svg
}

/// Horizontal bars, one row per item, each split into (count, colour) parts.
fn bar_chart(rows: &[(String, Vec<(usize, &str)>)], label_width: u32) -> String {
    let max = rows
        .iter()
        .map(|r| r.1.iter().map(|p| p.0).sum::<usize>())
        .max()
        .unwrap_or(0)
        .max(1);
    let bar_space = 360u32;
    let height = 24 * rows.len() as u32 + 4;
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{}" height="{height}" role="img">"#,
        label_width + bar_space + 60
    );
    for (i, (label, parts)) in rows.iter().enumerate() {
        let y = 24 * i as u32;
        let _ = write!(
            svg,
            r#"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text>"#,
            label_width - 6,
            y + 15,
            esc(&one_line(label, 40))
        );
        let mut x = f64::from(label_width);
        let mut total = 0;
        for (n, colour) in parts {
            let w = f64::from(bar_space) * (*n as f64) / (max as f64);
            if *n > 0 {
                let _ = write!(
                    svg,
                    r#"<rect x="{x:.2}" y="{}" width="{w:.2}" height="18" fill="{colour}"/>"#,
                    y + 2
                );
            }
            x += w;
            total += n;
        }
        let _ = write!(
            svg,
            r#"<text x="{:.2}" y="{}" font-size="12">{total}</text>"#,
            x + 4.0,
            y + 15
        );
    }
    svg.push_str("</svg>");
    svg
}

fn tier_colour(t: &str) -> &'static str {
    TIER_COLOURS
        .iter()
        .find(|(n, _)| *n == t)
        .map_or("#777", |(_, c)| c)
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2em auto;max-width:980px;color:#1d1d1f;background:#fff;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}\
.sub{color:#666;margin-top:0}.figures{display:flex;gap:1em;flex-wrap:wrap;margin:1em 0}\
.fig{border:1px solid #ddd;border-radius:8px;padding:.7em 1.1em;min-width:9em}.fig b{display:block;font-size:1.7em}\
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{text-align:left;padding:.3em .6em;border-bottom:1px solid #eee;vertical-align:top}\
th{background:#f6f6f6}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.95em;background:#f4f4f4;padding:0 .25em;border-radius:3px}\
.fig{flex:1}td.t,.kind{white-space:nowrap}.kind{display:inline-block;background:#fde8e8;color:#8b1a1a;border-radius:4px;padding:0 .4em;margin-right:.3em;font-size:.85em}";

/// The whole page.
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Warden report</title><style>{STYLE}</style></head><body>"
    );
    let _ = write!(
        h,
        "<h1>Warden governance report</h1><p class=\"sub\">{} · {}</p>",
        esc(&r.log),
        match (&r.first, &r.last) {
            (Some(a), Some(b)) => format!("actions from {} to {}", esc(a), esc(b)),
            _ => "no actions".into(),
        }
    );
    let a = &r.approvals;
    let _ = write!(
        h,
        "<div class=\"figures\"><div class=\"fig\"><b>{}</b>actions</div><div class=\"fig\"><b>{}</b>automatic</div>\
<div class=\"fig\"><b>{}</b>surfaced</div><div class=\"fig\"><b>{}</b>approvals requested</div><div class=\"fig\"><b>{}</b>incidents</div></div>",
        r.actions,
        pct(r.tiers.automatic.share),
        pct(r.tiers.surfaced.share),
        a.requested,
        r.incidents.len()
    );

    h.push_str("<h2>Actions per tier</h2>");
    let t = &r.tiers;
    h.push_str(&stacked_bar(
        &[
            ("auto", t.auto.count, TIER_COLOURS[0].1),
            ("async", t.async_.count, TIER_COLOURS[1].1),
            ("sync", t.sync.count, TIER_COLOURS[2].1),
            ("deny", t.deny.count, TIER_COLOURS[3].1),
        ],
        640,
    ));
    let o = &r.outcomes;
    let _ = write!(
        h,
        "<p>Outcomes: {} succeeded, {} failed, {} denied, {} deferred, {} did not run, {} unknown, {} degraded.</p>",
        o.succeeded, o.failed, o.denied, o.deferred, o.did_not_run, o.unknown, o.degraded
    );

    h.push_str("<h2>Approvals</h2>");
    h.push_str(&stacked_bar(
        &[
            ("granted", a.granted, "#2e9e5b"),
            ("denied", a.denied, "#c62828"),
            ("expired", a.expired, "#8d6e63"),
            ("unavailable", a.unavailable, "#5c6bc0"),
            ("pending", a.pending, "#9e9e9e"),
        ],
        640,
    ));
    if a.time_to_decision.is_empty() {
        h.push_str("<p>No decisions by a person in this period.</p>");
    } else {
        h.push_str("<table><tr><th>approver group</th><th>decisions</th><th>median time to decision</th><th>p90</th></tr>");
        for d in &a.time_to_decision {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                esc(&d.group),
                d.decisions,
                duration_text(d.median_ms),
                duration_text(d.p90_ms)
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Top surfaced rules</h2>");
    if r.top_rules.is_empty() {
        h.push_str("<p>Nothing was surfaced.</p>");
    } else {
        let rows: Vec<(String, Vec<(usize, &str)>)> = r
            .top_rules
            .iter()
            .map(|x| (x.rule.clone(), vec![(x.count, tier_colour(&x.tier))]))
            .collect();
        h.push_str(&bar_chart(&rows, 260));
        h.push_str("<h2>Top surfaced categories</h2>");
        let rows: Vec<(String, Vec<(usize, &str)>)> = r
            .top_categories
            .iter()
            .map(|x| (x.category.clone(), vec![(x.count, "#5c6bc0")]))
            .collect();
        h.push_str(&bar_chart(&rows, 260));
    }

    let _ = write!(
        h,
        "<h2>Network by host</h2><p>{} allowed, {} denied (green allowed, red denied).</p>",
        r.network_allowed, r.network_denied
    );
    if !r.network.is_empty() {
        let rows: Vec<(String, Vec<(usize, &str)>)> = r
            .network
            .iter()
            .map(|x| {
                (
                    x.host.clone(),
                    vec![(x.allowed, "#2e9e5b"), (x.denied, "#c62828")],
                )
            })
            .collect();
        h.push_str(&bar_chart(&rows, 260));
        h.push_str("<table><tr><th>host</th><th>method</th><th>allowed</th><th>denied</th></tr>");
        for x in &r.network {
            for (m, c) in &x.methods {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&x.host),
                    esc(m),
                    c.allowed,
                    c.denied
                );
            }
        }
        h.push_str("</table>");
    }

    let n = &r.nested;
    if n.decisions > 0 {
        let layers: Vec<String> = n
            .by_layer
            .iter()
            .map(|(k, c)| format!("{} {c}", esc(k)))
            .collect();
        let _ = write!(
            h,
            "<h2>Inside actions</h2><p>{} decisions ({}), {} held for a person, {} refused.</p>",
            n.decisions,
            layers.join(", "),
            n.held,
            n.refused
        );
        if !n.rules.is_empty() {
            h.push_str("<table><tr><th>rule</th><th>tier</th><th>held</th><th>refused</th></tr>");
            for x in &n.rules {
                let _ = write!(
                    h,
                    "<tr><td><code>{}</code></td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                    esc(&x.rule),
                    esc(&x.tier),
                    x.held,
                    x.refused
                );
            }
            h.push_str("</table>");
        }
    }

    let _ = write!(h, "<h2>Incidents ({})</h2>", r.incidents.len());
    if r.incidents.is_empty() {
        h.push_str("<p>None.</p>");
    } else {
        h.push_str("<table><tr><th>#</th><th>time</th><th>what</th><th>tier / rule</th><th>action</th><th>detail</th></tr>");
        for i in &r.incidents {
            let kinds: String = i
                .kinds
                .iter()
                .map(|k| format!("<span class=\"kind\">{}</span>", esc(k)))
                .collect();
            let _ = write!(
                h,
                "<tr><td class=\"n\">{}</td><td class=\"t\">{}</td><td>{kinds}</td><td>{} <code>{}</code></td><td><code>{}</code></td><td>{}</td></tr>",
                i.seq,
                esc(&i.time),
                esc(&i.tier),
                esc(&i.rule),
                esc(&one_line(&i.action, 80)),
                esc(&one_line(&i.detail, 160))
            );
        }
        h.push_str("</table>");
    }
    h.push_str("</body></html>\n");
    h
}
