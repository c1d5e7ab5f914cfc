//! The board's cards as a CSV table, one row per card, for spreadsheets and BI tools.

use client_protocol::schema::Board;

use super::common::{grid_order, timestamp, Placed};

/// The header row, in column order.
const HEADER: [&str; 14] = [
    "card_id",
    "stage",
    "lane",
    "lane_kind",
    "text",
    "author",
    "team",
    "color",
    "priority",
    "votes",
    "comments",
    "created_at",
    "updated_at",
    "key_touchpoint",
];

/// Renders every card of `board` as one CSV row (header: `card_id, stage, lane, lane_kind, text,
/// author, team, color, priority, votes, comments, created_at, updated_at, key_touchpoint`).
///
/// Stage and lane are given by name (empty when the card's stage or lane no longer exists);
/// `votes` is the total of dot votes and `comments` the number of comments; timestamps are
/// RFC 3339 in UTC; `key_touchpoint` is `true` on the board's key touchpoint. Rows follow the
/// board's order: stage by stage, lane by lane, cell order within a cell, then cards outside
/// the grid. Quoting of commas, quotes and line breaks in the text is left to the `csv` writer.
pub fn csv(board: &Board) -> Result<String, ::csv::Error> {
    let mut out = ::csv::Writer::from_writer(Vec::new());
    out.write_record(HEADER)?;
    for Placed { card, stage, lane } in grid_order(board) {
        let stage = stage.map_or("", |(_, name)| name);
        let lane = lane.map(|(_, lane)| lane);
        let is_key = board.meta.key_touchpoint.as_deref() == Some(card.id.as_str());
        let (id, stage, lane_title, lane_kind) = (
            guard(&card.id),
            guard(stage),
            guard(lane.map_or("", |l| l.title.as_str())),
            guard(lane.map_or("", |l| l.kind.as_str())),
        );
        let (text, author, team, color) = (
            guard(&card.text),
            guard(&card.author),
            guard(&card.team),
            guard(&card.color),
        );
        out.write_record([
            &*id,
            &stage,
            &lane_title,
            &lane_kind,
            &text,
            &author,
            &team,
            &color,
            card.priority.map_or("", |p| p.as_str()),
            &card.vote_total().to_string(),
            &card.comments.len().to_string(),
            &timestamp(card.created_at),
            &timestamp(card.updated_at),
            if is_key { "true" } else { "false" },
        ])?;
    }
    let bytes = out.into_inner().map_err(|e| e.into_error())?;
    // The writer only copies bytes of `&str` fields and ASCII separators, so this cannot fail;
    // an error is still an error rather than a panic.
    String::from_utf8(bytes)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e).into())
}

/// Defuses CSV formula injection ("CSV injection", OWASP): a spreadsheet runs a cell that
/// starts with `=`, `+`, `-` or `@` as a formula (`=HYPERLINK(…)`, `=cmd|…` DDE payloads), and
/// some also after a leading tab or carriage return. Prefixing such a user-typed cell with `'`
/// makes every spreadsheet treat it as text; the apostrophe is visible in other tools, which is
/// the accepted price. Every string that comes from the document is guarded, ids and lane kinds
/// included (a JavaScript client may write any string there); numbers, dates and booleans are
/// ours, and a spreadsheet reading `-1` as the number −1 is exactly what we want.
fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

#[cfg(test)]
mod tests {
    use super::guard;

    #[test]
    fn cells_that_a_spreadsheet_would_run_as_formulas_get_a_leading_apostrophe() {
        for bad in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(guard(bad), format!("'{bad}"));
        }
        for fine in ["", "a = b", "1+1", "'quoted", " =x"] {
            assert_eq!(guard(fine), fine);
        }
    }
}
