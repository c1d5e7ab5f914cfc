//! The board drawn as a journey map, the way CX teams draw one on a wall: a header with the
//! title and the personas, stages as columns from left to right, lanes as rows with their
//! guiding questions, sticky notes in each cell, the emotion curve in its own band, and the
//! stage metrics under each column.
//!
//! The output is meant to be opened by anyone (mailed to a committee, pasted into a slide), so
//! it is self-contained (no external fonts, images or scripts), every piece of user text is
//! escaped, and its size is bounded whatever the board holds: texts are cut before wrapping,
//! and cells, stages, lanes and the whole board draw a limited number of cards.

use std::collections::HashMap;
use std::fmt::Write as _;

use client_protocol::schema::{Board, Card, Lane, LaneKind, Persona, Stage};

use super::common::{date, emotion_index, number, signed, Labels};

// ----- limits: what keeps a huge board's drawing small ----------------------------------------

/// Characters of any text kept before wrapping: a sticky note shows a few lines anyway.
const TEXT_CAP: usize = 280;
/// Cards drawn in one cell before "+N more".
const MAX_CARDS_PER_CELL: usize = 6;
/// Cards drawn on the whole map; beyond, cells only say how many they hold.
const MAX_CARDS_DRAWN: usize = 600;
/// Stages (columns) drawn.
const MAX_STAGES: usize = 30;
/// Lanes (rows) drawn.
const MAX_LANES: usize = 30;
/// Personas shown in the header.
const MAX_PERSONAS: usize = 4;
/// Metrics shown under one stage.
const MAX_METRICS: usize = 6;

// ----- geometry (px) -------------------------------------------------------------------------

const FONT: &str = "Inter, Helvetica, Arial, sans-serif";
const MARGIN: f64 = 32.0;
/// Width of the left column holding lane titles and questions.
const HEAD_W: f64 = 212.0;
/// Width of one stage column.
const COL_W: f64 = 236.0;
/// Space between a cell's border and its cards.
const CELL_PAD: f64 = 10.0;
const CARD_W: f64 = COL_W - 2.0 * CELL_PAD;
const CARD_PAD: f64 = 10.0;
const CARD_LINE_H: f64 = 15.0;
/// Characters per card line at 12 px in the card's width (a conservative average, so that
/// wide fallback fonts still fit).
const CARD_COLS: usize = 30;
const CARD_MAX_LINES: usize = 5;
const CARD_GAP: f64 = 8.0;
/// Height of the "KEY TOUCHPOINT" tag above a key card's text.
const KEY_TAG_H: f64 = 20.0;
const CARD_FOOT_H: f64 = 22.0;
const MORE_H: f64 = 18.0;
const MIN_ROW_H: f64 = 64.0;
const PERSONA_W: f64 = 300.0;
const PERSONA_GAP: f64 = 14.0;
/// Height of one step (one point of score) of the emotion band.
const EMOTION_STEP: f64 = 28.0;
const EMOTION_PAD: f64 = 28.0;

// ----- colours ---------------------------------------------------------------------------------

const GRID: &str = "#e4e7ec";
const ACCENT: &str = "#4f46e5";
const KEY: &str = "#f76707";
const DEFAULT_CARD: &str = "#fff3b0";
/// Soft fills of the stage chevrons, cycled.
const STAGE_FILLS: [&str; 6] = [
    "#dde7ff", "#e6defc", "#fde2ec", "#ffe9d2", "#dcf3e6", "#d9eff5",
];
/// Point colours of the emotion curve, −2 to +2.
const EMOTION_FILLS: [&str; 5] = ["#e5484d", "#f76b15", "#8b93a1", "#46a758", "#1f9160"];

/// The stylesheet: classes keep each text element short, which matters on a board of hundreds
/// of cards. (A stylesheet outranks presentation attributes, so colours that vary per element
/// are classes too.)
const STYLE: &str = "text{font-family:Inter, Helvetica, Arial, sans-serif;fill:#1f2430}\
.h1{font-size:26px;font-weight:700}\
.sub{font-size:13px;fill:#5c6370}\
.desc{font-size:13px;fill:#3b4250}\
.pn{font-size:14px;font-weight:700}\
.pf{font-size:11px;fill:#3b4250}\
.pk{font-weight:700;fill:#1f2430}\
.av{font-size:14px;font-weight:700;fill:#fff}\
.sl{font-size:10px;font-weight:700;letter-spacing:.08em;fill:#5c6370}\
.sn{font-size:15px;font-weight:700}\
.sd{font-size:11px;fill:#4a5160}\
.rh{font-size:13px;font-weight:700}\
.lq{font-size:10.5px;fill:#6b7280}\
.ct{font-size:12px}\
.cm{font-size:10px;fill:#1f2430;fill-opacity:.7}\
.dark .ct{fill:#fff}\
.dark .cm{fill:#fff;fill-opacity:.85}\
.more{font-size:11px;fill:#6b7280;font-style:italic}\
.ax{font-size:10px;fill:#6b7280}\
.ns{font-size:10px;fill:#858c99;font-style:italic}\
.el{font-size:11px;font-weight:700}\
.e0{fill:#e5484d}.e1{fill:#f76b15}.e2{fill:#6b7280}.e3{fill:#2f8f46}.e4{fill:#1f9160}\
.mn{font-size:11px;fill:#4a5160}\
.mv{font-size:13px;font-weight:700}\
.mt{font-size:11px;fill:#6b7280}\
.badge{font-size:10px;font-weight:700;fill:#fff}\
.lg{font-size:11px;fill:#5c6370}\
.emotion-curve{fill:none;stroke:#4f46e5;stroke-width:3;stroke-linecap:round;stroke-linejoin:round}";

/// Draws `board` as a self-contained SVG journey map.
///
/// Layout: a header (title, map kind, journey type, description, personas), stage columns
/// left to right, the emotion curve band (scores −2…+2; unscored stages are skipped and the
/// curve joins the others), one row per lane with its title and guiding question, sticky notes
/// in each cell (card colour, wrapped and cut text, vote badge, the key touchpoint marked),
/// and the stage metrics under the columns. Stable hooks for tools and tests: each stage
/// header is a `<g class="stage">`, the curve is `<path id="emotion-curve"
/// class="emotion-curve">`, each note is a `<g class="card">` and the key one also has the
/// class `key-touchpoint`.
pub fn svg(board: &Board) -> String {
    let l = Labels::for_lang(board.meta.lang);
    let stages: Vec<&Stage> = board.stages.iter().take(MAX_STAGES).collect();
    let lanes: Vec<&Lane> = board.lanes.iter().take(MAX_LANES).collect();
    let mut cells: HashMap<(&str, &str), Vec<&Card>> = HashMap::new();
    for card in &board.cards {
        cells
            .entry((card.stage.as_str(), card.lane.as_str()))
            .or_default()
            .push(card);
    }
    let key = board.meta.key_touchpoint.as_deref();

    let ncols = stages.len().max(1);
    let width = 2.0 * MARGIN + HEAD_W + COL_W * ncols as f64;
    let inner_w = width - 2.0 * MARGIN;
    let mut body = String::new();
    let mut y = MARGIN;

    // ----- header: title, facts, description, personas
    let title = if board.meta.title.trim().is_empty() {
        l.untitled.to_owned()
    } else {
        board.meta.title.clone()
    };
    let title_cols = ((inner_w / 14.0) as usize).max(20);
    for line in wrap(&title, title_cols, 2).0 {
        y += 32.0;
        text(&mut body, MARGIN, y, "h1", &line);
    }
    let mut facts = vec![
        l.map_kind_name(&board.meta.map_kind).to_owned(),
        format!(
            "{}: {}",
            l.journey_type,
            l.journey_type_name(&board.meta.journey_type)
        ),
        count(board.stages.len(), l.stage, l.stages),
        count(board.lanes.len(), l.lane, l.lanes),
    ];
    if board.meta.updated_at > 0 {
        facts.push(format!("{} {}", l.updated, date(board.meta.updated_at)));
    }
    y += 24.0;
    text(&mut body, MARGIN, y, "sub", &facts.join("  ·  "));
    let desc_cols = ((inner_w / 7.0) as usize).clamp(40, 170);
    let (desc, _) = wrap(&board.meta.description, desc_cols, 3);
    if !desc.is_empty() {
        y += 8.0;
    }
    for line in desc {
        y += 18.0;
        text(&mut body, MARGIN, y, "desc", &line);
    }
    y += 20.0;
    if !board.personas.is_empty() {
        y = draw_personas(&mut body, &board.personas, y, inner_w, l);
        y += 20.0;
    }

    // ----- the grid
    let grid_top = y;
    let gx = MARGIN;
    let col_x = |i: usize| gx + HEAD_W + COL_W * i as f64;

    // Stage headers (chevrons).
    let stage_text: Vec<(Vec<String>, Vec<String>)> = stages
        .iter()
        .map(|s| (wrap(&s.name, 20, 2).0, wrap(&s.description, 30, 3).0))
        .collect();
    let name_lines = stage_text
        .iter()
        .map(|t| t.0.len())
        .max()
        .unwrap_or(1)
        .max(1);
    let desc_lines = stage_text.iter().map(|t| t.1.len()).max().unwrap_or(0);
    let stage_h = 16.0
        + 12.0
        + 20.0 * name_lines as f64
        + if desc_lines > 0 {
            4.0 + 14.0 * desc_lines as f64
        } else {
            0.0
        }
        + 12.0;

    // Lane rows: measure every cell first, so the row takes its tallest cell's height.
    let mut budget = MAX_CARDS_DRAWN;
    let mut rows = Vec::with_capacity(lanes.len());
    for lane in &lanes {
        let title = wrap(&lane.title, 22, 2).0;
        let question = wrap(&lane.question, 31, 6).0;
        let head_h = 14.0 + 17.0 * title.len() as f64 + 13.5 * question.len() as f64 + 12.0;
        let mut row_cells = Vec::with_capacity(stages.len());
        let mut content_h: f64 = 0.0;
        for stage in &stages {
            let all = cells
                .get(&(stage.id.as_str(), lane.id.as_str()))
                .map_or(&[][..], Vec::as_slice);
            let shown = all.len().min(MAX_CARDS_PER_CELL).min(budget);
            budget -= shown;
            let notes: Vec<Note> = all[..shown]
                .iter()
                .map(|c| Note::new(c, key == Some(c.id.as_str())))
                .collect();
            let mut h = notes.iter().map(|n| n.height + CARD_GAP).sum::<f64>();
            if all.len() > shown {
                h += MORE_H;
            }
            content_h = content_h.max(h);
            row_cells.push((notes, all.len() - shown));
        }
        let height = (content_h + 2.0 * CELL_PAD).max(head_h).max(MIN_ROW_H);
        rows.push((lane, title, question, height, row_cells));
    }

    let emotion_h = 2.0 * EMOTION_PAD + 4.0 * EMOTION_STEP;
    let metric_blocks: Vec<Vec<MetricBlock>> = stages.iter().map(|s| metric_blocks(s, l)).collect();
    let metrics_h = metric_blocks
        .iter()
        .map(|b| b.iter().map(|m| m.height).sum::<f64>())
        .fold(0.0, f64::max);
    let metrics_h = if metrics_h > 0.0 {
        metrics_h + 2.0 * CELL_PAD + 4.0
    } else {
        0.0
    };
    let rows_h: f64 = rows.iter().map(|r| r.3).sum();
    let grid_h = stage_h + 8.0 + emotion_h + rows_h + metrics_h;

    // The grid's white background (the stage chevrons sit above it).
    let _ = write!(
        body,
        r##"<rect x="{}" y="{}" width="{}" height="{}" rx="12" fill="#fff" stroke="{GRID}"/>"##,
        n(gx),
        n(grid_top + stage_h + 8.0),
        n(inner_w),
        n(grid_h - stage_h - 8.0)
    );

    // Stage chevrons.
    for (i, (stage, (name, desc))) in stages.iter().zip(&stage_text).enumerate() {
        let x = col_x(i);
        let (top, h, notch) = (grid_top, stage_h, 16.0);
        let left_notch = if i == 0 { 0.0 } else { notch };
        let _ = write!(
            body,
            r#"<g class="stage"><title>{}</title><path d="M{} {}H{}L{} {}L{} {}H{}L{} {}Z" fill="{}"/>"#,
            xml(&cap(&stage.name)),
            n(x + 1.0),
            n(top),
            n(x + COL_W - notch - 1.0),
            n(x + COL_W - 1.0),
            n(top + h / 2.0),
            n(x + COL_W - notch - 1.0),
            n(top + h),
            n(x + 1.0),
            n(x + 1.0 + left_notch),
            n(top + h / 2.0),
            STAGE_FILLS[i % STAGE_FILLS.len()]
        );
        let tx = x + 14.0 + left_notch;
        let mut ty = top + 16.0 + 10.0;
        text(
            &mut body,
            tx,
            ty,
            "sl",
            &format!("{} {}", l.stage.to_uppercase(), i + 1),
        );
        ty += 4.0;
        for line in name {
            ty += 20.0;
            text(&mut body, tx, ty, "sn", line);
        }
        ty += 4.0;
        for line in desc {
            ty += 14.0;
            text(&mut body, tx, ty, "sd", line);
        }
        body.push_str("</g>\n");
    }
    if stages.is_empty() {
        text(
            &mut body,
            col_x(0) + 14.0,
            grid_top + stage_h / 2.0,
            "more",
            "—",
        );
    }

    // Emotion band.
    let band_top = grid_top + stage_h + 8.0;
    draw_emotion_band(&mut body, &stages, band_top, emotion_h, inner_w, l, &col_x);

    // Lanes.
    let mut ry = band_top + emotion_h;
    for (r, (lane, title, question, height, row_cells)) in rows.iter().enumerate() {
        if r % 2 == 1 {
            let _ = write!(
                body,
                r##"<rect x="{}" y="{}" width="{}" height="{}" fill="#f8f9fb"/>"##,
                n(gx + 1.0),
                n(ry),
                n(inner_w - 2.0),
                n(*height)
            );
        }
        hline(&mut body, gx, gx + inner_w, ry);
        let _ = write!(
            body,
            r#"<rect x="{}" y="{}" width="4" height="{}" rx="2" fill="{}"/>"#,
            n(gx + 8.0),
            n(ry + 12.0),
            n(height - 24.0),
            lane_colour(&lane.kind)
        );
        let mut ty = ry + 14.0;
        for line in title {
            ty += 15.0;
            text(&mut body, gx + 22.0, ty, "rh", line);
        }
        ty += 2.0;
        for line in question {
            ty += 13.5;
            text(&mut body, gx + 22.0, ty, "lq", line);
        }
        for (i, (notes, hidden)) in row_cells.iter().enumerate() {
            let x = col_x(i) + CELL_PAD;
            let mut cy = ry + CELL_PAD;
            for note in notes {
                note.draw(&mut body, x, cy, l);
                cy += note.height + CARD_GAP;
            }
            if *hidden > 0 {
                text(
                    &mut body,
                    x + 2.0,
                    cy + 11.0,
                    "more",
                    &format!("+{hidden} {}", l.more),
                );
            }
        }
        ry += height;
    }

    // Metrics under each column.
    if metrics_h > 0.0 {
        hline(&mut body, gx, gx + inner_w, ry);
        text(&mut body, gx + 22.0, ry + 29.0, "rh", l.metrics);
        for (i, blocks) in metric_blocks.iter().enumerate() {
            let mut my = ry + CELL_PAD + 4.0;
            for block in blocks {
                block.draw(&mut body, col_x(i) + CELL_PAD + 4.0, my);
                my += block.height;
            }
        }
        ry += metrics_h;
    }

    // Column separators over the whole grid body.
    for i in 0..ncols {
        let x = col_x(i);
        let _ = write!(
            body,
            r#"<path d="M{} {}V{}" stroke="{GRID}"/>"#,
            n(x),
            n(band_top),
            n(ry)
        );
    }

    // Legend and notes on what was left out.
    let mut ly = ry + 28.0;
    let mut lx = MARGIN;
    star_tag(&mut body, lx, ly - 12.0, l.key_touchpoint);
    lx += tag_width(l.key_touchpoint) + 8.0;
    text(&mut body, lx, ly, "lg", l.key_touchpoint_hint);
    lx += 6.5 * cols(l.key_touchpoint_hint) as f64 + 28.0;
    vote_badge(&mut body, lx, ly - 12.0, 3);
    text(&mut body, lx + 34.0, ly, "lg", l.votes_legend);
    let mut notes = Vec::new();
    if board.stages.len() > stages.len() {
        notes.push(format!(
            "+{} {}",
            board.stages.len() - stages.len(),
            l.more_stages
        ));
    }
    if board.lanes.len() > lanes.len() {
        notes.push(format!(
            "+{} {}",
            board.lanes.len() - lanes.len(),
            l.more_lanes
        ));
    }
    if !notes.is_empty() {
        ly += 20.0;
        text(&mut body, MARGIN, ly, "more", &notes.join(" · "));
    }
    let height = ly + MARGIN - 8.0;

    let mut out = String::with_capacity(body.len() + 2048);
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="{FONT}" role="img" aria-labelledby="pc-title"><title id="pc-title">{title}</title><style>{STYLE}</style><rect width="{w}" height="{h}" fill="#f4f5f8"/>"##,
        w = n(width),
        h = n(height),
        title = xml(&cap(&title)),
    );
    out.push_str(&body);
    out.push_str("</svg>\n");
    out
}

/// The persona cards in a row (wrapping onto further rows); returns the y below them.
fn draw_personas(
    out: &mut String,
    personas: &[Persona],
    top: f64,
    inner_w: f64,
    l: &Labels,
) -> f64 {
    let per_row = (((inner_w + PERSONA_GAP) / (PERSONA_W + PERSONA_GAP)) as usize).max(1);
    let shown: Vec<&Persona> = personas.iter().take(MAX_PERSONAS).collect();
    let contents: Vec<PersonaBox> = shown.iter().map(|p| PersonaBox::new(p, l)).collect();
    let box_h = contents.iter().map(|c| c.height).fold(0.0, f64::max);
    let mut y = top;
    for (row, chunk) in contents.chunks(per_row).enumerate() {
        if row > 0 {
            y += box_h + PERSONA_GAP;
        }
        for (i, content) in chunk.iter().enumerate() {
            content.draw(out, MARGIN + i as f64 * (PERSONA_W + PERSONA_GAP), y, box_h);
        }
    }
    y += box_h;
    if personas.len() > shown.len() {
        y += 18.0;
        text(
            out,
            MARGIN,
            y,
            "more",
            &format!("+{} {}", personas.len() - shown.len(), l.more_personas),
        );
    }
    y
}

/// A persona's card: avatar with initials, name, a line of who they are, and the fields a team
/// designs for (goals, frustrations, comfort with digital tools), each on a few lines.
struct PersonaBox {
    initials: String,
    name: Vec<String>,
    who: Vec<String>,
    fields: Vec<(&'static str, Vec<String>)>,
    height: f64,
}

impl PersonaBox {
    fn new(p: &Persona, l: &Labels) -> Self {
        let name_text = if p.name.trim().is_empty() {
            l.persona
        } else {
            &p.name
        };
        let initials: String = name_text
            .split_whitespace()
            .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
            .take(2)
            .flat_map(char::to_uppercase)
            .collect();
        let who: Vec<&str> = [&p.age_range, &p.occupation, &p.family_situation]
            .into_iter()
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .collect();
        let fields: Vec<(&'static str, Vec<String>)> = [
            (l.persona_fields[7], &p.goals),
            (l.persona_fields[8], &p.frustrations),
            (l.persona_fields[6], &p.digital_comfort),
            (l.persona_fields[5], &p.buying_habits),
        ]
        .into_iter()
        .filter(|(_, v)| !v.trim().is_empty())
        .take(3)
        .map(|(k, v)| (k, wrap(&format!("{k}: {v}"), 38, 2).0))
        .collect();
        let name = wrap(name_text, 26, 1).0;
        let who = wrap(&who.join(" · "), 38, 2).0;
        let height = 16.0
            + 18.0
            + 15.0 * who.len() as f64
            + fields
                .iter()
                .map(|(_, f)| 6.0 + 14.0 * f.len() as f64)
                .sum::<f64>()
            + 14.0;
        PersonaBox {
            initials: if initials.is_empty() {
                "?".into()
            } else {
                initials
            },
            name,
            who,
            fields,
            height: height.max(72.0),
        }
    }

    fn draw(&self, out: &mut String, x: f64, y: f64, h: f64) {
        let _ = write!(
            out,
            r##"<g class="persona"><rect x="{}" y="{}" width="{PERSONA_W}" height="{}" rx="10" fill="#fff" stroke="{GRID}"/><circle cx="{}" cy="{}" r="20" fill="{ACCENT}"/>"##,
            n(x),
            n(y),
            n(h),
            n(x + 34.0),
            n(y + 34.0)
        );
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="av" text-anchor="middle">{}</text>"#,
            n(x + 34.0),
            n(y + 39.0),
            xml(&self.initials)
        );
        let tx = x + 66.0;
        let mut ty = y + 16.0 + 14.0;
        for line in &self.name {
            text(out, tx, ty, "pn", line);
        }
        for line in &self.who {
            ty += 15.0;
            text(out, tx, ty, "pf", line);
        }
        for (label, lines) in &self.fields {
            ty += 6.0;
            for (i, line) in lines.iter().enumerate() {
                ty += 14.0;
                match line.strip_prefix(label).filter(|_| i == 0) {
                    // The field's name in bold, its value plain.
                    Some(rest) => {
                        let _ = write!(
                            out,
                            r#"<text x="{}" y="{}" class="pf"><tspan class="pk">{}</tspan>{}</text>"#,
                            n(tx),
                            n(ty),
                            xml(label),
                            xml(rest)
                        );
                    }
                    None => text(out, tx, ty, "pf", line),
                }
            }
        }
        out.push_str("</g>\n");
    }
}

/// The emotion band: a soft background from good (top) to bad (bottom), the axis labels, one
/// point per scored stage and the smooth curve through them.
fn draw_emotion_band(
    out: &mut String,
    stages: &[&Stage],
    top: f64,
    height: f64,
    inner_w: f64,
    l: &Labels,
    col_x: &dyn Fn(usize) -> f64,
) {
    let gx = MARGIN;
    let level_y = |score: i64| top + EMOTION_PAD + (2 - score.clamp(-2, 2)) as f64 * EMOTION_STEP;
    let _ = write!(
        out,
        r##"<defs><linearGradient id="pc-mood" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="#e3f5ea"/><stop offset="0.5" stop-color="#ffffff"/><stop offset="1" stop-color="#fde8e8"/></linearGradient></defs><g class="emotion"><rect x="{}" y="{}" width="{}" height="{}" fill="url(#pc-mood)"/>"##,
        n(gx + HEAD_W),
        n(top + 1.0),
        n(inner_w - HEAD_W - 1.0),
        n(height - 1.0)
    );
    text(out, gx + 22.0, top + 29.0, "rh", l.emotion);
    let _ = write!(
        out,
        r#"<rect x="{}" y="{}" width="4" height="{}" rx="2" fill="{ACCENT}"/>"#,
        n(gx + 8.0),
        n(top + 12.0),
        n(height - 24.0)
    );
    let right = gx + inner_w;
    for score in -2..=2 {
        let y = level_y(score);
        let dash = if score == 0 {
            r#" stroke-dasharray="4 4""#
        } else {
            ""
        };
        let _ = write!(
            out,
            r##"<path d="M{} {}H{}" stroke="{}"{dash}/>"##,
            n(gx + HEAD_W),
            n(y),
            n(right),
            if score == 0 { "#c5cad3" } else { "#eceef2" }
        );
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="ax" text-anchor="end">{} {}</text>"#,
            n(gx + HEAD_W - 12.0),
            n(y + 3.5),
            xml(l.emotion_word(score)),
            signed(score)
        );
    }

    let points: Vec<(f64, f64, i64)> = stages
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.emotion.map(|e| (col_x(i) + COL_W / 2.0, level_y(e), e)))
        .collect();
    if let Some(&(x0, y0, _)) = points.first() {
        // Horizontal tangents at every point: the curve is smooth, passes exactly through the
        // scores and never overshoots the −2…+2 band (a Catmull-Rom spline would).
        let mut d = format!("M{} {}", n(x0), n(y0));
        for pair in points.windows(2) {
            let ((xa, ya, _), (xb, yb, _)) = (pair[0], pair[1]);
            let mid = xa + (xb - xa) / 2.0;
            let _ = write!(
                d,
                "C{} {} {} {} {} {}",
                n(mid),
                n(ya),
                n(mid),
                n(yb),
                n(xb),
                n(yb)
            );
        }
        let _ = write!(
            out,
            r#"<path id="emotion-curve" class="emotion-curve" d="{d}"/>"#
        );
    }
    for &(x, y, score) in &points {
        let k = emotion_index(score);
        let _ = write!(
            out,
            r##"<circle class="emotion-point" cx="{}" cy="{}" r="7" fill="{}" stroke="#fff" stroke-width="2.5"/>"##,
            n(x),
            n(y),
            EMOTION_FILLS[k]
        );
        // The label sits above the point, or below it at the top of the band.
        let ly = if score >= 2 { y + 22.0 } else { y - 13.0 };
        let _ = write!(
            out,
            r#"<text x="{}" y="{}" class="el e{k}" text-anchor="middle">{} {}</text>"#,
            n(x),
            n(ly),
            signed(score),
            xml(l.emotion_word(score))
        );
    }
    for (i, stage) in stages.iter().enumerate() {
        if stage.emotion.is_none() {
            let _ = write!(
                out,
                r#"<text x="{}" y="{}" class="ns" text-anchor="middle">{}</text>"#,
                n(col_x(i) + COL_W / 2.0),
                n(level_y(0) - 8.0),
                xml(l.not_scored)
            );
        }
    }
    out.push_str("</g>\n");
}

/// A sticky note, measured before it is drawn so that rows can size to their tallest cell.
struct Note<'a> {
    card: &'a Card,
    lines: Vec<String>,
    truncated: bool,
    is_key: bool,
    fill: String,
    dark: bool,
    footer: String,
    height: f64,
}

impl<'a> Note<'a> {
    fn new(card: &'a Card, is_key: bool) -> Self {
        let (lines, truncated) = wrap(&card.text, CARD_COLS, CARD_MAX_LINES);
        let (fill, dark) = card_fill(&card.color);
        let footer: Vec<&str> = [card.author.trim(), card.team.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        let votes = card.vote_total();
        let footer_cols = if votes > 0 { 26 } else { 32 };
        let footer = wrap(&footer.join(" · "), footer_cols, 1)
            .0
            .pop()
            .unwrap_or_default();
        let height = CARD_PAD
            + if is_key { KEY_TAG_H } else { 0.0 }
            + CARD_LINE_H * lines.len().max(1) as f64
            + CARD_FOOT_H
            + 4.0;
        Note {
            card,
            lines,
            truncated,
            is_key,
            fill,
            dark,
            footer,
            height,
        }
    }

    fn draw(&self, out: &mut String, x: f64, y: f64, l: &Labels) {
        let class = match (self.is_key, self.dark) {
            (true, true) => "card key-touchpoint dark",
            (true, false) => "card key-touchpoint",
            (false, true) => "card dark",
            (false, false) => "card",
        };
        let _ = write!(out, r#"<g class="{class}">"#);
        if self.truncated {
            // The whole (capped) text as a tooltip, for the notes cut short.
            let _ = write!(out, "<title>{}</title>", xml(&cap(&self.card.text)));
        }
        // A soft edge on ordinary notes; a strong orange one on the key touchpoint.
        let stroke = if self.is_key {
            format!(r#"stroke="{KEY}" stroke-width="2.5""#)
        } else {
            r##"stroke="#000" stroke-opacity=".08""##.to_owned()
        };
        // The shadow is a second, offset rectangle rather than an SVG filter: filters made a
        // board of 600 notes fifteen times slower to render.
        let _ = write!(
            out,
            r##"<rect x="{x}" y="{}" width="{CARD_W}" height="{h}" rx="6" fill="#1f2430" fill-opacity=".1"/><rect x="{x}" y="{}" width="{CARD_W}" height="{h}" rx="6" fill="{}" {stroke}/>"##,
            n(y + 1.5),
            n(y),
            self.fill,
            x = n(x),
            h = n(self.height),
        );
        let mut ty = y + CARD_PAD;
        if self.is_key {
            star_tag(out, x + CARD_PAD - 2.0, ty - 2.0, l.key_touchpoint);
            ty += KEY_TAG_H;
        }
        for line in &self.lines {
            ty += CARD_LINE_H;
            text(out, x + CARD_PAD, ty - 3.0, "ct", line);
        }
        let foot_y = y + self.height - 9.0;
        if !self.footer.is_empty() {
            text(out, x + CARD_PAD, foot_y, "cm", &self.footer);
        }
        let votes = self.card.vote_total();
        if votes > 0 {
            vote_badge(out, x + CARD_W - CARD_PAD - 26.0, foot_y - 12.0, votes);
        }
        out.push_str("</g>\n");
    }
}

/// A metric under a stage column: its name, then value and unit, and the target if any.
struct MetricBlock {
    name: Vec<String>,
    value: String,
    target: Option<String>,
    height: f64,
}

fn metric_blocks(stage: &Stage, l: &Labels) -> Vec<MetricBlock> {
    let mut blocks: Vec<MetricBlock> = stage
        .metrics
        .iter()
        .take(MAX_METRICS)
        .map(|m| {
            let name = wrap(&m.name, 32, 2).0;
            let unit = wrap(&m.unit, 16, 1).0.pop().unwrap_or_default();
            let with_unit = |v: f64| {
                if unit.is_empty() {
                    number(v)
                } else {
                    format!("{} {unit}", number(v))
                }
            };
            MetricBlock {
                height: 14.0 * name.len() as f64
                    + 18.0
                    + if m.target.is_some() { 14.0 } else { 0.0 }
                    + 12.0,
                name,
                value: with_unit(m.value),
                target: m.target.map(|t| format!("{}: {}", l.target, with_unit(t))),
            }
        })
        .collect();
    if stage.metrics.len() > MAX_METRICS {
        blocks.push(MetricBlock {
            name: vec![format!("+{} {}", stage.metrics.len() - MAX_METRICS, l.more)],
            value: String::new(),
            target: None,
            height: 18.0,
        });
    }
    blocks
}

impl MetricBlock {
    fn draw(&self, out: &mut String, x: f64, y: f64) {
        let mut ty = y;
        for line in &self.name {
            ty += 14.0;
            text(out, x, ty, "mn", line);
        }
        if self.value.is_empty() {
            return;
        }
        ty += 17.0;
        text(out, x, ty, "mv", &self.value);
        if let Some(target) = &self.target {
            ty += 14.0;
            text(out, x, ty, "mt", target);
        }
    }
}

// ----- small drawing helpers --------------------------------------------------------------

/// A `<text>` element; `content` is user text or ours, escaped here.
fn text(out: &mut String, x: f64, y: f64, class: &str, content: &str) {
    let _ = write!(
        out,
        r#"<text x="{}" y="{}" class="{class}">{}</text>"#,
        n(x),
        n(y),
        xml(content)
    );
}

/// "1 stage", "6 stages".
fn count(k: usize, one: &str, many: &str) -> String {
    let word = if k == 1 { one } else { many };
    format!("{k} {}", word.to_lowercase())
}

fn hline(out: &mut String, x1: f64, x2: f64, y: f64) {
    let _ = write!(
        out,
        // Each horizontal rule starts a row: a line break here keeps the file diffable.
        "\n<path d=\"M{} {}H{}\" stroke=\"{GRID}\"/>",
        n(x1),
        n(y),
        n(x2)
    );
}

/// Approximate width of the key-touchpoint tag for `label` (10 px bold capitals).
fn tag_width(label: &str) -> f64 {
    26.0 + 7.0 * label.chars().count() as f64
}

/// The orange "★ KEY TOUCHPOINT" tag; the star is drawn, not a glyph, so it shows with any font.
fn star_tag(out: &mut String, x: f64, y: f64, label: &str) {
    let w = tag_width(label);
    let _ = write!(
        out,
        r##"<rect x="{}" y="{}" width="{}" height="16" rx="8" fill="{KEY}"/><path d="{}" fill="#fff"/><text x="{}" y="{}" class="badge">{}</text>"##,
        n(x),
        n(y),
        n(w),
        star_path(x + 11.0, y + 8.0, 5.5),
        n(x + 20.0),
        n(y + 11.5),
        xml(&label.to_uppercase())
    );
}

/// A five-pointed star centred on (cx, cy).
fn star_path(cx: f64, cy: f64, r: f64) -> String {
    let mut d = String::new();
    for i in 0..10 {
        let radius = if i % 2 == 0 { r } else { r * 0.45 };
        let angle = std::f64::consts::PI * (i as f64 / 5.0 - 0.5);
        let (px, py) = (cx + radius * angle.cos(), cy + radius * angle.sin());
        let _ = write!(d, "{}{} {}", if i == 0 { "M" } else { "L" }, n(px), n(py));
    }
    d.push('Z');
    d
}

/// The dot-vote badge: a pill with a dot and the count.
fn vote_badge(out: &mut String, x: f64, y: f64, votes: i64) {
    let label = if votes > 999 {
        "999+".to_owned()
    } else {
        votes.to_string()
    };
    let w = 20.0 + 6.5 * label.len() as f64;
    let _ = write!(
        out,
        r##"<g class="votes"><rect x="{}" y="{}" width="{}" height="16" rx="8" fill="{ACCENT}"/><circle cx="{}" cy="{}" r="3" fill="#fff"/><text x="{}" y="{}" class="badge">{label}</text></g>"##,
        n(x),
        n(y),
        n(w),
        n(x + 8.0),
        n(y + 8.0),
        n(x + 14.0),
        n(y + 11.5)
    );
}

/// The accent bar colour of a lane, by kind, so related rows read at a glance.
fn lane_colour(kind: &LaneKind) -> &'static str {
    match kind {
        LaneKind::PainPoints | LaneKind::Objections => "#e5484d",
        LaneKind::Touchpoints | LaneKind::KeyMoments => KEY,
        LaneKind::Emotions | LaneKind::Motivations => "#8e4ec6",
        LaneKind::Opportunities | LaneKind::TeamActions => "#30a46c",
        LaneKind::Metrics => ACCENT,
        LaneKind::Questions | LaneKind::Needs | LaneKind::Expectations | LaneKind::Received => {
            "#0091ff"
        }
        _ => "#8b93a1",
    }
}

/// The card's fill if it is a colour we can safely put in an attribute (`#rgb`, `#rgba`,
/// `#rrggbb`, `#rrggbbaa`, or a CSS colour name), else the default yellow; and whether the
/// colour is dark enough to need white text.
fn card_fill(color: &str) -> (String, bool) {
    let c = color.trim();
    if let Some(hex) = c.strip_prefix('#') {
        if matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|ch| ch.is_ascii_hexdigit()) {
            let digit = |i: usize, len: usize| -> f64 {
                let s = &hex[i * len..i * len + len];
                let v = u8::from_str_radix(s, 16).unwrap_or(255);
                let v = if len == 1 { v * 17 } else { v };
                f64::from(v) / 255.0
            };
            let len = if hex.len() <= 4 { 1 } else { 2 };
            let lum = 0.2126 * lin(digit(0, len))
                + 0.7152 * lin(digit(1, len))
                + 0.0722 * lin(digit(2, len));
            // Without the alpha digits: not every renderer reads `#rgba`, and a see-through
            // note would show the grid through it anyway.
            let opaque = &hex[..3 * len];
            return (format!("#{}", opaque.to_ascii_lowercase()), lum < 0.2);
        }
    }
    if !c.is_empty() && c.len() <= 24 && c.chars().all(|ch| ch.is_ascii_alphabetic()) {
        let dark = matches!(
            c.to_ascii_lowercase().as_str(),
            "black"
                | "navy"
                | "darkblue"
                | "maroon"
                | "purple"
                | "indigo"
                | "darkgreen"
                | "teal"
                | "darkslategray"
                | "darkslategrey"
                | "midnightblue"
                | "brown"
                | "darkred"
        );
        return (c.to_ascii_lowercase(), dark);
    }
    (DEFAULT_CARD.to_owned(), false)
}

/// sRGB component to linear light, for the WCAG relative luminance.
fn lin(c: f64) -> f64 {
    if c <= 0.039_28 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// A coordinate with at most one decimal, without a trailing ".0": keeps the file small and
/// byte-stable across platforms.
fn n(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r == r.trunc() {
        format!("{}", r as i64)
    } else {
        format!("{r:.1}")
    }
}

// ----- text: sanitising, escaping, wrapping ------------------------------------------------

/// Escapes text for XML content and attribute values, and drops what XML 1.0 forbids
/// (control characters other than tab/newline/CR, which we do not want either, and the
/// non-characters U+FFFE/U+FFFF).
fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// At most [`TEXT_CAP`] characters of `s`, whitespace runs collapsed: what a tooltip shows.
fn cap(s: &str) -> String {
    let mut out = String::new();
    for (i, word) in s.split_whitespace().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(word);
        if out.len() > TEXT_CAP * 4 {
            break;
        }
    }
    super::common::truncate_chars(&out, TEXT_CAP)
}

/// Spaces that must not become line breaks: French puts them before `? ! : ;` (the templates
/// do), and a line starting with a lone "?" looks broken.
fn is_no_break(c: char) -> bool {
    matches!(c, '\u{a0}' | '\u{202f}' | '\u{2007}')
}

/// Display width of a character in "average character" units: East Asian wide characters and
/// emoji take two.
fn char_cols(c: char) -> usize {
    let wide = matches!(c as u32,
        0x1100..=0x115F | 0x2E80..=0xA4CF | 0xAC00..=0xD7A3 | 0xF900..=0xFAFF | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60 | 0xFFE0..=0xFFE6 | 0x1F300..=0x1FAFF | 0x20000..=0x3FFFD);
    if wide {
        2
    } else {
        1
    }
}

fn cols(s: &str) -> usize {
    s.chars().map(char_cols).sum()
}

/// Word-wraps `s` to lines of at most `width` columns, keeping its line breaks, and returns at
/// most `max_lines` lines (the last ending with "…" when text was left out) and whether any was.
///
/// Only the first [`TEXT_CAP`] characters are looked at, so a megabyte of text costs the same
/// as a sticky note. Control characters are dropped; words longer than a line are split.
fn wrap(s: &str, width: usize, max_lines: usize) -> (Vec<String>, bool) {
    let width = width.max(4);
    let mut chars = s.chars();
    let head: String = chars.by_ref().take(TEXT_CAP).collect();
    let mut truncated = chars.next().is_some();

    let mut lines: Vec<String> = Vec::new();
    'paragraphs: for paragraph in head.split('\n') {
        let words = paragraph
            .split(|c: char| (c.is_whitespace() && !is_no_break(c)) || c.is_control())
            .filter(|w| !w.is_empty());
        let mut line = String::new();
        let mut line_cols = 0;
        for word in words {
            let mut word = word.to_owned();
            loop {
                let wc = cols(&word);
                let sep = usize::from(!line.is_empty());
                if line_cols + sep + wc <= width {
                    if sep == 1 {
                        line.push(' ');
                    }
                    line.push_str(&word);
                    line_cols += sep + wc;
                    break;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                    line_cols = 0;
                    if lines.len() > max_lines {
                        break 'paragraphs;
                    }
                    continue;
                }
                // A word longer than a whole line: split it.
                let mut taken = 0;
                let split = word
                    .char_indices()
                    .find(|&(_, c)| {
                        taken += char_cols(c);
                        taken > width
                    })
                    .map_or(word.len(), |(i, _)| i);
                let rest = word.split_off(split);
                lines.push(word);
                if lines.len() > max_lines || rest.is_empty() {
                    break;
                }
                word = rest;
            }
            if lines.len() > max_lines {
                break 'paragraphs;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        if lines.len() > max_lines {
            break;
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        truncated = true;
    }
    if truncated {
        if let Some(last) = lines.last_mut() {
            while cols(last) + 1 > width {
                last.pop();
            }
            let trimmed = last.trim_end().len();
            last.truncate(trimmed);
            last.push('…');
        }
    }
    (lines, truncated)
}

#[cfg(test)]
mod tests {
    use super::{card_fill, n, wrap, xml};

    #[test]
    fn wrapping_keeps_line_breaks_and_cuts_with_an_ellipsis() {
        let (lines, cut) = wrap("one two three four five six", 9, 2);
        assert_eq!(lines, ["one two", "three…"]);
        assert!(cut);
        let (lines, cut) = wrap("a\nb", 10, 3);
        assert_eq!(lines, ["a", "b"]);
        assert!(!cut);
        let (lines, _) = wrap("abcdefghijkl", 5, 5);
        assert_eq!(lines, ["abcde", "fghij", "kl"]);
        assert_eq!(wrap("", 10, 3).0, Vec::<String>::new());
        let (lines, _) = wrap("Que doit faire le client\u{a0}?", 24, 3);
        assert_eq!(lines, ["Que doit faire le", "client\u{a0}?"]);
    }

    #[test]
    fn escaping_covers_markup_and_drops_control_characters() {
        assert_eq!(
            xml("<a href=\"x\">'&'</a>\u{0}\u{1b}"),
            "&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;"
        );
    }

    #[test]
    fn only_plain_colours_reach_the_fill_attribute() {
        assert_eq!(card_fill("#FFD166").0, "#ffd166");
        assert!(card_fill("#000").1);
        assert_eq!(card_fill("papayawhip").0, "papayawhip");
        assert_eq!(card_fill("red\" onload=\"x").0, super::DEFAULT_CARD);
        assert_eq!(card_fill("url(#x)").0, super::DEFAULT_CARD);
    }

    #[test]
    fn coordinates_have_at_most_one_decimal() {
        assert_eq!(n(12.0), "12");
        assert_eq!(n(12.345), "12.3");
        assert_eq!(n(-0.04), "0");
    }
}
