//! The bounds every definition and calendar file is checked against before it is loaded: its
//! size, one YAML document per file, and how deep mappings and lists nest. They are checked
//! on the parser's event stream, which keeps no stack of its own, so that a file nested a
//! million levels deep is refused rather than overflowing the stack of the (recursive) loader.

use yaml_rust2::parser::{Event, Parser};

use super::{DefinitionError, Diagnostic};

/// Largest definition or calendar file.
pub const MAX_SOURCE_BYTES: usize = 8 << 20;

/// Deepest nesting of mappings and lists in a file: room for data defaults as deep as the
/// data limits allow (three levels below the top: `data:`, the variable, `default:`) and for
/// foreach bodies inside foreach bodies.
pub const MAX_NESTING: usize = 128;

/// The problem of a file larger than [`MAX_SOURCE_BYTES`].
pub fn too_large(file: &str) -> DefinitionError {
    DefinitionError {
        file: file.to_owned(),
        diagnostics: vec![Diagnostic {
            line: 1,
            column: 1,
            message: format!(
                "the file is larger than the limit of {MAX_SOURCE_BYTES} bytes (8 MiB)"
            ),
            hint: Some("split it into several definitions".into()),
        }],
    }
}

/// Checks the file's size, that it holds one YAML document, and its nesting. A YAML syntax
/// error is left for the loader to report.
pub fn check(file: &str, source: &str) -> Result<(), DefinitionError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(too_large(file));
    }
    let problem = |line: usize, col: usize, message: String, hint: &str| DefinitionError {
        file: file.to_owned(),
        diagnostics: vec![Diagnostic {
            line,
            column: col + 1,
            message,
            hint: Some(hint.to_owned()),
        }],
    };
    let mut parser = Parser::new_from_str(source);
    let (mut documents, mut depth) = (0usize, 0usize);
    loop {
        let Ok((event, mark)) = parser.next_token() else {
            return Ok(());
        };
        match event {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart => {
                documents += 1;
                if documents > 1 {
                    return Err(problem(
                        mark.line(),
                        mark.col(),
                        "a second YAML document: a file holds one definition or calendar".into(),
                        "remove the `---` line and what follows it, or put each definition in a file of its own",
                    ));
                }
            }
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(problem(
                        mark.line(),
                        mark.col(),
                        format!("mappings and lists nest deeper than the limit of {MAX_NESTING} levels here"),
                        "flatten the structure",
                    ));
                }
            }
            Event::MappingEnd | Event::SequenceEnd => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
}

/// Moves positions past the end of the file (the YAML parser reports a document cut short at
/// the line after its last) onto its last character, so every position names a place an
/// editor can go to. Lines end at `\n`, `\r\n` or `\r`, as the parser counts them.
pub fn keep_inside(source: &str, diagnostics: &mut [Diagnostic]) {
    let normalized = source.replace("\r\n", "\n");
    let widths: Vec<usize> = normalized
        .split(['\n', '\r'])
        .map(|line| line.chars().count())
        .collect();
    for d in diagnostics {
        if d.line > widths.len() {
            (d.line, d.column) = (widths.len(), widths[widths.len() - 1] + 1);
        }
        let width = widths[d.line.max(1) - 1];
        d.line = d.line.max(1);
        d.column = d.column.clamp(1, width + 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(line: usize, column: usize) -> Diagnostic {
        Diagnostic {
            line,
            column,
            message: "m".into(),
            hint: None,
        }
    }

    #[test]
    fn a_position_past_the_end_of_the_file_moves_to_its_end() {
        let mut ds = [at(3, 1), at(2, 9), at(1, 2), at(0, 0)];
        keep_inside("id: p\r\ntasks: [", &mut ds);
        assert_eq!(
            ds.map(|d| (d.line, d.column)),
            [(2, 9), (2, 9), (1, 2), (1, 1)]
        );
    }
}
