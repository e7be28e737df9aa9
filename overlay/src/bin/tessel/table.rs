//! Aligned text tables for the human output of the CLI: a header row in
//! capitals, then one row per item, each column as wide as its widest
//! cell, two spaces between columns, no trailing blanks. Widths count
//! characters, not bytes (node IDs and paths are ASCII; `…` and `µ` are
//! one character each).

/// Rows of cells under a header.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column names.
    pub(crate) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_uppercase()).collect(),
            rows: Vec::new(),
        }
    }

    /// A table without a header: label and value pairs, say.
    pub(crate) fn plain() -> Self {
        Self {
            header: Vec::new(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra cells are kept).
    pub(crate) fn row<S: Into<String>>(&mut self, cells: impl IntoIterator<Item = S>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    /// The table as lines.
    pub(crate) fn lines(&self) -> Vec<String> {
        let all: Vec<&Vec<String>> = std::iter::once(&self.header)
            .filter(|h| !h.is_empty())
            .chain(&self.rows)
            .collect();
        let columns = all.iter().map(|r| r.len()).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                all.iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        all.iter()
            .map(|r| {
                let mut line = String::new();
                for (c, cell) in r.iter().enumerate() {
                    if c > 0 {
                        line.push_str("  ");
                    }
                    line.push_str(cell);
                    let pad = widths[c].saturating_sub(cell.chars().count());
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                line.trim_end().to_owned()
            })
            .collect()
    }

    /// Prints the table to stdout.
    pub(crate) fn print(&self) {
        for line in self.lines() {
            println!("{line}");
        }
    }
}

/// One row of `cells` padded to `widths`, for rows printed as they come
/// (ping replies); a cell wider than its column pushes the rest along.
pub(crate) fn fixed_line(cells: &[&str], widths: &[usize]) -> String {
    let mut line = String::new();
    for (c, cell) in cells.iter().enumerate() {
        if c > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        let width = widths.get(c).copied().unwrap_or(0);
        line.extend(std::iter::repeat_n(
            ' ',
            width.saturating_sub(cell.chars().count()),
        ));
    }
    line.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::{fixed_line, Table};

    #[test]
    fn fixed_lines_keep_their_columns() {
        let w = [3, 6, 0];
        assert_eq!(fixed_line(&["SEQ", "RTT", "PATH"], &w), "SEQ  RTT     PATH");
        assert_eq!(
            fixed_line(&["1", "0.5 ms", "direct"], &w),
            "1    0.5 ms  direct"
        );
        assert_eq!(fixed_line(&["10", "123.5 ms", "x"], &w), "10   123.5 ms  x");
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let mut t = Table::new(&["node", "rtt"]);
        t.row(["tessel-node-a", "1.5 ms"]);
        t.row(["b", "12.25 ms"]);
        t.row(["c…", ""]);
        assert_eq!(
            t.lines(),
            [
                "NODE           RTT",
                "tessel-node-a  1.5 ms",
                "b              12.25 ms",
                "c…",
            ]
        );
    }

    #[test]
    fn a_plain_table_has_no_header_and_rows_may_differ_in_length() {
        let mut t = Table::plain();
        t.row(["node", "tessel-node-a"]);
        t.row(["last seen", "3s ago", "(direct)"]);
        assert_eq!(
            t.lines(),
            [
                "node       tessel-node-a",
                "last seen  3s ago         (direct)"
            ]
        );
    }
}
