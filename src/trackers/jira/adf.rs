//! Markdown → Atlassian Document Format, the description format of Jira
//! Cloud's REST v3 (<https://developer.atlassian.com/cloud/jira/platform/apis/document/structure/>).
//!
//! Covered: paragraphs, headings, bullet and ordered lists (nested), code
//! blocks (with their language) and inline code, block quotes, rules,
//! emphasis, strong, strike-through, links and hard breaks. What ADF cannot
//! hold where Markdown put it is flattened rather than refused: a heading
//! inside a list item or quote becomes a bold paragraph, a quote inside a
//! list item gives its paragraphs to the item, raw HTML is kept as text, an
//! image becomes a link to it, and a link that is not http(s) or mailto
//! keeps its text without the link. ADF forbids empty text nodes and other
//! marks beside `code`, so neither is ever produced.

use pulldown_cmark::{CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use serde_json::{Map, Value, json};

/// The ADF document of `markdown`.
pub fn markdown_to_adf(markdown: &str) -> Value {
    let mut builder = Builder::default();
    let options = Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        builder.event(event);
    }
    builder.finish()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Doc,
    Paragraph,
    Heading(u8),
    BlockQuote,
    CodeBlock,
    BulletList,
    OrderedList(u64),
    ListItem,
}

impl Kind {
    fn holds_inline(self) -> bool {
        matches!(self, Kind::Paragraph | Kind::Heading(_) | Kind::CodeBlock)
    }
}

#[derive(Debug)]
struct Node {
    kind: Kind,
    /// Opened by the builder (text straight inside a list item or the
    /// document), closed by it too.
    implicit: bool,
    language: Option<String>,
    /// This block is not written to the output: its content goes to the parent.
    flattened: bool,
    content: Vec<Value>,
}

impl Node {
    fn new(kind: Kind) -> Self {
        Self {
            kind,
            implicit: false,
            language: None,
            flattened: false,
            content: Vec::new(),
        }
    }

    fn into_value(self) -> Value {
        let mut node = Map::new();
        let name = match self.kind {
            Kind::Doc => "doc",
            Kind::Paragraph => "paragraph",
            Kind::Heading(_) => "heading",
            Kind::BlockQuote => "blockquote",
            Kind::CodeBlock => "codeBlock",
            Kind::BulletList => "bulletList",
            Kind::OrderedList(_) => "orderedList",
            Kind::ListItem => "listItem",
        };
        node.insert("type".into(), name.into());
        match self.kind {
            Kind::Doc => {
                node.insert("version".into(), 1.into());
            }
            Kind::Heading(level) => {
                node.insert("attrs".into(), json!({ "level": level }));
            }
            Kind::OrderedList(start) => {
                node.insert("attrs".into(), json!({ "order": start }));
            }
            Kind::CodeBlock => {
                if let Some(language) = self.language {
                    node.insert("attrs".into(), json!({ "language": language }));
                }
            }
            _ => {}
        }
        let mut content = self.content;
        if self.kind == Kind::ListItem
            && content
                .first()
                .is_none_or(|c| c["type"] == "bulletList" || c["type"] == "orderedList")
        {
            // A list item starts with a paragraph in ADF.
            content.insert(0, json!({ "type": "paragraph", "content": [] }));
        }
        if self.kind == Kind::CodeBlock {
            // The fence's last line break is not part of the code; an
            // empty block holds no text node at all.
            if let Some(Value::Object(text)) = content.first_mut()
                && let Some(Value::String(s)) = text.get_mut("text")
                && s.ends_with('\n')
            {
                s.pop();
            }
            content.retain(|t| t.get("text").and_then(Value::as_str) != Some(""));
        }
        node.insert("content".into(), Value::Array(content));
        Value::Object(node)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Mark {
    Strong,
    Em,
    Strike,
    /// `None`: a link whose target ADF would not take; its text stays plain.
    Link(Option<String>),
}

#[derive(Debug)]
struct Builder {
    stack: Vec<Node>,
    marks: Vec<Mark>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            stack: vec![Node::new(Kind::Doc)],
            marks: Vec::new(),
        }
    }
}

impl Builder {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => self.text(&text, false),
            Event::Code(code) => self.text(&code, true),
            Event::Html(html) | Event::InlineHtml(html) => self.text(&html, false),
            Event::InlineMath(math) | Event::DisplayMath(math) => self.text(&math, true),
            Event::FootnoteReference(name) => self.text(&format!("[^{name}]"), false),
            Event::SoftBreak => self.text(" ", false),
            Event::HardBreak => self.inline(json!({ "type": "hardBreak" })),
            Event::Rule => {
                self.close_implicit();
                // ADF has rules between top-level blocks only.
                if self.stack.len() == 1 {
                    self.push_block(json!({ "type": "rule" }));
                }
            }
            Event::TaskListMarker(done) => self.text(if done { "[x] " } else { "[ ] " }, false),
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Paragraph => self.open(Node::new(Kind::Paragraph)),
            Tag::Heading { level, .. } => {
                let mut node = Node::new(Kind::Heading(heading_level(level)));
                if self.inside(|k| matches!(k, Kind::ListItem | Kind::BlockQuote)) {
                    node.kind = Kind::Paragraph;
                    self.marks.push(Mark::Strong);
                }
                self.open(node);
            }
            Tag::BlockQuote(_) => {
                let mut node = Node::new(Kind::BlockQuote);
                node.flattened = self.inside(|k| matches!(k, Kind::ListItem | Kind::BlockQuote));
                self.open(node);
            }
            Tag::CodeBlock(kind) => {
                let mut node = Node::new(Kind::CodeBlock);
                if let CodeBlockKind::Fenced(info) = kind {
                    node.language = info
                        .split_whitespace()
                        .next()
                        .filter(|l| !l.is_empty())
                        .map(str::to_string);
                }
                self.open(node);
            }
            Tag::List(Some(start)) => self.open(Node::new(Kind::OrderedList(start))),
            Tag::List(None) => self.open(Node::new(Kind::BulletList)),
            Tag::Item => self.open(Node::new(Kind::ListItem)),
            Tag::Emphasis => self.marks.push(Mark::Em),
            Tag::Strong => self.marks.push(Mark::Strong),
            Tag::Strikethrough => self.marks.push(Mark::Strike),
            Tag::Link { dest_url, .. } | Tag::Image { dest_url, .. } => {
                self.marks.push(Mark::Link(allowed_href(&dest_url)));
            }
            // Tables, footnote definitions, HTML blocks and the rest are
            // not enabled or have no ADF node: their text flows on.
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph
            | TagEnd::BlockQuote(_)
            | TagEnd::CodeBlock
            | TagEnd::List(_)
            | TagEnd::Item => self.close(),
            TagEnd::Heading(_) => {
                let demoted = self.top().kind == Kind::Paragraph;
                self.close();
                if demoted {
                    self.marks.pop();
                }
            }
            TagEnd::Emphasis | TagEnd::Strong | TagEnd::Strikethrough => {
                self.marks.pop();
            }
            TagEnd::Link | TagEnd::Image => {
                self.marks.pop();
            }
            _ => {}
        }
    }

    fn top(&self) -> &Node {
        self.stack.last().expect("the document stays on the stack")
    }

    fn inside(&self, test: impl Fn(Kind) -> bool) -> bool {
        self.stack.iter().any(|n| test(n.kind))
    }

    fn open(&mut self, node: Node) {
        self.close_implicit();
        self.stack.push(node);
    }

    /// Close the block on top (and the implicit paragraph above it).
    fn close(&mut self) {
        self.close_implicit();
        if self.stack.len() > 1 {
            let node = self.stack.pop().expect("checked above");
            self.attach(node);
        }
    }

    fn close_implicit(&mut self) {
        if self.stack.len() > 1 && self.top().implicit {
            let node = self.stack.pop().expect("checked above");
            self.attach(node);
        }
    }

    fn attach(&mut self, node: Node) {
        if node.flattened {
            for child in node.content {
                self.push_block(child);
            }
        } else if !(node.implicit && node.content.is_empty()) {
            self.push_block(node.into_value());
        }
    }

    fn push_block(&mut self, value: Value) {
        self.stack
            .last_mut()
            .expect("the document stays on the stack")
            .content
            .push(value);
    }

    /// Put an inline node where inline content may go, opening a
    /// paragraph if the current block only holds blocks.
    fn inline(&mut self, value: Value) {
        if !self.top().kind.holds_inline() {
            let mut paragraph = Node::new(Kind::Paragraph);
            paragraph.implicit = true;
            self.stack.push(paragraph);
        }
        self.push_block(value);
    }

    fn text(&mut self, text: &str, code: bool) {
        if text.is_empty() {
            return;
        }
        if self.top().kind == Kind::CodeBlock {
            // A code block holds one plain text node, never marks.
            let node = self.stack.last_mut().expect("code block on the stack");
            match node.content.last_mut() {
                Some(Value::Object(last)) => {
                    if let Some(Value::String(s)) = last.get_mut("text") {
                        s.push_str(text);
                    }
                }
                _ => node.content.push(json!({ "type": "text", "text": text })),
            }
            return;
        }
        let marks = self.marks_for(code);
        // Text next to text with the same marks joins it.
        if self.top().kind.holds_inline()
            && let Some(Value::Object(last)) = self
                .stack
                .last_mut()
                .and_then(|node| node.content.last_mut())
            && last.get("type") == Some(&Value::from("text"))
            && last
                .get("marks")
                .and_then(Value::as_array)
                .map_or(&[][..], |m| &m[..])
                == &marks[..]
            && let Some(Value::String(s)) = last.get_mut("text")
        {
            s.push_str(text);
            return;
        }
        let mut node = Map::new();
        node.insert("type".into(), "text".into());
        node.insert("text".into(), text.into());
        if !marks.is_empty() {
            node.insert("marks".into(), Value::Array(marks));
        }
        self.inline(Value::Object(node));
    }

    /// The ADF marks of the current text; `code` may only go with `link`.
    fn marks_for(&self, code: bool) -> Vec<Value> {
        let mut marks = Vec::new();
        let mut seen = Vec::new();
        for mark in self.marks.iter().rev() {
            if seen.contains(&std::mem::discriminant(mark)) {
                continue;
            }
            seen.push(std::mem::discriminant(mark));
            match mark {
                Mark::Link(Some(href)) => {
                    marks.push(json!({ "type": "link", "attrs": { "href": href } }))
                }
                Mark::Link(None) => {}
                Mark::Strong if !code => marks.push(json!({ "type": "strong" })),
                Mark::Em if !code => marks.push(json!({ "type": "em" })),
                Mark::Strike if !code => marks.push(json!({ "type": "strike" })),
                _ => {}
            }
        }
        if code {
            marks.insert(0, json!({ "type": "code" }));
        }
        marks
    }

    fn finish(mut self) -> Value {
        while self.stack.len() > 1 {
            self.close();
        }
        self.stack
            .pop()
            .expect("the document stays on the stack")
            .into_value()
    }
}

fn heading_level(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// A link target ADF takes: absolute http(s) or mailto.
fn allowed_href(href: &str) -> Option<String> {
    let lower = href.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("mailto:"))
        .then(|| href.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_start_with_a_paragraph_and_rules_stay_top_level() {
        let adf = markdown_to_adf(
            "- - inner

> ---
> quoted

---
",
        );
        let item = &adf["content"][0]["content"][0];
        assert_eq!(
            item["content"][0],
            json!({ "type": "paragraph", "content": [] })
        );
        assert_eq!(item["content"][1]["type"], "bulletList");
        let quote = &adf["content"][1];
        assert_eq!(quote["type"], "blockquote");
        assert!(!quote.to_string().contains("rule"), "{quote}");
        assert_eq!(adf["content"][2], json!({ "type": "rule" }));
    }

    #[test]
    fn an_item_body_as_the_sync_writes_it() {
        let body = "Add a **circuit breaker**.\n\n---\n\nRemediation item \
                    [REM-12](https://debrief.example.com/remediations/REM-12) in Debrief: \
                    priority p1, kind prevent.\n\nIncidents:\n\
                    - [INC-7](https://debrief.example.com/incidents/INC-7): Checkout down\n";
        let adf = markdown_to_adf(body);
        let kinds: Vec<&str> = adf["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["type"].as_str().unwrap())
            .collect();
        assert_eq!(
            kinds,
            ["paragraph", "rule", "paragraph", "paragraph", "bulletList"]
        );
        let item = &adf["content"][4]["content"][0]["content"][0]["content"];
        assert_eq!(
            item[0]["marks"][0]["attrs"]["href"],
            "https://debrief.example.com/incidents/INC-7"
        );
        assert_eq!(item[1]["text"], ": Checkout down");
    }

    #[test]
    fn empty_code_blocks_hold_no_text() {
        let adf = markdown_to_adf("```\n```\n");
        assert_eq!(
            adf["content"][0],
            json!({ "type": "codeBlock", "content": [] })
        );
    }
}
