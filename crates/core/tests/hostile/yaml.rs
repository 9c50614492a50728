//! A small YAML tree, written out as block YAML or as JSON, and the mutations that make a
//! well-formed definition hostile: a node replaced by something deep, huge, of the wrong type
//! or full of control characters; unknown and duplicate keys; and, on the text, tabs, stray
//! characters, a second document or a file cut short.

use super::tape::Tape;

/// A YAML node.
#[derive(Debug, Clone)]
pub enum Y {
    /// A scalar written as it is (a number, a word, or text that may well break the file).
    Plain(String),
    /// A scalar written in double quotes, escaped.
    Quoted(String),
    Seq(Vec<Y>),
    Map(Vec<(String, Y)>),
}

impl Y {
    pub fn plain(s: impl Into<String>) -> Self {
        Self::Plain(s.into())
    }

    pub fn quoted(s: impl Into<String>) -> Self {
        Self::Quoted(s.into())
    }

    pub fn map(entries: Vec<(&str, Y)>) -> Self {
        Self::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    fn count(&self) -> usize {
        1 + match self {
            Self::Seq(items) => items.iter().map(Y::count).sum(),
            Self::Map(entries) => entries.iter().map(|(_, v)| v.count()).sum(),
            _ => 0,
        }
    }

    /// The `n`th node in document order (0 is this one).
    fn nth(&mut self, n: usize) -> Option<&mut Y> {
        if n == 0 {
            return Some(self);
        }
        let mut left = n - 1;
        let children: Vec<&mut Y> = match self {
            Self::Seq(items) => items.iter_mut().collect(),
            Self::Map(entries) => entries.iter_mut().map(|(_, v)| v).collect(),
            _ => return None,
        };
        for child in children {
            let size = child.count();
            if left < size {
                return child.nth(left);
            }
            left -= size;
        }
        None
    }
}

/// A value nested `depth` levels deep in lists or mappings.
pub fn deep(depth: usize, maps: bool) -> Y {
    let mut node = Y::plain("1");
    for _ in 0..depth {
        node = if maps {
            Y::Map(vec![("k".into(), node)])
        } else {
            Y::Seq(vec![node])
        };
    }
    node
}

/// A hostile replacement for any node.
pub fn hostile_node(t: &mut Tape) -> Y {
    match t.below(12) {
        0 => Y::plain(""),
        1 => deep(t.between(1, 200), t.chance(50)),
        2 => Y::plain(
            t.pick(&[
                "99999999999999999999999",
                "-9223372036854775809",
                "1e999",
                "-0",
                "0x7fffffff",
                ".nan",
                "18446744073709551616",
            ])
            .to_owned(),
        ),
        3 => Y::quoted(super::text::hostile_text(t)),
        4 => Y::Seq(
            (0..t.between(0, 300))
                .map(|i| Y::plain(i.to_string()))
                .collect(),
        ),
        5 => Y::Map(
            (0..t.between(0, 300))
                .map(|i| (format!("k{i}"), Y::plain("x")))
                .collect(),
        ),
        6 => Y::plain(
            t.pick(&[
                "true",
                "null",
                "~",
                "[]",
                "{}",
                "- a",
                "a: b",
                "&anchor x",
                "*alias",
                "!tag x",
                "|",
                ">",
            ])
            .to_owned(),
        ),
        7 => Y::Seq(vec![]),
        8 => Y::Map(vec![]),
        9 => Y::quoted("x".repeat(t.between(100, 20_000))),
        10 => Y::plain(format!("t{}", t.below(8))),
        _ => Y::quoted(super::expressions::expression(t)),
    }
}

/// Applies 0 or more tree mutations: a node replaced, an unknown key, a duplicate key, a key removed.
pub fn mutate(root: &mut Y, t: &mut Tape) {
    let rounds = if t.hostile(35) { t.between(1, 3) } else { 0 };
    for _ in 0..rounds {
        let n = t.below(root.count());
        let kind = t.below(4);
        let replacement = if kind == 0 {
            Some(hostile_node(t))
        } else {
            None
        };
        let unknown = t
            .pick(&[
                "colour", "retries", "kind2", "tasks", "id", "after", "set", "when", "é", "#x", "",
            ])
            .to_owned();
        let which = t.below(64);
        let Some(node) = root.nth(n) else { continue };
        match (kind, node) {
            (0, node) => *node = replacement.unwrap_or(Y::plain("")),
            (1, Y::Map(entries)) => {
                entries.insert(which % (entries.len() + 1), (unknown, Y::plain("1")))
            }
            (2, Y::Map(entries)) if !entries.is_empty() => {
                let copy = entries[which % entries.len()].clone();
                entries.push(copy);
            }
            (3, Y::Map(entries)) if !entries.is_empty() => {
                entries.remove(which % entries.len());
            }
            _ => {}
        }
    }
}

/// Writes the tree as block YAML, or (as JSON is valid YAML) as JSON.
pub fn render(root: &Y, json: bool) -> String {
    let mut out = String::new();
    if json {
        flow(root, &mut out);
        out.push('\n');
    } else {
        block(root, 0, &mut out);
    }
    out
}

fn key(k: &str) -> String {
    let simple = !k.is_empty()
        && k.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.');
    if simple {
        k.to_owned()
    } else {
        quote(k)
    }
}

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20
                || c == '\u{7f}'
                || c == '\u{85}'
                || c == '\u{feff}'
                || ('\u{80}'..='\u{9f}').contains(&c) =>
            {
                out.push_str(&format!("\\u{:04x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn scalar(s: &str, quoted: bool) -> String {
    if quoted {
        quote(s)
    } else {
        s.to_owned()
    }
}

fn flow(node: &Y, out: &mut String) {
    match node {
        Y::Plain(s) => out.push_str(if s.is_empty() { "null" } else { s }),
        Y::Quoted(s) => out.push_str(&quote(s)),
        Y::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                flow(item, out);
            }
            out.push(']');
        }
        Y::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&quote(k));
                out.push_str(": ");
                flow(v, out);
            }
            out.push('}');
        }
    }
}

/// Block style; deep or empty collections inside it are written in flow style.
fn block(node: &Y, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match node {
        Y::Map(entries) if !entries.is_empty() => {
            for (k, v) in entries {
                out.push_str(&pad);
                out.push_str(&key(k));
                out.push(':');
                value_after_key(v, indent, out);
            }
        }
        Y::Seq(items) if !items.is_empty() => {
            for item in items {
                out.push_str(&pad);
                out.push('-');
                match item {
                    Y::Map(entries) if !entries.is_empty() => {
                        // The first key on the dash's line, the rest below it.
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        out.push(' ');
                        out.push_str(inner.trim_start());
                    }
                    _ => value_after_key(item, indent, out),
                }
            }
        }
        other => {
            out.push_str(&pad);
            flow(other, out);
            out.push('\n');
        }
    }
}

fn value_after_key(v: &Y, indent: usize, out: &mut String) {
    match v {
        Y::Plain(s) => {
            out.push(' ');
            out.push_str(&scalar(s, false));
            out.push('\n');
        }
        Y::Quoted(s) => {
            out.push(' ');
            out.push_str(&scalar(s, true));
            out.push('\n');
        }
        Y::Seq(items) if !items.is_empty() && indent < 60 => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        Y::Map(entries) if !entries.is_empty() && indent < 60 => {
            out.push('\n');
            block(v, indent + 2, out);
        }
        other => {
            out.push(' ');
            flow(other, out);
            out.push('\n');
        }
    }
}

/// Applies 0 or more text mutations.
pub fn mutate_text(text: &mut String, t: &mut Tape) {
    if !t.hostile(15) {
        return;
    }
    let at = |text: &str, n: usize| {
        let mut i = n % (text.len() + 1);
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    match t.below(6) {
        0 => {
            // A tab where indentation was.
            if let Some(line_start) = text.match_indices("\n  ").map(|(i, _)| i).nth(t.below(40)) {
                text.replace_range(line_start + 1..line_start + 3, "\t");
            }
        }
        1 => {
            let i = at(text, t.next() as usize);
            let c = t.pick(&[
                "\u{0}", "\u{1b}", "\u{7}", "\r", "\u{feff}", "\u{2028}", "\u{85}", "é", "😀",
                "\u{202e}", "#", "%", "@", "`", "{", "]", ":", "'", "\"",
            ]);
            text.insert_str(i, c);
        }
        2 => {
            let i = at(text, t.next() as usize);
            text.truncate(i);
        }
        3 => text.push_str("---\nid: second\ntasks: [{id: a, kind: end}]\n"),
        4 => text.insert_str(
            0,
            t.pick(&[
                "%YAML 1.2\n---\n",
                "\u{feff}",
                "---\n",
                "# comment\n",
                "...\n",
            ]),
        ),
        _ => {
            let i = at(text, t.next() as usize);
            let chunk: String = text[i..].chars().take(t.between(1, 50)).collect();
            text.insert_str(i, &chunk);
        }
    }
}
