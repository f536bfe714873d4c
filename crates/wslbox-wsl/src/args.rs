//! Rewriting `-d OLD` / `--distribution OLD` in command lines (shortcut arguments, Terminal
//! `commandline` values) when a distribution is renamed.
//!
//! Only the name token is replaced, so everything else in the line keeps its exact spelling.

/// Returns the command line with every `-d OLD` / `--distribution OLD` naming `old`
/// (case-insensitively, optionally quoted) pointed at `new`, or `None` when nothing matched.
pub fn rewrite_distribution_args(line: &str, old: &str, new: &str) -> Option<String> {
    let tokens = tokenize(line);
    let mut out = String::with_capacity(line.len());
    let mut last = 0;
    let mut changed = false;
    for pair in tokens.windows(2) {
        let (flag, value) = (&pair[0], &pair[1]);
        let flag_text = &line[flag.0..flag.1];
        if !matches!(flag_text, "-d" | "--distribution") {
            continue;
        }
        let raw = &line[value.0..value.1];
        let unquoted = raw.trim_matches('"');
        if crate::names::same_name(unquoted, old) {
            out.push_str(&line[last..value.0]);
            // Valid names never need quoting; keep the quotes if the user had them.
            if raw.starts_with('"') {
                out.push('"');
                out.push_str(new);
                out.push('"');
            } else {
                out.push_str(new);
            }
            last = value.1;
            changed = true;
        }
    }
    if !changed {
        return None;
    }
    out.push_str(&line[last..]);
    Some(out)
}

/// Whitespace-separated tokens as byte spans; double quotes group spaces.
fn tokenize(line: &str) -> Vec<(usize, usize)> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut quoted = false;
    for (i, c) in line.char_indices() {
        match (c, start) {
            ('"', _) => {
                quoted = !quoted;
                start.get_or_insert(i);
            }
            (c, Some(s)) if c.is_whitespace() && !quoted => {
                tokens.push((s, i));
                start = None;
            }
            (c, None) if !c.is_whitespace() => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        tokens.push((s, line.len()));
    }
    tokens
}

/// 1-based line numbers of `text` that mention `name` as a whole word (case-insensitively).
pub fn lines_mentioning(text: &str, name: &str) -> Vec<usize> {
    let needle = name.to_lowercase();
    let is_name_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let lower = line.to_lowercase();
            lower.match_indices(&needle).any(|(at, m)| {
                let before = lower[..at].chars().next_back();
                let after = lower[at + m.len()..].chars().next();
                !before.is_some_and(is_name_char) && !after.is_some_and(is_name_char)
            })
        })
        .map(|(i, _)| i + 1)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_flag_rewritten_rest_untouched() {
        assert_eq!(
            rewrite_distribution_args("-d Old  --cd ~", "old", "New").as_deref(),
            Some("-d New  --cd ~")
        );
    }

    #[test]
    fn long_flag_and_quoted_value_rewritten() {
        assert_eq!(
            rewrite_distribution_args(r#"wsl.exe --distribution "Old" -u root"#, "Old", "New")
                .as_deref(),
            Some(r#"wsl.exe --distribution "New" -u root"#)
        );
    }

    #[test]
    fn other_distribution_and_id_args_left_alone() {
        assert_eq!(
            rewrite_distribution_args("-d Older --cd ~", "Old", "New"),
            None
        );
        assert_eq!(
            rewrite_distribution_args("--distribution-id {1234} --cd ~", "Old", "New"),
            None
        );
        assert_eq!(rewrite_distribution_args("echo Old", "Old", "New"), None);
    }

    #[test]
    fn whole_word_mentions_found() {
        let text = "[wsl2]\nmemory=4GB\n# Old-dev is big\n# old\nOldish=1\n";
        assert_eq!(lines_mentioning(text, "old"), vec![4]);
        assert_eq!(lines_mentioning(text, "Old-dev"), vec![3]);
    }
}
