//! Problems in a definition file, each with its position, and how they are gathered and printed.

use std::fmt;
use std::time::Duration;

use indexmap::IndexMap;
use marked_yaml::{Node, Spanned};

use super::parse::node_pos;
use super::{duration, DataDecl, DurationError};
use crate::expr::Expr;

/// One problem in a definition file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in a definition file; `Display` prints `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct DefinitionError {
    pub file: String,
    pub diagnostics: Vec<Diagnostic>,
}

impl fmt::Display for DefinitionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_problems(std::slice::from_ref(self)))
    }
}

/// The problems of several files, one `file:line:column: message` (and hint) after the other:
/// the first [`MAX_SHOWN`] of them, then how many more there are.
pub fn format_problems(errors: &[DefinitionError]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let all = errors
        .iter()
        .flat_map(|e| e.diagnostics.iter().map(move |d| (e.file.as_str(), d)));
    for (file, d) in all.clone().take(MAX_SHOWN) {
        if !out.is_empty() {
            out.push('\n');
        }
        let _ = write!(out, "{file}:{}:{}: {}", d.line, d.column, d.message);
        if let Some(hint) = &d.hint {
            let _ = write!(out, "\n  hint: {hint}");
        }
    }
    let more = all.count().saturating_sub(MAX_SHOWN);
    if more > 0 {
        let _ = write!(
            out,
            "\n… and {more} more problem{} (fix these first)",
            if more == 1 { "" } else { "s" }
        );
    }
    out
}

#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Pos {
    pub(super) line: usize,
    pub(super) column: usize,
}

pub(super) fn pos_of(span: &marked_yaml::Span) -> Pos {
    span.start().map_or(Pos { line: 1, column: 1 }, |m| Pos {
        line: m.line(),
        column: m.column(),
    })
}

/// Looks a task id up while reporting an unknown one (`what` says which reference it is).
pub(super) type Resolve<'a> = &'a dyn Fn(&mut Diagnostics, &Spanned<String>, &str) -> Option<usize>;

/// The problems found so far. Work whose cost grows with the size of the file is done once
/// or only for the problems that are shown, so refusing a file with many problems takes time
/// in proportion to the file: a "did you mean" hint, which compares a name with every
/// candidate, is worked out only for the first [`MAX_SHOWN`] problems (in the order they are
/// printed), and positions inside scalars are found from an index of line starts.
pub(super) struct Diagnostics<'s> {
    pub(super) source: &'s str,
    pub(super) items: Vec<Diagnostic>,
    /// Set once an expression with a comprehension was compiled.
    pub(super) iterates: bool,
    /// For each item, the hint to work out if it is shown: `(name, candidate list, fallback)`.
    pub(super) pending: Vec<Option<(String, usize, Option<String>)>>,
    /// Names a mistyped name may have meant: the task ids of each graph, the data variables.
    pub(super) candidate_lists: Vec<Vec<String>>,
    /// The candidate list of the declared data variables, once registered.
    pub(super) data_names: Option<usize>,
    /// Where each line of `source` starts (a char index and a byte offset), built when first needed.
    pub(super) line_starts: Option<Vec<(usize, usize)>>,
    /// Hold durations to [`MAX_DURATION`], `max_restarts` to [`controls::MAX_RESTARTS`] and
    /// `parallel` to [`MAX_PARALLEL`] (a deploy), or not (a stored definition read back: a
    /// restart count or `parallel` past its bound is capped).
    pub(super) bound_durations: bool,
    /// On a deploy of a definition that declares its data: the candidate list of the declared
    /// variables, which every `data.NAME` an expression reads must be among.
    pub(super) declared_data: Option<usize>,
}

/// How many problems are printed; the rest are counted.
pub const MAX_SHOWN: usize = 100;

impl<'s> Diagnostics<'s> {
    pub(super) fn new(source: &'s str) -> Self {
        Self {
            source,
            items: Vec::new(),
            pending: Vec::new(),
            candidate_lists: Vec::new(),
            data_names: None,
            line_starts: None,
            iterates: false,
            bound_durations: true,
            declared_data: None,
        }
    }

    pub(super) fn error(&mut self, pos: Pos, message: impl Into<String>, hint: Option<String>) {
        self.items.push(Diagnostic {
            line: pos.line,
            column: pos.column,
            message: message.into(),
            hint,
        });
        self.pending.push(None);
    }

    /// An unknown name: the hint is "did you mean" the closest of `candidates` (a list from
    /// [`Diagnostics::candidates`]), else `fallback`; worked out only if the problem is shown.
    pub(super) fn unknown_name(
        &mut self,
        pos: Pos,
        message: impl Into<String>,
        name: &str,
        candidates: usize,
        fallback: Option<String>,
    ) {
        self.items.push(Diagnostic {
            line: pos.line,
            column: pos.column,
            message: message.into(),
            hint: None,
        });
        self.pending
            .push(Some((name.to_owned(), candidates, fallback)));
    }

    /// Registers a list of names for [`Diagnostics::unknown_name`].
    pub(super) fn candidates(&mut self, names: Vec<String>) -> usize {
        self.candidate_lists.push(names);
        self.candidate_lists.len() - 1
    }

    /// The declared data variables as a candidate list (one data map per definition).
    pub(super) fn data_candidates(&mut self, data: &IndexMap<String, DataDecl>) -> usize {
        match self.data_names {
            Some(list) => list,
            None => {
                let list = self.candidates(data.keys().cloned().collect());
                self.data_names = Some(list);
                list
            }
        }
    }

    /// Forgets the problems after the first `len`.
    pub(super) fn truncate(&mut self, len: usize) {
        self.items.truncate(len);
        self.pending.truncate(len);
    }

    /// The problems in the order they are printed, with the hints of the shown ones.
    pub(super) fn finish(self) -> Vec<Diagnostic> {
        let Self {
            items,
            pending,
            candidate_lists,
            ..
        } = self;
        let mut all: Vec<(Diagnostic, Option<(String, usize, Option<String>)>)> =
            items.into_iter().zip(pending).collect();
        all.sort_by_key(|(d, _)| (d.line, d.column));
        all.into_iter()
            .enumerate()
            .map(|(n, (mut d, pending))| {
                if let Some((name, list, fallback)) = pending {
                    let candidates: Vec<&str> = if n < MAX_SHOWN {
                        candidate_lists[list].iter().map(String::as_str).collect()
                    } else {
                        Vec::new()
                    };
                    d.hint = did_you_mean(&name, &candidates).or(fallback);
                }
                d
            })
            .collect()
    }

    /// Where character `target` (a char index into the source) is: its line and the char
    /// index its line starts at, from the index of line starts.
    pub(super) fn line_of(&mut self, target: usize) -> (usize, usize, usize) {
        let source = self.source;
        let starts = self.line_starts.get_or_insert_with(|| {
            let mut starts = vec![(0, 0)];
            for (chars, (byte, c)) in source.char_indices().enumerate() {
                if c == '\n' {
                    starts.push((chars + 1, byte + 1));
                }
            }
            starts
        });
        let line = starts.partition_point(|&(chars, _)| chars <= target).max(1) - 1;
        let (chars, byte) = starts[line];
        (line + 1, chars, byte)
    }

    /// Reads a duration field (see [`duration`]) written at `pos`; `None` after reporting
    /// why it is not one (`text` is `None` when the field is not a scalar).
    pub(super) fn duration(
        &mut self,
        pos: Pos,
        text: Option<&str>,
        field: &str,
    ) -> Option<Duration> {
        let Some(text) = text else {
            self.error(
                pos,
                format!("`{field}` must be a duration"),
                Some(duration::HINT.into()),
            );
            return None;
        };
        let parsed = duration::parse_unbounded(text).and_then(|d| {
            if self.bound_durations {
                duration::check(d)
            } else {
                Ok(d)
            }
        });
        match parsed {
            Ok(d) => Some(d),
            Err(e @ DurationError::TooLong) => {
                let hint = "a timer, timeout or deadline further away than that is not supported; use a shorter one";
                self.error(pos, format!("`{field}` {e}"), Some(hint.into()));
                None
            }
            Err(e) => {
                self.error(
                    pos,
                    format!("`{field}` is not a duration: {e}"),
                    Some(duration::HINT.into()),
                );
                None
            }
        }
    }

    /// Compiles an expression written in a YAML scalar, placing errors inside the scalar.
    pub(super) fn expr(&mut self, scalar: &Spanned<String>, field: &str) -> Option<Expr> {
        self.expr_with(scalar, field, &[])
    }

    /// [`Diagnostics::expr`] for an expression that may also use the `extra` variables.
    pub(super) fn expr_with(
        &mut self,
        scalar: &Spanned<String>,
        field: &str,
        extra: &[&str],
    ) -> Option<Expr> {
        match Expr::compile_with(scalar, extra) {
            Ok(e) => {
                self.iterates |= e.iterates();
                if let Some(declared) = self.declared_data {
                    if !self.undeclared_data(scalar, field, &e, declared) {
                        return None;
                    }
                }
                Some(e)
            }
            Err(e) => {
                // The error's character offset inside the expression…
                let value = scalar.as_str();
                let line_start: usize = value
                    .split('\n')
                    .take(e.line.saturating_sub(1))
                    .map(|l| l.chars().count() + 1)
                    .sum();
                let offset = line_start + e.column.saturating_sub(1);
                let pos = self.pos_in_scalar(scalar, offset);
                self.error(
                    pos,
                    format!("{field}: {}", e.message),
                    Some(format!("in the CEL expression `{value}`")),
                );
                None
            }
        }
    }

    /// Reports every `data.NAME` of `expr` that is not declared (the `declared` candidate
    /// list), with the nearest declared name; true when there is none.
    fn undeclared_data(
        &mut self,
        scalar: &Spanned<String>,
        field: &str,
        expr: &Expr,
        declared: usize,
    ) -> bool {
        let mut clean = true;
        for (offset, name) in expr.data_fields() {
            if self.candidate_lists[declared].iter().any(|d| d == name) {
                continue;
            }
            clean = false;
            let chars = scalar
                .as_str()
                .get(..*offset)
                .map_or(0, |before| before.chars().count());
            let pos = self.pos_in_scalar(scalar, chars);
            let fallback = format!(
                "declare it under `data` (it declares {})",
                self.candidate_lists[declared].join(", ")
            );
            self.unknown_name(
                pos,
                format!("{field}: `data.{name}` is not declared under `data`"),
                name,
                declared,
                Some(fallback),
            );
        }
        clean
    }

    /// Where character `offset` of a scalar's value is in the file.
    fn pos_in_scalar(&mut self, scalar: &Spanned<String>, offset: usize) -> Pos {
        match scalar.span().start() {
            Some(m) => {
                // The source from the scalar's start, found from the line index (not by
                // counting characters from the top of the file for each error).
                let (_, line_chars, line_byte) = self.line_of(m.character());
                let from: usize = self.source[line_byte..]
                    .chars()
                    .take(m.character() - line_chars)
                    .map(char::len_utf8)
                    .sum();
                locate_in_scalar(
                    &self.source[line_byte + from..],
                    pos_of(scalar.span()),
                    scalar.as_str(),
                    offset,
                )
            }
            None => Pos { line: 1, column: 1 },
        }
    }
}

/// Finds where character `target` of a scalar's value is written in `source` (the file from
/// the scalar's start, at `start`), walking the source alongside the value. Quotes, escapes,
/// folded line breaks and indentation change the text between the two, but not the order of
/// the characters, so skipping what does not match keeps them aligned.
pub(super) fn locate_in_scalar(source: &str, start: Pos, value: &str, target: usize) -> Pos {
    let mut src = source.chars().peekable();
    let mut at = start;
    let step = |c: char, at: &mut Pos| {
        if c == '\n' {
            at.line += 1;
            at.column = 1;
        } else {
            at.column += 1;
        }
    };
    let mut chars = value.chars();
    for c in chars.by_ref().take(target) {
        while let Some(&s) = src.peek() {
            if s == c {
                step(s, &mut at);
                src.next();
                break;
            }
            if c.is_whitespace() && !s.is_whitespace() {
                break; // an escape such as `\n` in the source: stay put
            }
            step(s, &mut at);
            src.next();
        }
    }
    if let Some(c) = chars.next() {
        while let Some(&s) = src.peek() {
            if s == c || !(s.is_whitespace() || s == '"' || s == '\'' || s == '\\') {
                break;
            }
            step(s, &mut at);
            src.next();
        }
    }
    at
}

pub(super) fn load_error_position(e: &marked_yaml::LoadError) -> (Pos, String) {
    use marked_yaml::LoadError as E;
    let (marker, message) = match e {
        E::TopLevelMustBeMapping(m) => (m, "the top level must be a mapping".to_owned()),
        E::TopLevelMustBeSequence(m) => (m, "the top level must be a sequence".to_owned()),
        E::UnexpectedAnchor(m) => (
            m,
            "YAML anchors are not supported in definitions".to_owned(),
        ),
        E::UnexpectedTag(m) => (m, "YAML tags are not supported in definitions".to_owned()),
        E::MappingKeyMustBeScalar(m) => (m, "mapping keys must be plain strings".to_owned()),
        E::DuplicateKey(k) => {
            let span = k.key.span();
            return (
                pos_of(span),
                format!("the key `{}` appears twice in this mapping", k.key.as_str()),
            );
        }
        E::ScanError(m, err) => (m, format!("YAML syntax error: {}", err.info())),
    };
    (
        Pos {
            line: marker.line(),
            column: marker.column(),
        },
        message,
    )
}

impl Diagnostics<'_> {
    /// serde errors from marked_yaml do not always carry a position: place them on the key
    /// they name, or on the mapping being read.
    pub(super) fn report_from_node_error(&mut self, e: &marked_yaml::FromNodeError, node: &Node) {
        let text = e.to_string();
        let span_pos = e.start_mark().map(|m| Pos {
            line: m.line(),
            column: m.column(),
        });
        let named_key = text.split('`').nth(1).map(str::to_owned);
        let missing = text.starts_with("missing field");
        // A missing field is missing from this mapping: a key of that name elsewhere is not it.
        let key_pos = if missing {
            None
        } else {
            named_key.as_deref().and_then(|k| find_key(node, k))
        };
        let pos = span_pos.or(key_pos).unwrap_or_else(|| node_pos(node));
        // serde says "unknown field"; some versions of the YAML layer capitalise it.
        let hint = if text
            .get(..13)
            .is_some_and(|start| start.eq_ignore_ascii_case("unknown field"))
        {
            // "Unknown field `x`, expected one of `a`, `b`, or `c`": the accepted names follow.
            let accepted: Vec<&str> = text.split('`').skip(3).step_by(2).collect();
            named_key
                .as_deref()
                .and_then(|k| did_you_mean(k, &accepted))
                .or_else(|| {
                    Some(
                        "check the spelling; the fields this mapping accepts are listed above"
                            .into(),
                    )
                })
        } else if missing {
            Some("add the field to this mapping".into())
        } else {
            None
        };
        // A string where a list belongs: say which field and what to write.
        if let Some(value) = text
            .strip_prefix("invalid type: string \"")
            .and_then(|rest| rest.strip_suffix("\", expected a sequence"))
        {
            if let Some((key, at)) = find_scalar_value(node, value) {
                let message = format!("`{key}` is a list, but it is given the text `{value}`");
                self.error(
                    at,
                    message,
                    Some(format!(
                        "write `{key}: [{value}]`, or one `- {value}` per line under `{key}:`"
                    )),
                );
                return;
            }
        }
        let message = text.replacen("Unknown field", "unknown field", 1).replacen(
            "Value was not a boolean",
            "expected `true` or `false`",
            1,
        );
        self.error(pos, message, hint);
    }
}

/// The key whose value is the text `value` (in this mapping or a nested one), and the
/// position of that value.
fn find_scalar_value(node: &Node, value: &str) -> Option<(String, Pos)> {
    match node {
        Node::Mapping(map) => map.iter().find_map(|(k, v)| match v {
            Node::Scalar(s) if s.as_str() == value => {
                Some((k.as_str().to_owned(), pos_of(v.span())))
            }
            other => find_scalar_value(other, value),
        }),
        Node::Sequence(items) => items.iter().find_map(|n| find_scalar_value(n, value)),
        Node::Scalar(_) => None,
    }
}

/// The position of a key named `key`: in this mapping if it has one, else in the nested ones.
pub(super) fn find_key(node: &Node, key: &str) -> Option<Pos> {
    if let Some(k) = node
        .as_mapping()
        .and_then(|m| m.keys().find(|k| k.as_str() == key))
    {
        return Some(pos_of(k.span()));
    }
    match node {
        Node::Mapping(map) => map.iter().find_map(|(k, v)| {
            if k.as_str() == key {
                Some(pos_of(k.span()))
            } else {
                find_key(v, key)
            }
        }),
        Node::Sequence(items) => items.iter().find_map(|n| find_key(n, key)),
        Node::Scalar(_) => None,
    }
}

pub(crate) fn did_you_mean(name: &str, candidates: &[&str]) -> Option<String> {
    // A close spelling, else another form of the same word (`retries` for `retry`, `owner`
    // for `owners`): all of the shorter word but its last letter begins the other.
    let same_stem = |c: &str| {
        let shorter = name.len().min(c.len());
        let common = name
            .bytes()
            .zip(c.bytes())
            .take_while(|(a, b)| a == b)
            .count();
        shorter >= 4 && common + 1 >= shorter
    };
    candidates
        .iter()
        .map(|c| (strsim::levenshtein(name, c), c))
        .filter(|(d, _)| *d <= 2.max(name.len() / 3))
        .min()
        .map(|(_, c)| *c)
        .or_else(|| candidates.iter().copied().find(|c| same_stem(c)))
        .map(|c| format!("did you mean `{c}`?"))
}
