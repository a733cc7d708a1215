//! Writing SVG by hand: an element stack that keeps tags balanced, text
//! escaped for XML, and numbers short (at most two decimals), so that large
//! charts stay small files.

use std::borrow::Cow;
use std::fmt::Write;

/// An SVG document being written.
pub struct Svg {
    out: String,
    open: Vec<&'static str>,
}

impl Svg {
    /// A document `width` × `height` pixels with `style` as its style sheet.
    pub fn new(width: f64, height: f64, style: &str) -> Svg {
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let (w, h) = (num(width), num(height));
        let _ = writeln!(
            out,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
             viewBox=\"0 0 {w} {h}\" font-family=\"sans-serif\" font-size=\"11\">"
        );
        let _ = writeln!(out, "<style>{}</style>", escape(style));
        Svg {
            out,
            open: vec!["svg"],
        }
    }

    /// Opens `<tag attrs>`; `attrs` is written as it is (escape what came
    /// from the trace).
    pub fn open(&mut self, tag: &'static str, attrs: &str) {
        let _ = writeln!(self.out, "<{tag}{}{attrs}>", space(attrs));
        self.open.push(tag);
    }

    /// Closes the element opened last.
    pub fn close(&mut self) {
        if let Some(tag) = self.open.pop() {
            let _ = writeln!(self.out, "</{tag}>");
        }
    }

    /// An element without content but an optional tooltip (`<title>`).
    pub fn leaf(&mut self, tag: &str, attrs: &str, title: Option<&str>) {
        match title {
            None => {
                let _ = writeln!(self.out, "<{tag}{}{attrs}/>", space(attrs));
            }
            Some(t) => {
                let _ = writeln!(
                    self.out,
                    "<{tag}{}{attrs}><title>{}</title></{tag}>",
                    space(attrs),
                    escape(t)
                );
            }
        }
    }

    /// A `<text>` at (x, y) with extra `attrs` and escaped `content`.
    pub fn text(&mut self, x: f64, y: f64, attrs: &str, content: &str) {
        let _ = writeln!(
            self.out,
            "<text x=\"{}\" y=\"{}\"{}{attrs}>{}</text>",
            num(x),
            num(y),
            space(attrs),
            escape(content)
        );
    }

    /// Markup written as it is (definitions, comments).
    pub fn raw(&mut self, markup: &str) {
        self.out.push_str(markup);
        self.out.push('\n');
    }

    /// Closes what is still open and returns the document.
    pub fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.close();
        }
        self.out
    }
}

fn space(attrs: &str) -> &'static str {
    if attrs.is_empty() {
        ""
    } else {
        " "
    }
}

/// `text` with `&`, `<`, `>`, `"` and `'` as XML entities.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A coordinate with at most two decimals and no trailing zeros.
pub fn num(x: f64) -> String {
    let s = format!("{:.2}", x);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        &s
    };
    if s == "-0" {
        "0".to_owned()
    } else {
        s.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short() {
        assert_eq!(num(12.0), "12");
        assert_eq!(num(12.5), "12.5");
        assert_eq!(num(0.126), "0.13");
        assert_eq!(num(-0.001), "0");
        assert_eq!(num(100.0), "100");
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a<b & 'c'"), "a&lt;b &amp; &apos;c&apos;");
        assert!(matches!(escape("rank 3"), Cow::Borrowed(_)));
    }

    #[test]
    fn elements_balance() {
        let mut s = Svg::new(10.0, 20.0, "rect{fill:red}");
        s.open("g", "class=\"a\"");
        s.leaf("rect", "x=\"1\"", Some("a \"tip\""));
        s.open("g", "");
        s.text(1.0, 2.0, "", "x<y");
        let doc = s.finish();
        assert!(doc.ends_with("</g>\n</g>\n</svg>\n"), "{doc}");
        assert!(doc.contains("<rect x=\"1\"><title>a &quot;tip&quot;</title></rect>"));
        assert!(doc.contains("<text x=\"1\" y=\"2\">x&lt;y</text>"));
        assert!(doc.contains("width=\"10\" height=\"20\" viewBox=\"0 0 10 20\""));
    }
}
