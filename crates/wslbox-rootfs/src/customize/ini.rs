//! Minimal INI editing for `/etc/wsl.conf` and `/etc/wsl-distribution.conf` that keeps every
//! byte it does not need to change: comments, blank lines, key order and unknown sections.

/// An INI document as lines; edits replace or insert whole lines.
#[derive(Clone)]
pub(crate) struct Ini {
    lines: Vec<Vec<u8>>,
}

/// [`Ini::set`] was given a line break, which would inject a key or section.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct LineBreak {
    pub section: String,
    pub key: String,
}

impl std::fmt::Display for LineBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the value for [{}] {} contains a line break",
            self.section, self.key
        )
    }
}

enum Line<'a> {
    Section(&'a [u8]),
    Key(&'a [u8]),
    Other,
}

fn classify(line: &[u8]) -> Line<'_> {
    let t = line.trim_ascii();
    if t.first() == Some(&b'[') {
        if let Some(end) = t.iter().position(|&b| b == b']') {
            return Line::Section(t[1..end].trim_ascii());
        }
        return Line::Other;
    }
    if t.is_empty() || t[0] == b'#' || t[0] == b';' {
        return Line::Other;
    }
    match t.iter().position(|&b| b == b'=') {
        Some(eq) => Line::Key(t[..eq].trim_ascii()),
        None => Line::Other,
    }
}

impl Ini {
    pub fn parse(data: &[u8]) -> Self {
        let body = data.strip_suffix(b"\n").unwrap_or(data);
        let lines = if data.is_empty() {
            Vec::new()
        } else {
            body.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect()
        };
        Self { lines }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = self.lines.join(&b'\n');
        if !self.lines.is_empty() {
            // A file without a final newline gets one as soon as we write to it.
            out.push(b'\n');
        }
        out
    }

    /// Line index ranges `[header, end)` of every section named `section` (case-insensitive,
    /// as WSL's parser is).
    fn sections(&self, section: &str) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        let mut current: Option<usize> = None;
        for (i, line) in self.lines.iter().enumerate() {
            if let Line::Section(name) = classify(line) {
                if let Some(start) = current.take() {
                    found.push((start, i));
                }
                if name.eq_ignore_ascii_case(section.as_bytes()) {
                    current = Some(i);
                }
            }
        }
        if let Some(start) = current {
            found.push((start, self.lines.len()));
        }
        found
    }

    /// The value of the last `key` in `section` (trimmed), if any.
    pub fn get(&self, section: &str, key: &str) -> Option<String> {
        let mut value = None;
        for (start, end) in self.sections(section) {
            for line in &self.lines[start + 1..end] {
                if let Line::Key(k) = classify(line)
                    && k.eq_ignore_ascii_case(key.as_bytes())
                {
                    let eq = line.iter().position(|&b| b == b'=').unwrap_or(0);
                    value = Some(String::from_utf8_lossy(line[eq + 1..].trim_ascii()).into_owned());
                }
            }
        }
        value
    }

    /// Sets `key` in `section`: every existing occurrence is rewritten (so first-wins and
    /// last-wins parsers agree), else the key is added after the section's last key, else a new
    /// section is appended. `sep` is the separator written, e.g. `=` or ` = `.
    ///
    /// Refuses a line break in any part, which would start a new key or section.
    pub fn set(
        &mut self,
        section: &str,
        key: &str,
        value: &str,
        sep: &str,
    ) -> Result<(), LineBreak> {
        if [section, key, value, sep]
            .iter()
            .any(|s| s.contains(['\n', '\r']))
        {
            return Err(LineBreak {
                section: section.into(),
                key: key.into(),
            });
        }
        let new_line = format!("{key}{sep}{value}").into_bytes();
        let sections = self.sections(section);
        let mut replaced = false;
        for &(start, end) in &sections {
            for line in &mut self.lines[start + 1..end] {
                if let Line::Key(k) = classify(line)
                    && k.eq_ignore_ascii_case(key.as_bytes())
                {
                    *line = new_line.clone();
                    replaced = true;
                }
            }
        }
        if replaced {
            return Ok(());
        }
        if let Some(&(start, end)) = sections.last() {
            let last_key = (start + 1..end)
                .rev()
                .find(|&i| matches!(classify(&self.lines[i]), Line::Key(_)));
            self.lines.insert(last_key.unwrap_or(start) + 1, new_line);
            return Ok(());
        }
        if self
            .lines
            .last()
            .is_some_and(|l| !l.trim_ascii().is_empty())
        {
            self.lines.push(Vec::new());
        }
        self.lines.push(format!("[{section}]").into_bytes());
        self.lines.push(new_line);
        Ok(())
    }

    /// Removes every `key` in `section`; returns whether any was there.
    pub fn remove(&mut self, section: &str, key: &str) -> bool {
        let mut doomed: Vec<usize> = Vec::new();
        for (start, end) in self.sections(section) {
            doomed.extend((start + 1..end).filter(|&i| {
                matches!(classify(&self.lines[i]), Line::Key(k) if k.eq_ignore_ascii_case(key.as_bytes()))
            }));
        }
        for &i in doomed.iter().rev() {
            self.lines.remove(i);
        }
        !doomed.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] = b"# image's own settings\n[boot]\n  command = service ssh start # keep\n\n; interop\n[interop]\nappendWindowsPath=false\n";

    #[test]
    fn set_adds_key_to_existing_section_after_its_last_key() {
        let mut ini = Ini::parse(SAMPLE);
        ini.set("boot", "systemd", "true", "=").unwrap();
        assert_eq!(
            ini.to_bytes(),
            b"# image's own settings\n[boot]\n  command = service ssh start # keep\nsystemd=true\n\n; interop\n[interop]\nappendWindowsPath=false\n"
        );
    }

    #[test]
    fn set_replaces_existing_value_in_place() {
        let mut ini = Ini::parse(b"[user]\ndefault = root\nx=1\n[User]\ndefault=bob\n");
        ini.set("user", "default", "alice", "=").unwrap();
        assert_eq!(
            ini.to_bytes(),
            b"[user]\ndefault=alice\nx=1\n[User]\ndefault=alice\n"
        );
        assert_eq!(ini.get("user", "default").as_deref(), Some("alice"));
    }

    #[test]
    fn set_appends_new_section_separated_by_a_blank_line() {
        let mut ini = Ini::parse(b"[boot]\nsystemd=false");
        ini.set("network", "hostname", "box", "=").unwrap();
        assert_eq!(
            ini.to_bytes(),
            b"[boot]\nsystemd=false\n\n[network]\nhostname=box\n"
        );
    }

    #[test]
    fn empty_file_gets_just_the_section() {
        let mut ini = Ini::parse(b"");
        ini.set("user", "default", "alice", "=").unwrap();
        assert_eq!(ini.to_bytes(), b"[user]\ndefault=alice\n");
    }

    #[test]
    fn untouched_document_round_trips_byte_for_byte() {
        assert_eq!(Ini::parse(SAMPLE).to_bytes(), SAMPLE);
    }

    #[test]
    fn line_break_in_a_value_cannot_inject_a_key() {
        let mut ini = Ini::parse(SAMPLE);
        for value in ["x\n[user]\ndefault=root", "x\rdefault=root"] {
            assert!(ini.set("network", "hostname", value, "=").is_err());
        }
        assert_eq!(ini.to_bytes(), SAMPLE);
    }

    #[test]
    fn remove_drops_only_that_key() {
        let mut ini = Ini::parse(b"[user]\ndefault=bob\n# c\nother=1\n");
        assert!(ini.remove("user", "default"));
        assert_eq!(ini.to_bytes(), b"[user]\n# c\nother=1\n");
        assert!(!ini.remove("user", "default"));
    }
}
