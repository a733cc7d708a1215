//! What each kind of event looks like in the chart: the style sheet (one
//! CSS class per kind: six colours for the ways a chunk was obtained, a
//! hatch for waits, marks for steals, remote takes and "no more") and the
//! legend that explains it.

use crate::svg::{num, Svg};
use crate::trace::{How, Outcome};

/// The style sheet: colours of the Okabe–Ito palette (told apart with the
/// common colour-vision deficiencies).
pub const STYLE: &str = "\
.title{font-size:15px;font-weight:bold}\
.subtitle{fill:#444}\
.node-label{font-weight:bold}\
.node-sep{stroke:#888;stroke-width:1}\
.grid{stroke:#e4e4e4;stroke-width:1}\
.axis{stroke:#000;stroke-width:1}\
.run-start{stroke:#666;stroke-width:1;stroke-dasharray:4 3}\
.claim{fill:#0072b2}.ahead{fill:#56b4e9}.steal{fill:#e69f00}\
.remote{fill:#d55e00}.given{fill:#cc79a7}.static{fill:#009e73}.other{fill:#999}\
.separated .rank rect{stroke:#fff;stroke-width:0.6}\
.idle{fill:url(#hatch)}\
.steal-ok{fill:#000}\
.steal-empty{fill:#fff;stroke:#000;stroke-width:0.8}\
.steal-retry{fill:#fff;stroke:#999;stroke-width:0.8}\
.remote-take{fill:#6a3d9a}\
.no-more{stroke:#c00;stroke-width:1.5}";

/// The hatch that fills waits for work (light grey, diagonal lines).
pub const DEFS: &str = "<defs><pattern id=\"hatch\" width=\"4\" height=\"4\" \
patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">\
<rect width=\"4\" height=\"4\" fill=\"#efefef\"/>\
<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"4\" stroke=\"#b8b8b8\" stroke-width=\"1.5\"/>\
</pattern></defs>";

/// The class of a wait for work.
pub const IDLE: &str = "idle";
/// The class of a remote take (and of a knock).
pub const REMOTE_TAKE: &str = "remote-take";
/// The class of "no more".
pub const NO_MORE: &str = "no-more";

/// The class of a steal attempt's mark.
pub fn steal_class(o: Outcome) -> &'static str {
    match o {
        Outcome::Success => "steal-ok",
        Outcome::Retry => "steal-retry",
        Outcome::Empty | Outcome::Other => "steal-empty",
    }
}

/// A mark of `class` at `x` on a bar from `top` to `bottom`: triangles on
/// the top edge for steals, a diamond on the bottom edge for remote takes,
/// a vertical line for "no more".
pub fn mark(svg: &mut Svg, class: &str, x: f64, top: f64, bottom: f64, title: &str) {
    let d = match class {
        NO_MORE => {
            let attrs = format!(
                "class=\"{class}\" x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\"",
                num(top - 2.0),
                num(bottom + 2.0),
                x = num(x)
            );
            return svg.leaf("line", &attrs, Some(title));
        }
        REMOTE_TAKE => format!(
            "M{},{}l3.5,3.5l-3.5,3.5l-3.5,-3.5z",
            num(x),
            num(bottom - 7.0)
        ),
        _ => format!("M{},{}h7l-3.5,6z", num(x - 3.5), num(top)),
    };
    svg.leaf("path", &format!("class=\"{class}\" d=\"{d}\""), Some(title));
}

/// Width of one legend entry.
const ITEM: f64 = 230.0;
/// Height of one legend line.
const LINE: f64 = 18.0;

/// The legend's entries: (class, text). `other` adds the grey of unknown
/// ways of obtaining chunks, with their names.
fn entries(other: Option<&str>) -> Vec<(&'static str, String)> {
    let mut entries: Vec<(&'static str, String)> = How::KNOWN
        .iter()
        .map(|h| (h.name(), format!("{}: {}", h.name(), h.meaning())))
        .collect();
    if let Some(names) = other {
        entries.push(("other", format!("other: {names}")));
    }
    entries.extend([
        (IDLE, "wait for work".to_owned()),
        ("steal-ok", "steal: success".to_owned()),
        ("steal-empty", "steal: empty".to_owned()),
        ("steal-retry", "steal: retry".to_owned()),
        (REMOTE_TAKE, "remote take or knock".to_owned()),
        (NO_MORE, "no more".to_owned()),
    ]);
    entries
}

fn per_line(width: f64) -> usize {
    ((width / ITEM).floor() as usize).max(1)
}

/// The legend's height in lines `width` wide.
pub fn height(width: f64, other: bool) -> f64 {
    entries(other.then_some("")).len().div_ceil(per_line(width)) as f64 * LINE
}

/// Draws the legend from (`left`, `top`) in lines `width` wide.
pub fn legend(svg: &mut Svg, left: f64, top: f64, width: f64, other: Option<&str>) {
    let entries = entries(other);
    let per_line = per_line(width);
    svg.open("g", "class=\"legend\"");
    for (i, (class, text)) in entries.iter().enumerate() {
        let x = left + (i % per_line) as f64 * ITEM;
        let y = top + (i / per_line) as f64 * LINE;
        svg.open("g", &format!("class=\"legend-item\" data-key=\"{class}\""));
        if class.starts_with("steal-") || *class == REMOTE_TAKE || *class == NO_MORE {
            mark(svg, class, x + 7.0, y, y + 12.0, text);
        } else {
            let attrs = format!(
                "class=\"{class}\" x=\"{}\" y=\"{}\" width=\"14\" height=\"12\"",
                num(x),
                num(y)
            );
            svg.leaf("rect", &attrs, None);
        }
        svg.text(x + 20.0, y + 10.0, "", text);
        svg.close();
    }
    svg.close();
}
