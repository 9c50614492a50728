//! Bounds on the data that comes in from outside: the data an instance starts with, a job's
//! output, a human task's output (and a follow-on's or subtask's input), the values given for
//! prompts, and the data defaults of a definition. Each such payload is checked on its own
//! against one [`DataLimits`]: how deep it nests and how large it is as JSON.
//!
//! The depth bound is what keeps stored data readable: an instance's state nests a payload a
//! few levels further down (a human task's input sits inside the task inside the instance),
//! and a store reads JSON back with serde_json's limit of 128 levels. So the configurable
//! depth has a ceiling ([`DataLimits::MAX_DEPTH_CEILING`]) well below that.
//!
//! Also the length of a ForEach task's item list ([`DEFAULT_MAX_FOREACH_ITEMS`]), and how deep
//! and how wide a hierarchy of sub-processes grows ([`DEFAULT_MAX_DEPTH`],
//! [`DEFAULT_MAX_CHILDREN_PER_STEP`]).

use serde_json::{Map, Value};

/// The most items one ForEach task iterates over, by default: a longer list ends the task
/// `ended_not_ok` ([`crate::Reason::TooManyItems`]) before any iteration starts.
pub const DEFAULT_MAX_FOREACH_ITEMS: usize = 1_000_000;

/// The deepest a hierarchy of `call`ed and handed-off instances nests by default: a `call` or
/// `handoff` task that would start a child below it ends `ended_not_ok` (a process that calls
/// itself stops there).
pub const DEFAULT_MAX_DEPTH: u32 = 32;

/// The most child instances (`call` and `handoff`) one step starts by default, its children's
/// own first steps included: a task past it ends `ended_not_ok`, so a definition that calls
/// itself many times over cannot make one step (and its commit) without bound.
pub const DEFAULT_MAX_CHILDREN_PER_STEP: usize = 10_000;

/// The highest ForEach item limit that may be configured: each item is an instance, and its
/// index is counted in the parent's state.
pub const MAX_FOREACH_ITEMS_CEILING: usize = 100_000_000;

/// Checks a configured ForEach item limit: `1..=`[`MAX_FOREACH_ITEMS_CEILING`].
pub fn foreach_items_limit(limit: usize) -> Result<usize, String> {
    if (1..=MAX_FOREACH_ITEMS_CEILING).contains(&limit) {
        Ok(limit)
    } else {
        Err(format!(
            "the ForEach item limit must be 1 to {MAX_FOREACH_ITEMS_CEILING} items, not {limit}"
        ))
    }
}

/// How deep and how large one payload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataLimits {
    /// Most levels of objects and lists: `{"a": 1}` is 1 level deep, `{"a": [1]}` 2.
    pub max_depth: usize,
    /// Most bytes of the payload written as compact JSON.
    pub max_bytes: usize,
}

impl Default for DataLimits {
    fn default() -> Self {
        Self {
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_bytes: Self::DEFAULT_MAX_BYTES,
        }
    }
}

/// Why a payload was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataLimitError {
    #[error("nests deeper than the limit of {limit} levels")]
    TooDeep { limit: usize },
    #[error("is larger than the limit of {limit} bytes (as JSON)")]
    TooLarge { limit: usize },
}

/// Why a payload given as JSON text was refused.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{0}")]
    Limit(#[from] DataLimitError),
    #[error("is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("must be a JSON object, got {0}")]
    NotObject(&'static str),
}

impl DataLimits {
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    pub const DEFAULT_MAX_BYTES: usize = 1 << 20;
    /// The highest depth that may be configured (see the module documentation).
    pub const MAX_DEPTH_CEILING: usize = 100;
    /// The highest size that may be configured: a whole instance state is read and written
    /// at every step, and it holds every payload it took in.
    pub const MAX_BYTES_CEILING: usize = 64 << 20;
    /// The most any configuration allows: what data already stored is read back with.
    pub const CEILING: Self = Self {
        max_depth: Self::MAX_DEPTH_CEILING,
        max_bytes: Self::MAX_BYTES_CEILING,
    };

    /// Limits within `1..=`[`Self::MAX_DEPTH_CEILING`] levels and `2..=`[`Self::MAX_BYTES_CEILING`]
    /// bytes (`{}` is 2 bytes).
    pub fn new(max_depth: usize, max_bytes: usize) -> Result<Self, String> {
        if !(1..=Self::MAX_DEPTH_CEILING).contains(&max_depth) {
            return Err(format!(
                "the data depth limit must be 1 to {} levels, not {max_depth}",
                Self::MAX_DEPTH_CEILING
            ));
        }
        if !(2..=Self::MAX_BYTES_CEILING).contains(&max_bytes) {
            return Err(format!(
                "the data size limit must be 2 to {} bytes, not {max_bytes}",
                Self::MAX_BYTES_CEILING
            ));
        }
        Ok(Self {
            max_depth,
            max_bytes,
        })
    }

    /// Checks one payload that is a JSON object (process data, output, input).
    pub fn check_object(&self, payload: &Map<String, Value>) -> Result<(), DataLimitError> {
        if self.max_depth < 1 {
            return Err(DataLimitError::TooDeep {
                limit: self.max_depth,
            });
        }
        if nests_deeper(Children::Object(payload.values()), self.max_depth) {
            return Err(DataLimitError::TooDeep {
                limit: self.max_depth,
            });
        }
        self.check_size(payload)
    }

    /// Checks a value that will sit in an object of process data (a declared default):
    /// counted with that object, so `default: [1]` is 2 levels deep, as `{"x": [1]}` is.
    pub fn check_member(&self, value: &Value) -> Result<(), DataLimitError> {
        let too_deep = match children(value) {
            None => self.max_depth < 1,
            Some(_) if self.max_depth < 2 => true,
            Some(inner) => nests_deeper(inner, self.max_depth - 1),
        };
        if too_deep {
            return Err(DataLimitError::TooDeep {
                limit: self.max_depth,
            });
        }
        self.check_size(value)
    }

    /// Reads a payload given as JSON text, which must be an object: its size is checked on the
    /// text, its depth before it is parsed (so a deep text fails with this limit, not the parser's).
    pub fn parse_object(&self, text: &str) -> Result<Map<String, Value>, PayloadError> {
        if text.len() > self.max_bytes {
            return Err(DataLimitError::TooLarge {
                limit: self.max_bytes,
            }
            .into());
        }
        if text_nests_deeper(text, self.max_depth) {
            return Err(DataLimitError::TooDeep {
                limit: self.max_depth,
            }
            .into());
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => {
                self.check_object(&map)?;
                Ok(map)
            }
            Ok(other) => Err(PayloadError::NotObject(crate::data_type::json_type_name(
                &other,
            ))),
            Err(e) => Err(PayloadError::NotJson(e)),
        }
    }

    /// Only after the depth check: serializing is recursive.
    fn check_size(&self, payload: &impl serde::Serialize) -> Result<(), DataLimitError> {
        let mut counter = ByteCounter {
            bytes: 0,
            limit: self.max_bytes,
        };
        serde_json::to_writer(&mut counter, payload).map_err(|_| DataLimitError::TooLarge {
            limit: self.max_bytes,
        })
    }
}

/// Counts the bytes written to it, refusing to go past `limit` (which stops the writer early).
struct ByteCounter {
    bytes: usize,
    limit: usize,
}

impl std::io::Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.bytes += buf.len();
        if self.bytes > self.limit {
            return Err(std::io::Error::other("over the size limit"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The members of an object or the items of a list.
enum Children<'a> {
    List(std::slice::Iter<'a, Value>),
    Object(serde_json::map::Values<'a>),
}

impl<'a> Iterator for Children<'a> {
    type Item = &'a Value;

    fn next(&mut self) -> Option<&'a Value> {
        match self {
            Self::List(items) => items.next(),
            Self::Object(values) => values.next(),
        }
    }
}

fn children(value: &Value) -> Option<Children<'_>> {
    match value {
        Value::Array(items) => Some(Children::List(items.iter())),
        Value::Object(map) => Some(Children::Object(map.values())),
        _ => None,
    }
}

/// Do the children of a container at level 1 nest deeper than `limit` levels in all? Walks
/// with a stack of iterators, one per level (never recursing, never holding more than `limit`).
fn nests_deeper(first: Children<'_>, limit: usize) -> bool {
    let mut levels = vec![first];
    while let Some(level) = levels.last_mut() {
        match level.next() {
            None => {
                levels.pop();
            }
            Some(child) => {
                if let Some(inner) = children(child) {
                    if levels.len() + 1 > limit {
                        return true;
                    }
                    levels.push(inner);
                }
            }
        }
    }
    false
}

/// Does JSON text open more than `limit` objects and lists inside each other? Brackets inside
/// strings do not count.
fn text_nests_deeper(text: &str, limit: usize) -> bool {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for byte in text.bytes() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `{"x": [[…[1]…]]}` nested `depth` levels in all.
    fn nested(depth: usize) -> Map<String, Value> {
        let mut value = json!(1);
        for _ in 1..depth {
            value = Value::Array(vec![value]);
        }
        let Value::Object(map) = json!({"x": value}) else {
            unreachable!()
        };
        map
    }

    #[test]
    fn depth_counts_every_object_and_list() {
        let limits = DataLimits::new(3, 1000).unwrap();
        assert_eq!(limits.check_object(&nested(3)), Ok(()));
        assert_eq!(
            limits.check_object(&nested(4)),
            Err(DataLimitError::TooDeep { limit: 3 })
        );
        let text = serde_json::to_string(&nested(4)).unwrap();
        assert!(matches!(
            limits.parse_object(&text),
            Err(PayloadError::Limit(DataLimitError::TooDeep { limit: 3 }))
        ));
        assert_eq!(
            limits
                .parse_object(&serde_json::to_string(&nested(3)).unwrap())
                .unwrap(),
            nested(3)
        );
    }

    #[test]
    fn brackets_inside_strings_do_not_nest() {
        let limits = DataLimits::new(1, 1000).unwrap();
        assert_eq!(
            limits.parse_object(r#"{"a": "[[[{{\"[", "b": 2}"#).unwrap(),
            json!({"a": "[[[{{\"[", "b": 2})
                .as_object()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn size_is_the_compact_json_and_the_limit_itself_is_allowed() {
        let payload = json!({"a": "xyz"}).as_object().unwrap().clone(); // {"a":"xyz"}: 11 bytes
        assert_eq!(
            DataLimits::new(5, 11).unwrap().check_object(&payload),
            Ok(())
        );
        assert_eq!(
            DataLimits::new(5, 10).unwrap().check_object(&payload),
            Err(DataLimitError::TooLarge { limit: 10 })
        );
        // Text is checked as given: spaces count there.
        assert!(matches!(
            DataLimits::new(5, 11)
                .unwrap()
                .parse_object(r#"{"a": "xyz"}"#),
            Err(PayloadError::Limit(DataLimitError::TooLarge { limit: 11 }))
        ));
    }

    #[test]
    fn a_default_counts_with_the_data_object_that_holds_it() {
        let limits = DataLimits::new(2, 1000).unwrap();
        assert_eq!(limits.check_member(&json!(1)), Ok(()));
        assert_eq!(limits.check_member(&json!([1])), Ok(()));
        assert_eq!(
            limits.check_member(&json!([[1]])),
            Err(DataLimitError::TooDeep { limit: 2 })
        );
    }

    #[test]
    fn limits_outside_their_range_are_refused() {
        assert_eq!(
            DataLimits::new(0, 100),
            Err("the data depth limit must be 1 to 100 levels, not 0".into())
        );
        assert_eq!(
            DataLimits::new(101, 100),
            Err("the data depth limit must be 1 to 100 levels, not 101".into())
        );
        assert_eq!(
            DataLimits::new(64, 1),
            Err("the data size limit must be 2 to 67108864 bytes, not 1".into())
        );
        assert_eq!(DataLimits::new(64, 1 << 20), Ok(DataLimits::default()));
    }

    #[test]
    fn the_walk_is_not_recursive_so_a_very_deep_value_is_refused_not_a_crash() {
        // Built and dropped by hand: serde_json's own drop of such a value would recurse.
        let mut value = json!(1);
        for _ in 0..200_000 {
            value = Value::Array(vec![value]);
        }
        let map: Map<String, Value> = [("x".to_owned(), value)].into_iter().collect();
        assert_eq!(
            DataLimits::default().check_object(&map),
            Err(DataLimitError::TooDeep { limit: 64 })
        );
        std::mem::forget(map);
    }
}
