//! Text tables as docker prints them: columns padded to their widest cell, two spaces apart.

/// Renders `header` and `rows` (each as long as `header`).
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: &mut dyn Iterator<Item = &str>| {
        let line: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    };
    push_row(&mut header.iter().copied());
    for row in rows {
        push_row(&mut row.iter().map(String::as_str));
    }
    out
}

/// `sha256:0123456789ab` (12 hex digits, like docker).
pub fn short_digest(digest: &str) -> &str {
    let cut = digest.find(':').map_or(0, |i| i + 1) + 12;
    &digest[..cut.min(digest.len())]
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_align_to_the_widest_cell() {
        let text = super::render(
            &["A", "LONG HEADER", "C"],
            &[
                vec!["wide cell".into(), "x".into(), "".into()],
                vec!["y".into(), "z".into(), "last".into()],
            ],
        );
        assert_eq!(
            text,
            "A          LONG HEADER  C\nwide cell  x\ny          z            last\n"
        );
    }
}
