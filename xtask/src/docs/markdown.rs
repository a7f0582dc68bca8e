//! Turns a rustdoc comment into the parts of a reference-doc section.
//!
//! The doc comments follow rustdoc conventions (`# Errors`, `# Examples`,
//! intra-doc links, hidden doctest lines); the generated Markdown is read
//! outside rustdoc, so those are rewritten into plain Markdown here.

/// A doc comment split into its description and labelled sections, each
/// already rewritten to plain Markdown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocComment {
    /// Everything before the first `# Heading`: the summary line and any
    /// further paragraphs. Empty when the comment starts with a heading.
    pub description: String,
    /// The `# Heading` sections in reference order (see [`Section::label`]).
    pub sections: Vec<Section>,
}

/// One `# Heading` section of a doc comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// `Parameters`, `Returns`, `Errors`, `Example`, or any other heading's
    /// text as written.
    pub label: String,
    /// The section's Markdown, without leading or trailing blank lines.
    pub body: String,
}

impl DocComment {
    /// Parses the text of a doc comment (the `///` lines joined with `\n`,
    /// already unindented).
    pub fn parse(text: &str) -> DocComment {
        let mut description: Vec<&str> = Vec::new();
        // (reference order, label, lines), in the order written.
        let mut raw_sections: Vec<(u8, String, Vec<&str>)> = Vec::new();
        let mut fence: Option<Fence> = None;
        for line in text.lines() {
            if let Some(open) = &fence {
                if open.is_closed_by(line) {
                    fence = None;
                }
            } else if let Some(open) = Fence::open(line) {
                fence = Some(open);
            } else if let Some(title) = line.strip_prefix("# ").or_else(|| {
                // An empty `#` heading starts an unnamed section; treat it like
                // any other heading rather than as description text.
                (line.trim_end() == "#").then_some("")
            }) {
                let (order, label) = canonical_label(title.trim());
                raw_sections.push((order, label, Vec::new()));
                continue;
            }
            match raw_sections.last_mut() {
                Some((_, _, lines)) => lines.push(line),
                None => description.push(line),
            }
        }

        // Reference order keeps every operation's parts in the same place;
        // the sort is stable, so unknown headings keep their written order.
        raw_sections.sort_by_key(|(order, _, _)| *order);
        let mut sections: Vec<Section> = Vec::new();
        for (_, label, lines) in raw_sections {
            let body = rewrite(&lines);
            if body.is_empty() {
                continue;
            }
            match sections.iter_mut().find(|s| s.label == label) {
                Some(existing) => {
                    existing.body.push_str("\n\n");
                    existing.body.push_str(&body);
                }
                None => sections.push(Section { label, body }),
            }
        }
        DocComment {
            description: rewrite(&description),
            sections,
        }
    }

    /// Renders the description followed by the sections as Markdown blocks
    /// separated by blank lines (no trailing newline).
    pub fn to_markdown(&self) -> String {
        let mut blocks: Vec<String> = Vec::new();
        if !self.description.is_empty() {
            blocks.push(self.description.clone());
        }
        for section in &self.sections {
            blocks.push(section.to_markdown());
        }
        blocks.join("\n\n")
    }
}

impl Section {
    /// `**Label:** text` for a single plain paragraph (like the Python SDK's
    /// reference), the label above the body otherwise.
    pub fn to_markdown(&self) -> String {
        let first = self.body.lines().next().unwrap_or_default();
        let single_paragraph = !self.body.lines().any(|l| l.trim().is_empty());
        if single_paragraph && !starts_block(first) {
            format!("**{}:** {}", self.label, self.body)
        } else if is_list_item(first) {
            // A list may follow its label line directly, as in the reference.
            format!("**{}:**\n{}", self.label, self.body)
        } else {
            format!("**{}:**\n\n{}", self.label, self.body)
        }
    }
}

/// Maps a heading to its reference order and label.
fn canonical_label(title: &str) -> (u8, String) {
    match title.to_ascii_lowercase().as_str() {
        "parameters" | "arguments" => (0, "Parameters".to_owned()),
        "returns" => (1, "Returns".to_owned()),
        "errors" => (2, "Errors".to_owned()),
        "example" | "examples" => (4, "Example".to_owned()),
        _ => (3, title.to_owned()),
    }
}

fn is_list_item(line: &str) -> bool {
    let t = line.trim_start();
    if t.starts_with("- ") || t.starts_with("* ") || t.starts_with("+ ") {
        return true;
    }
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    digits > 0 && (t[digits..].starts_with(". ") || t[digits..].starts_with(") "))
}

/// Whether `line` opens a block that must not be glued to a `**Label:**`.
fn starts_block(line: &str) -> bool {
    let t = line.trim_start();
    is_list_item(line)
        || Fence::open(line).is_some()
        || t.starts_with('#')
        || t.starts_with('>')
        || t.starts_with('|')
        || line.starts_with("    ")
}

/// An open fenced code block.
struct Fence {
    marker: char,
    len: usize,
    rust: bool,
}

impl Fence {
    fn open(line: &str) -> Option<Fence> {
        let t = line.trim_start();
        let marker = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
        let len = t.chars().take_while(|c| *c == marker).count();
        if len < 3 {
            return None;
        }
        let info = &t[len..];
        if marker == '`' && info.contains('`') {
            // Not a fence: CommonMark forbids backticks in a backtick fence's info.
            return None;
        }
        Some(Fence {
            marker,
            len,
            rust: is_rust_info(info),
        })
    }

    fn is_closed_by(&self, line: &str) -> bool {
        let t = line.trim();
        t.chars().take_while(|c| *c == self.marker).count() >= self.len
            && t.chars().all(|c| c == self.marker)
    }
}

/// rustdoc treats a code block as Rust unless its info string names another
/// language; these are the attributes rustdoc knows.
fn is_rust_info(info: &str) -> bool {
    info.split(|c: char| c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .all(|w| {
            matches!(
                w,
                "rust" | "no_run" | "ignore" | "should_panic" | "compile_fail" | "test_harness"
            ) || w.starts_with("edition")
                || w.starts_with("ignore-")
                || (w.len() == 5
                    && w.starts_with('E')
                    && w[1..].chars().all(|c| c.is_ascii_digit()))
        })
}

/// Rewrites doc-comment Markdown into plain Markdown: Rust code blocks get a
/// ```` ```rust ```` fence without rustdoc's hidden lines, intra-doc links
/// lose their targets, and sub-headings move below the operation's `###`.
fn rewrite(lines: &[&str]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut fence: Option<Fence> = None;
    for line in lines {
        if let Some(open) = &fence {
            if open.is_closed_by(line) {
                fence = None;
                out.push((*line).to_owned());
            } else if !open.rust {
                out.push((*line).to_owned());
            } else if let Some(shown) = doctest_line(line) {
                out.push(shown);
            }
            continue;
        }
        if let Some(open) = Fence::open(line) {
            if open.rust {
                let indent = &line[..line.len() - line.trim_start().len()];
                let marker: String = std::iter::repeat_n(open.marker, open.len).collect();
                out.push(format!("{indent}{marker}rust"));
            } else {
                out.push((*line).to_owned());
            }
            fence = Some(open);
            continue;
        }
        if let Some(target) = link_definition(line) {
            // Definitions feeding intra-doc links go with the links; URL
            // definitions stay, untouched, for the links that use them.
            if !is_intra_doc_target(target) {
                out.push((*line).to_owned());
            }
            continue;
        }
        let hashes = line.chars().take_while(|c| *c == '#').count();
        if hashes > 0 && line[hashes..].starts_with(' ') {
            let level = (hashes + 3).min(6);
            out.push(format!(
                "{} {}",
                "#".repeat(level),
                strip_links(line[hashes..].trim())
            ));
            continue;
        }
        out.push(strip_links(line));
    }
    let first = out.iter().position(|l| !l.trim().is_empty());
    let last = out.iter().rposition(|l| !l.trim().is_empty());
    match (first, last) {
        (Some(first), Some(last)) => out[first..=last].join("\n"),
        _ => String::new(),
    }
}

/// The line as shown in rendered docs, or `None` for a hidden doctest line
/// (`# ` prefix or a lone `#`); `##` escapes a literal `#`.
fn doctest_line(line: &str) -> Option<String> {
    let t = line.trim_start();
    let indent = &line[..line.len() - t.len()];
    if t == "#" || t.starts_with("# ") || t.starts_with("#\t") {
        None
    } else if let Some(rest) = t.strip_prefix("##") {
        Some(format!("{indent}#{rest}"))
    } else {
        Some(line.to_owned())
    }
}

/// The target of a `[label]: target` link reference definition.
fn link_definition(line: &str) -> Option<&str> {
    let rest = line.trim_start().strip_prefix('[')?;
    let close = rest.find("]:")?;
    let target = rest[close + 2..].trim();
    (!target.is_empty() && !target.contains(char::is_whitespace)).then_some(target)
}

/// Whether a link destination is a Rust path (intra-doc) rather than a URL.
fn is_intra_doc_target(dest: &str) -> bool {
    let d = dest.trim().replace("::", "");
    !d.is_empty() && !d.contains([':', '/', '.', '#', '?', '=']) && !d.contains(char::is_whitespace)
}

/// Replaces intra-doc links with their text: `` [`X`] `` and
/// `` [`text`](path) `` become `` `X` `` and `` `text` ``; plain
/// `[Type]`/`[mod::item]` and `[text](path)` lose their brackets. Links to
/// URLs and text inside code spans are left alone.
pub fn strip_links(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(c) = rest.chars().next() {
        if c == '`' {
            let span = code_span_len(rest);
            out.push_str(&rest[..span]);
            rest = &rest[span..];
            continue;
        }
        if c == '['
            && let Some((text, consumed)) = intra_doc_link(rest)
        {
            out.push_str(&text);
            rest = &rest[consumed..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// Length of the code span at the start of `s` (which starts with a
/// backtick), or of the backtick run alone when the span is unclosed.
fn code_span_len(s: &str) -> usize {
    let run = s.chars().take_while(|c| *c == '`').count();
    let ticks = &s[..run];
    let mut search = run;
    while let Some(found) = s[search..].find(ticks) {
        let start = search + found;
        let after = s[start..].chars().take_while(|c| *c == '`').count();
        if after == run {
            return start + run;
        }
        search = start + after;
    }
    run
}

/// If `s` starts with an intra-doc link, its replacement text and length.
fn intra_doc_link(s: &str) -> Option<(String, usize)> {
    // Find the `]` closing the link text, skipping code spans inside it.
    let mut i = 1;
    let close = loop {
        let c = s[i..].chars().next()?;
        match c {
            ']' => break i,
            '[' => return None,
            '`' => i += code_span_len(&s[i..]),
            _ => i += c.len_utf8(),
        }
    };
    let text = &s[1..close];
    let after = &s[close + 1..];

    // The optional destination: `(path)`, `[label]` or `[]`.
    let (dest, dest_len) = if let Some(inner) = after.strip_prefix('(') {
        let end = inner.find(')')?;
        (Some(&inner[..end]), end + 2)
    } else if let Some(inner) = after.strip_prefix('[') {
        let end = inner.find(']')?;
        let label = &inner[..end];
        (if label.is_empty() { None } else { Some(label) }, end + 2)
    } else {
        (None, 0)
    };
    let consumed = close + 1 + dest_len;

    if let Some(dest) = dest
        && !is_intra_doc_target(dest)
    {
        return None;
    }
    let code = text.len() >= 2
        && text.starts_with('`')
        && text.ends_with('`')
        && code_span_len(text) == text.len();
    if code {
        let ticks = text.chars().take_while(|c| *c == '`').count();
        let inner = strip_disambiguator(&text[ticks..text.len() - ticks]);
        let fence = "`".repeat(ticks);
        return Some((format!("{fence}{inner}{fence}"), consumed));
    }
    if dest.is_some() || looks_like_item_path(text) {
        return Some((strip_disambiguator(text).to_owned(), consumed));
    }
    None
}

/// rustdoc hides `struct@`, `fn@`, ... disambiguators in link text.
fn strip_disambiguator(text: &str) -> &str {
    match text.split_once('@') {
        Some((kind, rest)) if !kind.is_empty() && kind.chars().all(|c| c.is_ascii_lowercase()) => {
            rest
        }
        _ => text,
    }
}

/// `[Type]`, `[module::item]`, `[function()]`, `[macro!]`: bracketed text
/// that rustdoc would resolve as a link, as opposed to prose in brackets.
fn looks_like_item_path(text: &str) -> bool {
    let text = strip_disambiguator(text);
    let bare = text
        .strip_suffix("()")
        .or_else(|| text.strip_suffix('!'))
        .unwrap_or(text);
    let is_path = !bare.is_empty()
        && bare.split("::").all(|seg| {
            seg.chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    is_path
        && (bare.contains("::")
            || bare.len() != text.len()
            || bare.chars().next().is_some_and(|c| c.is_ascii_uppercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intra_doc_links_are_stripped() {
        assert_eq!(
            strip_links("- [`StoreError::AlreadyExists`] when taken"),
            "- `StoreError::AlreadyExists` when taken"
        );
        assert_eq!(
            strip_links("see [`the store`](crate::PgStore) and [`x`][`Y`]"),
            "see `the store` and `x`"
        );
        assert_eq!(
            strip_links("a [PgStore] and [`fn@create_user`] and [store](crate::store)"),
            "a PgStore and `create_user` and store"
        );
        assert_eq!(strip_links("[`UserId`][] ok"), "`UserId` ok");
    }

    #[test]
    fn urls_prose_and_code_spans_are_kept() {
        for line in [
            "see [the RFC](https://www.rfc-editor.org/rfc/rfc6238)",
            "an [optional] word, a [x] box",
            "code `v[0]` and `[`",
            "unclosed [`bracket",
        ] {
            assert_eq!(strip_links(line), line);
        }
    }

    #[test]
    fn sections_are_mapped_and_ordered() {
        let doc = DocComment::parse(
            "Summary.\n\nMore.\n\n# Examples\n```\nx();\n```\n\n# Errors\n- [`E::A`] when a\n\n# Panics\nNever.\n\n# Returns\nThe id.\n\n# Parameters\n- `a`: first",
        );
        assert_eq!(doc.description, "Summary.\n\nMore.");
        let labels: Vec<&str> = doc.sections.iter().map(|s| s.label.as_str()).collect();
        assert_eq!(
            labels,
            ["Parameters", "Returns", "Errors", "Panics", "Example"]
        );
        assert_eq!(
            doc.to_markdown(),
            "Summary.\n\nMore.\n\n**Parameters:**\n- `a`: first\n\n**Returns:** The id.\n\n**Errors:**\n- `E::A` when a\n\n**Panics:** Never.\n\n**Example:**\n\n```rust\nx();\n```"
        );
    }

    #[test]
    fn multi_paragraph_returns_go_below_the_label() {
        let doc = DocComment::parse("S.\n\n# Returns\nFirst.\n\nSecond.");
        assert_eq!(doc.to_markdown(), "S.\n\n**Returns:**\n\nFirst.\n\nSecond.");
    }

    #[test]
    fn doctest_fences_and_hidden_lines() {
        let doc = DocComment::parse(
            "S.\n\n# Example\n```no_run\n# async fn f() -> Result<(), E> {\n#\nlet x = f().await?;\n## not hidden\n#[derive(Debug)]\n    # hidden too\n# Ok(()) }\n```\n\n```sql\n# kept\n```",
        );
        assert_eq!(
            doc.sections[0].body,
            "```rust\nlet x = f().await?;\n# not hidden\n#[derive(Debug)]\n```\n\n```sql\n# kept\n```"
        );
    }

    #[test]
    fn hashes_in_code_are_not_headings() {
        let doc = DocComment::parse("S.\n```\n# use x;\n```\n## Detail\ntext");
        assert!(doc.sections.is_empty());
        assert_eq!(doc.description, "S.\n```rust\n```\n##### Detail\ntext");
    }

    #[test]
    fn intra_doc_definitions_are_dropped() {
        let doc = DocComment::parse("Uses [Foo].\n\n[Foo]: crate::Foo\n[Rfc]: https://example.com");
        assert_eq!(doc.description, "Uses Foo.\n\n[Rfc]: https://example.com");
    }
}
