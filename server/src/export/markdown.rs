//! The board as a Markdown document a CX committee reads top to bottom: what the map is, who
//! walks it, then each stage with its emotion, its metrics and the cards of each lane.

use std::fmt::Write as _;

use client_protocol::schema::{Board, Card, Stage};

use super::common::{
    date, emotion_emoji, grid_order, number, persona_fields, priority_index, signed, Labels, Placed,
};

/// Renders `board` as a Markdown document: title, map kind and journey type, description,
/// personas, then every stage in order with its description, emotion score, metrics and the
/// cards of each lane (text, author, team, votes, comments), the key touchpoint flagged.
///
/// All text typed by users is escaped, so a card cannot add headings, links, lists or HTML to
/// the document: Markdown viewers often render inline HTML, and a committee pack is exactly
/// the kind of file that gets pasted into a wiki.
pub fn markdown(board: &Board) -> String {
    let l = Labels::for_lang(board.meta.lang);
    let mut out = String::new();
    let title = one_line(&board.meta.title);
    let title = if title.is_empty() {
        l.untitled.to_owned()
    } else {
        title
    };
    let _ = writeln!(out, "# {title}\n");

    let mut facts = vec![
        format!(
            "**{}:** {}",
            l.map_kind,
            esc(l.map_kind_name(&board.meta.map_kind))
        ),
        format!(
            "**{}:** {}",
            l.journey_type,
            esc(l.journey_type_name(&board.meta.journey_type))
        ),
    ];
    if board.meta.updated_at > 0 {
        facts.push(format!(
            "**{}:** {}",
            l.updated,
            date(board.meta.updated_at)
        ));
    }
    let _ = writeln!(out, "{}\n", facts.join(" · "));

    push_paragraph(&mut out, &board.meta.description);

    if let Some(key) = key_touchpoint(board) {
        let place = [
            board.stage(&key.stage).map(|s| one_line(&s.name)),
            board.lane(&key.lane).map(|la| one_line(&la.title)),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" › ");
        let first_line = key
            .text
            .lines()
            .find(|s| !s.trim().is_empty())
            .unwrap_or("");
        let _ = write!(out, "⭐ **{}:** {}", l.key_touchpoint, one_line(first_line));
        if !place.is_empty() {
            let _ = write!(out, " ({place})");
        }
        out.push_str("\n\n");
    }

    if !board.personas.is_empty() {
        let _ = writeln!(out, "## {}\n", l.personas);
        for persona in &board.personas {
            let name = one_line(&persona.name);
            let name = if name.is_empty() {
                l.persona.to_owned()
            } else {
                name
            };
            let _ = writeln!(out, "### {name}\n");
            let mut any = false;
            for (i, value) in persona_fields(persona) {
                let _ = writeln!(
                    out,
                    "- **{}:** {}",
                    l.persona_fields[i],
                    lines(value).join("\\\n  ")
                );
                any = true;
            }
            if any {
                out.push('\n');
            }
        }
    }

    if !board.stages.is_empty() {
        let _ = writeln!(out, "## {}\n", l.stages);
    }
    let order = grid_order(board);
    let in_grid = order.iter().take_while(|p| p.in_grid()).count();
    let (mut rest, unplaced) = order.split_at(in_grid);
    for (i, stage) in board.stages.iter().enumerate() {
        let here = rest
            .iter()
            .take_while(|p| p.stage.is_some_and(|(s, _)| s == i))
            .count();
        push_stage(&mut out, board, stage, i + 1, &rest[..here], l);
        rest = &rest[here..];
    }

    if !unplaced.is_empty() {
        let _ = writeln!(out, "## {}\n", l.unplaced);
        for p in unplaced {
            push_card(&mut out, board, p.card, l);
        }
        out.push('\n');
    }

    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// One stage: heading, description, emotion, metrics, then the cards of its non-empty lanes
/// (`cards`: the stage's cards in [`grid_order`]).
fn push_stage(
    out: &mut String,
    board: &Board,
    stage: &Stage,
    n: usize,
    cards: &[Placed<'_>],
    l: &Labels,
) {
    let _ = writeln!(out, "### {n}. {}\n", one_line(&stage.name));
    push_paragraph(out, &stage.description);
    match stage.emotion {
        Some(score) => {
            let _ = writeln!(
                out,
                "**{}:** {} {} ({})\n",
                l.emotion,
                emotion_emoji(score),
                signed(score),
                l.emotion_word(score)
            );
        }
        None => {
            let _ = writeln!(out, "**{}:** *{}*\n", l.emotion, l.not_scored);
        }
    }
    if !stage.metrics.is_empty() {
        let _ = writeln!(out, "**{}**\n", l.metrics);
        for metric in &stage.metrics {
            let _ = write!(
                out,
                "- {}: {}",
                one_line(&metric.name),
                number(metric.value)
            );
            let unit = one_line(&metric.unit);
            if !unit.is_empty() {
                let _ = write!(out, " {unit}");
            }
            if let Some(target) = metric.target {
                let _ = write!(out, " ({}: {}", l.target, number(target));
                if !unit.is_empty() {
                    let _ = write!(out, " {unit}");
                }
                out.push(')');
            }
            out.push('\n');
        }
        out.push('\n');
    }
    for cell in cards.chunk_by(|a, b| a.lane.map(|l| l.0) == b.lane.map(|l| l.0)) {
        if let Some((_, lane)) = cell[0].lane {
            let _ = writeln!(out, "#### {}\n", one_line(&lane.title));
        }
        for p in cell {
            push_card(out, board, p.card, l);
        }
        out.push('\n');
    }
    if cards.is_empty() {
        let _ = writeln!(out, "*{}*\n", l.no_cards);
    }
}

/// One card as a bullet: its text (line breaks kept), a line of who/which team/how many votes,
/// and its comments as a nested list.
fn push_card(out: &mut String, board: &Board, card: &Card, l: &Labels) {
    let is_key = board.meta.key_touchpoint.as_deref() == Some(card.id.as_str());
    out.push_str("- ");
    if is_key {
        let _ = write!(out, "⭐ **{}:** ", l.key_touchpoint);
    }
    let text = lines(&card.text);
    if text.is_empty() {
        out.push_str("*(…)*");
    } else {
        out.push_str(&text.join("\\\n  "));
    }

    let mut facts = Vec::new();
    let author = one_line(&card.author);
    if !author.is_empty() {
        facts.push(format!("{} {author}", l.by));
    }
    let team = one_line(&card.team);
    if !team.is_empty() {
        facts.push(team);
    }
    let votes = card.vote_total();
    if votes != 0 {
        let word = if votes.abs() == 1 { l.vote } else { l.votes };
        facts.push(format!("{votes} {word}"));
    }
    if let Some(priority) = card.priority {
        facts.push(format!(
            "{}: {}",
            l.priority,
            l.priorities[priority_index(priority)]
        ));
    }
    for (emoji, who) in &card.reactions {
        if !who.is_empty() {
            facts.push(format!("{} {}", one_line(emoji), who.len()));
        }
    }
    if !facts.is_empty() {
        let _ = write!(out, "\\\n  *{}*", facts.join(" · "));
    }
    out.push('\n');

    for comment in &card.comments {
        let author = one_line(&comment.author);
        out.push_str("  - ");
        if !author.is_empty() {
            let _ = write!(out, "**{author}:** ");
        }
        out.push_str(&lines(&comment.text).join("\\\n    "));
        out.push('\n');
    }
}

/// The card the board flags as its key touchpoint, if it exists.
fn key_touchpoint(board: &Board) -> Option<&Card> {
    board.card(board.meta.key_touchpoint.as_deref()?)
}

/// A multi-line user text as a paragraph (lines joined with hard breaks), then a blank line.
fn push_paragraph(out: &mut String, text: &str) {
    let text = lines(text);
    if !text.is_empty() {
        let _ = writeln!(out, "{}\n", text.join("\\\n"));
    }
}

/// A single-line field (title, name): line breaks become spaces, then escaped.
fn one_line(s: &str) -> String {
    let joined: String = s
        .split(['\n', '\r'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    esc(&joined)
}

/// A multi-line field's non-blank lines, each escaped. Blank lines are dropped because inside a
/// list item they would end the item (or turn the list "loose") and break the layout.
fn lines(s: &str) -> Vec<String> {
    s.split(['\n', '\r'])
        .map(esc)
        .filter(|s| !s.is_empty())
        .collect()
}

/// Escapes one line of user text so that it renders as itself, in running text, a heading or a
/// list item.
///
/// Every ASCII punctuation character may be backslash-escaped in CommonMark, so escaping too
/// much is harmless; escaping too little lets a card inject markup. Escaped everywhere: the
/// characters that open emphasis, code, links, images, HTML, entities, headings, quotes and
/// tables (`` \ ` * _ { } [ ] < > # | ~ & ! ``). Escaped only at the start of the line: what
/// starts a list item, a setext underline or a thematic break (`-`, `+`, `=`, `1.` / `1)`).
/// Leading spaces are removed, since four of them would start a code block, and control
/// characters are dropped.
fn esc(line: &str) -> String {
    let line = line.trim();
    let mut out = String::with_capacity(line.len() + 8);
    let mut at_start = true;
    let mut leading_digits = false;
    for c in line.chars() {
        if c.is_control() {
            continue;
        }
        let special = matches!(
            c,
            '\\' | '`'
                | '*'
                | '_'
                | '{'
                | '}'
                | '['
                | ']'
                | '<'
                | '>'
                | '#'
                | '|'
                | '~'
                | '&'
                | '!'
        );
        let starts_block = at_start && matches!(c, '-' | '+' | '=');
        let ends_ordinal = leading_digits && matches!(c, '.' | ')');
        if special || starts_block || ends_ordinal {
            out.push('\\');
        }
        out.push(c);
        leading_digits = (at_start || leading_digits) && c.is_ascii_digit();
        at_start = false;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn escaping_defuses_headings_lists_links_html_and_code() {
        assert_eq!(esc("# Title"), "\\# Title");
        assert_eq!(esc("- item"), "\\- item");
        assert_eq!(esc("+ item"), "\\+ item");
        assert_eq!(esc("12. item"), "12\\. item");
        assert_eq!(esc("3) item"), "3\\) item");
        assert_eq!(esc("version 1.2"), "version 1.2");
        assert_eq!(esc("a-b+c"), "a-b+c");
        assert_eq!(
            esc("[x](javascript:alert(1))"),
            "\\[x\\](javascript:alert(1))"
        );
        assert_eq!(esc("<b>&amp;</b>"), "\\<b\\>\\&amp;\\</b\\>");
        assert_eq!(
            esc("`code` *em* _em_ a|b"),
            "\\`code\\` \\*em\\* \\_em\\_ a\\|b"
        );
        assert_eq!(esc("    indented code"), "indented code");
        assert_eq!(esc("C:\\path"), "C:\\\\path");
        assert_eq!(esc("===="), "\\====");
        assert_eq!(esc("bell\u{7}"), "bell");
    }
}
