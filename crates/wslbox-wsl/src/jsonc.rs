//! A token-level editor for JSON with comments (Windows Terminal's `settings.json` and
//! fragments).
//!
//! Parsing and re-serializing would drop comments and may reorder keys, so instead the text is
//! parsed only to find byte spans, and edits replace the spans of single string values. Every
//! other byte of the file is kept as it was. Accepts `//` and `/* */` comments and trailing
//! commas, as Windows Terminal does.

use std::ops::Range;

/// The file is not JSON-with-comments we can edit safely.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid JSON at line {line}, column {column}: {message}")]
pub struct JsoncError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed value and where it sits in the source.
#[derive(Debug)]
pub struct Node {
    pub span: Range<usize>,
    pub kind: Kind,
}

#[derive(Debug)]
pub enum Kind {
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
    /// A string, decoded.
    String(String),
    /// Numbers, `true`, `false`, `null`.
    Scalar,
}

impl Node {
    /// The member `key` of an object.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.kind {
            Kind::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.kind {
            Kind::String(s) => Some(s),
            _ => None,
        }
    }

    /// Calls `f` on every object in the tree, outermost first.
    pub fn visit_objects<'a>(&'a self, f: &mut impl FnMut(&'a Node)) {
        match &self.kind {
            Kind::Object(members) => {
                f(self);
                members.iter().for_each(|(_, v)| v.visit_objects(f));
            }
            Kind::Array(items) => items.iter().for_each(|v| v.visit_objects(f)),
            _ => {}
        }
    }
}

/// Parses a whole document.
pub fn parse(src: &str) -> Result<Node, JsoncError> {
    let mut p = Parser { src, pos: 0 };
    p.skip_trivia()?;
    let node = p.value(0)?;
    p.skip_trivia()?;
    if p.pos != src.len() {
        return Err(p.error("unexpected text after the top-level value"));
    }
    Ok(node)
}

/// Replaces byte spans with new text. Spans must not overlap.
pub fn apply_edits(src: &str, mut edits: Vec<(Range<usize>, String)>) -> String {
    edits.sort_by_key(|(r, _)| std::cmp::Reverse(r.start));
    let mut out = src.to_owned();
    for (range, text) in edits {
        out.replace_range(range, &text);
    }
    out
}

/// A JSON string literal for `s`.
pub fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
}

const MAX_DEPTH: usize = 128;

impl Parser<'_> {
    fn error(&self, message: &str) -> JsoncError {
        let before = &self.src[..self.pos.min(self.src.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        JsoncError {
            line,
            column,
            message: message.to_owned(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn skip_trivia(&mut self) -> Result<(), JsoncError> {
        loop {
            let rest = &self.src[self.pos..];
            if let Some(c) = rest
                .chars()
                .next()
                .filter(|c| c.is_whitespace() || *c == '\u{feff}')
            {
                self.pos += c.len_utf8();
            } else if rest.starts_with("//") {
                self.pos += rest.find('\n').unwrap_or(rest.len());
            } else if let Some(body) = rest.strip_prefix("/*") {
                let end = body
                    .find("*/")
                    .ok_or_else(|| self.error("unterminated /* comment"))?;
                self.pos += end + 4;
            } else {
                return Ok(());
            }
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, JsoncError> {
        if depth > MAX_DEPTH {
            return Err(self.error("nesting too deep"));
        }
        let start = self.pos;
        let kind = match self.peek() {
            Some(b'{') => Kind::Object(self.members(depth)?),
            Some(b'[') => Kind::Array(self.items(depth)?),
            Some(b'"') => Kind::String(self.string()?),
            Some(c) if c == b'-' || c.is_ascii_alphanumeric() => {
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || b"+-.".contains(&c))
                {
                    self.pos += 1;
                }
                let word = &self.src[start..self.pos];
                if !matches!(word, "true" | "false" | "null") && word.parse::<f64>().is_err() {
                    self.pos = start;
                    return Err(self.error(&format!("unexpected `{word}`")));
                }
                Kind::Scalar
            }
            Some(_) => return Err(self.error("expected a value")),
            None => return Err(self.error("unexpected end of file")),
        };
        Ok(Node {
            span: start..self.pos,
            kind,
        })
    }

    fn expect(&mut self, c: u8) -> Result<(), JsoncError> {
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected `{}`", c as char)))
        }
    }

    /// After an item: `,` (a trailing one is allowed) or the closing bracket.
    /// Returns true when the container is closed.
    fn after_item(&mut self, close: u8) -> Result<bool, JsoncError> {
        self.skip_trivia()?;
        if self.peek() == Some(b',') {
            self.pos += 1;
            self.skip_trivia()?;
        } else if self.peek() != Some(close) {
            return Err(self.error(&format!("expected `,` or `{}`", close as char)));
        }
        if self.peek() == Some(close) {
            self.pos += 1;
            return Ok(true);
        }
        Ok(false)
    }

    fn members(&mut self, depth: usize) -> Result<Vec<(String, Node)>, JsoncError> {
        self.expect(b'{')?;
        self.skip_trivia()?;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(members);
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_trivia()?;
            self.expect(b':')?;
            self.skip_trivia()?;
            members.push((key, self.value(depth + 1)?));
            if self.after_item(b'}')? {
                return Ok(members);
            }
        }
    }

    fn items(&mut self, depth: usize) -> Result<Vec<Node>, JsoncError> {
        self.expect(b'[')?;
        self.skip_trivia()?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(items);
        }
        loop {
            items.push(self.value(depth + 1)?);
            if self.after_item(b']')? {
                return Ok(items);
            }
        }
    }

    fn string(&mut self) -> Result<String, JsoncError> {
        let start = self.pos;
        self.pos += 1;
        let bytes = self.src.as_bytes();
        loop {
            match bytes.get(self.pos) {
                None => {
                    self.pos = start;
                    return Err(self.error("unterminated string"));
                }
                Some(b'\\') => self.pos += 2,
                Some(b'"') => break,
                Some(_) => self.pos += 1,
            }
        }
        self.pos += 1;
        serde_json::from_str(&self.src[start..self.pos]).map_err(|e| {
            let at = self.pos;
            self.pos = start;
            let err = self.error(&format!("bad string literal: {e}"));
            self.pos = at;
            err
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"// Terminal settings
{
    "$schema": "https://aka.ms/terminal-profiles-schema",
    /* keep me */
    "profiles": {
        "list": [
            { "guid": "{a}", "name": "Old", // trailing comment
              "commandline": "wsl.exe -d Old", "hidden": false, "n": -1.5e3, },
        ],
    },
}
"#;

    #[test]
    fn comments_and_trailing_commas_parsed() {
        let root = parse(SAMPLE).unwrap();
        let list = root.get("profiles").unwrap().get("list").unwrap();
        let Kind::Array(items) = &list.kind else {
            panic!("list is not an array")
        };
        assert_eq!(items[0].get("name").unwrap().as_str(), Some("Old"));
        assert_eq!(&SAMPLE[items[0].get("n").unwrap().span.clone()], "-1.5e3");
    }

    #[test]
    fn edit_replaces_only_the_value() {
        let root = parse(SAMPLE).unwrap();
        let mut objects = Vec::new();
        root.visit_objects(&mut |o| objects.push(o));
        let profile = objects.iter().find(|o| o.get("guid").is_some()).unwrap();
        let span = profile.get("name").unwrap().span.clone();
        let out = apply_edits(SAMPLE, vec![(span, quote("Ne\"w"))]);
        assert_eq!(
            out,
            SAMPLE.replace(r#""name": "Old""#, r#""name": "Ne\"w""#)
        );
        assert!(parse(&out).is_ok());
    }

    #[test]
    fn escaped_strings_decoded() {
        let root = parse(r#"{"a\"b": "x\\y\u00e9"}"#).unwrap();
        assert_eq!(root.get("a\"b").unwrap().as_str(), Some("x\\yé"));
    }

    #[test]
    fn malformed_input_reports_position() {
        let err = parse("{\n  \"a\": tru\n}").unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
        assert!(parse("{\"a\": 1} x").is_err());
        assert!(parse("{\"a\": /* open").is_err());
        assert!(parse("[1 2]").is_err());
    }
}
