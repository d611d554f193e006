//! Plain-text tables: a header row and left-aligned columns separated by two spaces, as
//! `kubectl get` prints them.

/// Renders `rows` under `header`, each column as wide as its widest cell.
pub(crate) fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut text = String::new();
        for (i, (cell, width)) in cells.zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(cell);
            text.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(text.trim_end());
        out.push('\n');
    };
    line(&mut header.iter().copied());
    for row in rows {
        line(&mut row.iter().map(String::as_str));
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let text = super::render(
            &["PEER", "CALLS"],
            &[
                vec!["tcp://127.0.0.1:9".into(), "3".into()],
                vec!["x".into(), "12345".into()],
            ],
        );
        assert_eq!(
            text,
            "PEER               CALLS\ntcp://127.0.0.1:9  3\nx                  12345\n"
        );
    }
}
