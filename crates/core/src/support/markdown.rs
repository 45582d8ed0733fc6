//! Comments are markdown (CommonMark with tables and strikethrough), rendered to HTML that is
//! inert whatever was written: raw HTML is shown as text, links keep only http(s) and mailto
//! targets, and images become links (nothing loads from elsewhere when a page opens).

use pulldown_cmark::{CowStr, Event, LinkType, Options, Parser, Tag, TagEnd, html};

/// Safe HTML for a markdown comment.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    // Whether each open link or image was dropped, so that its end goes the same way (an
    // image may sit inside a link).
    let mut dropped: Vec<bool> = Vec::new();
    let events = Parser::new_ext(markdown, options).filter_map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Some(Event::Text(raw)),
        Event::Start(Tag::Link { link_type, dest_url, title, id }) => {
            let safe = is_safe_target(&dest_url);
            dropped.push(!safe);
            safe.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::Start(Tag::Image { dest_url, title, id, .. }) => {
            let safe = is_safe_target(&dest_url);
            dropped.push(!safe);
            let link_type = LinkType::Inline;
            safe.then_some(Event::Start(Tag::Link { link_type, dest_url, title, id }))
        }
        Event::End(TagEnd::Link | TagEnd::Image) => {
            (!dropped.pop().unwrap_or(true)).then_some(Event::End(TagEnd::Link))
        }
        other => Some(other),
    });
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, events);
    out
}

fn is_safe_target(url: &CowStr<'_>) -> bool {
    let lower = url.trim().to_ascii_lowercase();
    ["https://", "http://", "mailto:"].iter().any(|scheme| lower.starts_with(scheme))
}

#[cfg(test)]
mod tests {
    use super::to_html;

    #[test]
    fn markdown_renders() {
        assert_eq!(
            to_html("**bold** and `code`"),
            "<p><strong>bold</strong> and <code>code</code></p>\n"
        );
        assert_eq!(
            to_html("[docs](https://example.com/a?b=1&c=2)"),
            "<p><a href=\"https://example.com/a?b=1&amp;c=2\">docs</a></p>\n"
        );
        assert!(to_html("| a |\n|---|\n| 1 |").contains("<table>"));
    }

    #[test]
    fn nothing_written_can_run_or_load() {
        let cases = [
            "<script>alert(1)</script>",
            "hi <img src=x onerror=alert(1)> there",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "[x](data:text/html;base64,PHNjcmlwdD4=)",
            "![pixel](https://tracker.example/p.gif)",
            "![x](javascript:alert(1))",
            "<a href=\"javascript:alert(1)\">a</a>",
            "<iframe src=\"https://evil.example\"></iframe>",
            "[a](<javascript:alert(1)>)",
            "<https://ok.example> and <javascript:alert(1)>",
            "[![x](https://ok.example/i.png)](javascript:alert(1))",
            "[![x](javascript:alert(1))](https://ok.example/)",
        ];
        for case in cases {
            let html = to_html(case);
            // Escaped text may spell anything; only real tags matter.
            for banned in ["<script", "<img", "<iframe", "<a href=\"javascript", "<a href=\"data"] {
                assert!(!html.to_ascii_lowercase().contains(banned), "{case:?} gave {html}");
            }
        }
        assert_eq!(to_html("<script>alert(1)</script>"), "&lt;script&gt;alert(1)&lt;/script&gt;");
        assert_eq!(to_html("[click](javascript:alert(1))"), "<p>click</p>\n");
        // Tags stay balanced when an image inside a link is dropped, or its link is.
        assert_eq!(
            to_html("[![x](javascript:alert(1))](https://ok.example/)"),
            "<p><a href=\"https://ok.example/\">x</a></p>\n"
        );
        assert_eq!(
            to_html("[![x](https://ok.example/i.png)](javascript:alert(1))"),
            "<p><a href=\"https://ok.example/i.png\">x</a></p>\n"
        );
        assert_eq!(
            to_html("![pixel](https://tracker.example/p.gif)"),
            "<p><a href=\"https://tracker.example/p.gif\">pixel</a></p>\n"
        );
    }
}
