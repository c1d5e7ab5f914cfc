//! Tests of the three exports on one fixed board, plus hostile and huge boards.
//!
//! Golden files: `server/tests/golden/board.{md,csv,svg}` hold the expected output for
//! [`golden_board`]. After an intended change to an export, regenerate them with
//!
//! ```text
//! UPDATE_GOLDEN=1 cargo test -p parcours-server export
//! ```
//!
//! and review the diff (for the SVG, render it: `rsvg-convert server/tests/golden/board.svg -o
//! /tmp/board.png`).

use std::path::PathBuf;

use client_protocol::schema::{
    instantiate, Board, BoardRefs, BoardWriter, IdGen, LaneKind, Lang, MetricInit, NewCard,
    PersonaInit, Priority,
};
use yrs::{Doc, Transact};

use super::{csv, markdown, svg};

/// The clock of every fixture: 2024-03-12T09:30:00Z.
const NOW_MS: i64 = 1_710_235_800_000;

const MALICIOUS: &str = "<script>alert(1)</script> & \"quotes\"\n# not a heading\n- not a list";

/// Builds a board from a template with a fixed clock and fixed ids, then lets `fill` edit it.
fn board_from(
    template: &str,
    lang: Lang,
    title: &str,
    fill: impl FnOnce(&mut BoardWriter, &Board),
) -> Board {
    let doc = Doc::new();
    let refs = BoardRefs::new(&doc);
    {
        let mut txn = doc.transact_mut();
        let mut w = BoardWriter::new(&mut txn, &refs, NOW_MS).with_ids(IdGen::from_seed(7));
        instantiate(&mut w, template, lang, title, None).expect("template");
    }
    let empty = Board::from_doc(&doc);
    {
        let mut txn = doc.transact_mut();
        let mut w =
            BoardWriter::new(&mut txn, &refs, NOW_MS + 60_000).with_ids(IdGen::from_seed(8));
        fill(&mut w, &empty);
    }
    Board::from_doc(&doc)
}

/// The stage and lane ids of a template board, by stage position and lane kind.
fn cell(board: &Board, stage: usize, kind: LaneKind) -> (String, String) {
    let lane = board
        .lanes
        .iter()
        .find(|l| l.kind == kind)
        .expect("lane kind");
    (board.stages[stage].id.clone(), lane.id.clone())
}

fn add(
    w: &mut BoardWriter,
    (stage, lane): (String, String),
    text: &str,
    author: &str,
    team: &str,
    color: &str,
) -> String {
    w.add_card(&NewCard {
        stage,
        lane,
        text: text.into(),
        author: author.into(),
        color: color.into(),
        team: team.into(),
    })
    .expect("card")
}

/// The board every golden file shows: the customer-journey template with a persona, emotion
/// scores on five of six stages, measured metrics, and cards with votes, a comment, a key
/// touchpoint, markup, line breaks and a spreadsheet formula.
fn golden_board() -> Board {
    board_from(
        "customer-journey",
        Lang::En,
        "FreshCart: first online grocery order",
        |w, b| {
            w.set_description(
            "How a busy parent discovers FreshCart and places a first order.\nOwner: CX team, reviewed monthly.",
        );
            w.add_persona(&PersonaInit {
                name: "Claire, busy parent".into(),
                age_range: "35-44".into(),
                occupation: "Operations manager".into(),
                family_situation: "Two children".into(),
                digital_comfort: "Confident on mobile".into(),
                goals: "Spend less time on weekly shopping".into(),
                frustrations: "Delivery slots that sell out; hidden fees".into(),
                ..PersonaInit::default()
            });
            for (i, score) in [(0, 1), (1, 0), (2, -2), (4, 1), (5, 2)] {
                w.set_stage_emotion(&b.stages[i].id, Some(score))
                    .expect("emotion");
            }
            let awareness = &b.stages[0];
            w.update_metric(
                &awareness.id,
                &awareness.metrics[0].id,
                &MetricInit {
                    name: "Visits".into(),
                    value: 12500.0,
                    unit: "visits".into(),
                    target: Some(15000.0),
                },
            )
            .expect("metric");
            w.set_metric_value(&awareness.id, &awareness.metrics[1].id, 48.0)
                .expect("metric");
            let decision = &b.stages[2];
            w.update_metric(
                &decision.id,
                &decision.metrics[0].id,
                &MetricInit {
                    name: "Cart abandonment rate".into(),
                    value: 68.5,
                    unit: "%".into(),
                    target: Some(55.0),
                },
            )
            .expect("metric");
            w.set_metric_value(&decision.id, &decision.metrics[1].id, 2.4)
                .expect("metric");

            let ad = add(
                w,
                cell(b, 0, LaneKind::Actions),
                "Sees an Instagram ad for same-day delivery",
                "Maya",
                "marketing",
                "#ffd166",
            );
            w.vote(&ad, "p1").expect("vote");
            w.vote(&ad, "p2").expect("vote");
            add(
                w,
                cell(b, 0, LaneKind::Touchpoints),
                "Instagram ad",
                "Maya",
                "marketing",
                "#ffd166",
            );
            add(
                w,
                cell(b, 1, LaneKind::Questions),
                "Is delivery free above 50 €?",
                "Tom",
                "sales",
                "#a0c4ff",
            );
            add(
                w,
                cell(b, 1, LaneKind::Channels),
                "Website, app store page",
                "Tom",
                "sales",
                "#caffbf",
            );
            let pain = add(
                w,
                cell(b, 2, LaneKind::PainPoints),
                MALICIOUS,
                "Léa <admin>",
                "support",
                "#ffadad",
            );
            w.add_comment(
                &pain,
                "Sam",
                "Seen in 3 support tickets this week\n[click](javascript:alert(1))",
            )
            .expect("comment");
            w.vote(&pain, "p1").expect("vote");
            add(
            w,
            cell(b, 2, LaneKind::PainPoints),
            "Delivery fee only appears at the very last step of checkout, after the customer has filled in their address and payment details",
            "Sam",
            "product",
            "#ffadad",
        );
            let checkout = add(
                w,
                cell(b, 2, LaneKind::Touchpoints),
                "Checkout page",
                "Sam",
                "product",
                "#ffd6a5",
            );
            for p in ["p1", "p2", "p3"] {
                w.vote(&checkout, p).expect("vote");
            }
            w.set_card_priority(&checkout, Some(Priority::High))
                .expect("priority");
            w.set_key_touchpoint(Some(&checkout))
                .expect("key touchpoint");
            add(
                w,
                cell(b, 3, LaneKind::Emotions),
                "Relieved when the driver calls ahead",
                "Lina",
                "support",
                "#bdb2ff",
            );
            add(
                w,
                cell(b, 2, LaneKind::Opportunities),
                "=HYPERLINK(\"http://evil.example\",\"Click\")",
                "Mallory",
                "@other",
                "#caffbf",
            );
            let reorder = add(
                w,
                cell(b, 4, LaneKind::Opportunities),
                "Offer a one-tap reorder of last week's basket",
                "Maya",
                "product",
                "#caffbf",
            );
            for p in ["p1", "p2", "p3", "p4"] {
                w.vote(&reorder, p).expect("vote");
            }
            add(
                w,
                cell(b, 5, LaneKind::Actions),
                "Shares a referral code with a friend",
                "Maya",
                "marketing",
                "#ffd166",
            );
        },
    )
}

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// Compares `actual` with the golden file, or (with `UPDATE_GOLDEN=1`) rewrites the file.
fn check_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, actual).expect("write golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with UPDATE_GOLDEN=1 to create it)",
            path.display()
        )
    });
    if expected != actual {
        let line = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from {} from line {} on:\n  expected: {:?}\n  actual:   {:?}\n\
             (if the change is intended, rerun with UPDATE_GOLDEN=1 and review the diff)",
            path.display(),
            line + 1,
            expected.lines().nth(line),
            actual.lines().nth(line)
        );
    }
}

#[test]
fn markdown_export_matches_the_golden_file() {
    check_golden("board.md", &markdown(&golden_board()));
}

#[test]
fn csv_export_matches_the_golden_file() {
    check_golden("board.csv", &csv(&golden_board()).expect("csv"));
}

#[test]
fn svg_export_matches_the_golden_file() {
    check_golden("board.svg", &svg(&golden_board()));
}

#[test]
fn svg_is_well_formed_xml_with_every_stage_and_the_emotion_curve() {
    let board = golden_board();
    let out = svg(&board);
    let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(
        root.tag_name().namespace(),
        Some("http://www.w3.org/2000/svg")
    );
    assert!(root.attribute("viewBox").is_some());

    let has_class = |node: &roxmltree::Node, class: &str| {
        node.attribute("class")
            .is_some_and(|c| c.split_whitespace().any(|c| c == class))
    };
    let stage_groups: Vec<_> = doc
        .descendants()
        .filter(|n| has_class(n, "stage"))
        .collect();
    assert_eq!(stage_groups.len(), board.stages.len());
    for (group, stage) in stage_groups.iter().zip(&board.stages) {
        let text: String = group.descendants().filter_map(|n| n.text()).collect();
        assert!(
            text.contains(&stage.name),
            "stage {:?} not drawn",
            stage.name
        );
    }

    let curve = doc
        .descendants()
        .find(|n| has_class(n, "emotion-curve"))
        .expect("emotion curve");
    // Five of the six stages are scored: the path starts at one and has a segment to each other.
    let d = curve.attribute("d").expect("path data");
    assert_eq!(d.matches('C').count(), 4, "{d}");
    assert_eq!(
        doc.descendants()
            .filter(|n| has_class(n, "emotion-point"))
            .count(),
        5
    );
    assert_eq!(
        doc.descendants()
            .filter(|n| has_class(n, "key-touchpoint"))
            .count(),
        1
    );
    assert_eq!(
        doc.descendants().filter(|n| has_class(n, "card")).count(),
        board.cards.len()
    );
}

#[test]
fn malicious_text_never_appears_unescaped_in_svg_or_markdown() {
    let board = golden_board();
    let svg = svg(&board);
    let md = markdown(&board);
    for raw in ["<script", "<admin>", "\"quotes\"</text>"] {
        assert!(!svg.contains(raw), "raw {raw:?} in the SVG");
    }
    // In Markdown the text stays visible but every character that could open markup is
    // backslash-escaped.
    for special in ['<', '>', '[', ']', '&'] {
        for (i, _) in md.match_indices(special) {
            assert_eq!(
                &md[i - 1..i],
                "\\",
                "unescaped {special:?} at {i}: {:?}",
                &md[i.saturating_sub(20)..i + 1]
            );
        }
    }
    // The SVG shows the text as typed: its card's lines, read back by an XML parser, are the
    // original words.
    let doc = roxmltree::Document::parse(&svg).expect("well-formed XML");
    let shown: Vec<String> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("card"))
        .map(|card| {
            let lines: Vec<&str> = card
                .descendants()
                .filter(|n| n.attribute("class") == Some("ct"))
                .filter_map(|n| n.text())
                .collect();
            lines.join(" ")
        })
        .collect();
    let typed = MALICIOUS.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(shown.contains(&typed), "{typed:?} not among {shown:#?}");
    assert!(md.contains("\\<script\\>alert(1)\\</script\\> \\& \"quotes\""));
    assert!(md.contains("\\# not a heading"));
    assert!(md.contains("\\- not a list"));
    assert!(!md.lines().any(|l| l.trim_start().starts_with("# not")));

    // Also in every other field: title, persona, stage, lane, author, team, colour.
    let evil = "</text><script>x</script>\u{0}\u{1b}";
    let hostile = board_from("brainstorm", Lang::En, evil, |w, b| {
        w.rename_stage(&b.stages[0].id, evil).expect("stage");
        w.rename_lane(&b.lanes[0].id, evil).expect("lane");
        w.add_persona(&PersonaInit {
            name: evil.into(),
            goals: evil.into(),
            ..PersonaInit::default()
        });
        add(
            w,
            (b.stages[0].id.clone(), b.lanes[0].id.clone()),
            evil,
            evil,
            evil,
            "red\"/><script>",
        );
    });
    let out = super::svg(&hostile);
    roxmltree::Document::parse(&out).expect("well-formed XML");
    assert!(!out.contains("<script"));
    assert!(!out.contains('\u{1b}'));
    let md = markdown(&hostile);
    assert!(!md.contains('\u{1b}'));
    for (i, _) in md.match_indices('<') {
        assert_eq!(&md[i - 1..i], "\\", "unescaped < in {md}");
    }
}

#[test]
fn a_megabyte_of_card_text_keeps_the_svg_small() {
    let huge = "lorem ipsum <b>dolor</b> ".repeat((1 << 20) / 25 + 1);
    let no_spaces = "x".repeat(1 << 20);
    let board = board_from("brainstorm", Lang::En, &huge, |w, b| {
        let cell = (b.stages[0].id.clone(), b.lanes[0].id.clone());
        add(w, cell.clone(), &huge, &huge, &huge, "#ffd166");
        add(w, cell, &no_spaces, "", "", "");
        w.set_description(&huge);
        w.rename_stage(&b.stages[0].id, &huge).expect("stage");
        w.add_persona(&PersonaInit {
            name: huge.clone(),
            goals: huge.clone(),
            ..PersonaInit::default()
        });
    });
    assert!(board.cards[0].text.len() >= 1 << 20);
    let out = svg(&board);
    assert!(out.len() < 64 * 1024, "{} bytes", out.len());
    roxmltree::Document::parse(&out).expect("well-formed XML");
}

#[test]
fn two_thousand_cards_keep_the_svg_under_a_few_megabytes() {
    let board = board_from("customer-journey", Lang::En, "Big", |w, b| {
        for i in 0..2000 {
            let stage = &b.stages[i % b.stages.len()];
            let lane = &b.lanes[(i / b.stages.len()) % b.lanes.len()];
            let text = format!("Card {i}: {}", "a fairly long sticky note text ".repeat(8));
            add(
                w,
                (stage.id.clone(), lane.id.clone()),
                &text,
                "Someone",
                "product",
                "#ffd166",
            );
        }
    });
    assert_eq!(board.cards.len(), 2000);
    let out = svg(&board);
    assert!(out.len() < 2 * 1024 * 1024, "{} bytes", out.len());
    assert!(out.contains("more"));
    let doc = roxmltree::Document::parse(&out).expect("well-formed XML");
    let drawn = doc
        .descendants()
        .filter(|n| {
            n.attribute("class")
                .is_some_and(|c| c.split(' ').any(|c| c == "card"))
        })
        .count();
    assert!(drawn <= 600, "{drawn} cards drawn");
}

#[test]
fn csv_round_trips_newlines_and_quotes_and_guards_formulas() {
    let board = golden_board();
    let out = csv(&board).expect("csv");
    let mut reader = ::csv::Reader::from_reader(out.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .expect("header")
        .iter()
        .map(String::from)
        .collect();
    assert_eq!(
        header.join(","),
        "card_id,stage,lane,lane_kind,text,author,team,color,priority,votes,comments,created_at,updated_at,key_touchpoint"
    );
    let rows: Vec<::csv::StringRecord> = reader.records().collect::<Result<_, _>>().expect("rows");
    assert_eq!(rows.len(), board.cards.len());
    let col = |name: &str| header.iter().position(|h| h == name).expect("column");

    let pain = rows
        .iter()
        .find(|r| r[col("text")].starts_with("<script>"))
        .expect("malicious card");
    assert_eq!(
        &pain[col("text")],
        MALICIOUS,
        "embedded newlines and quotes survive"
    );
    assert_eq!(&pain[col("stage")], "Decision / purchase");
    assert_eq!(&pain[col("lane")], "Pain points");
    assert_eq!(&pain[col("lane_kind")], "painPoints");
    assert_eq!(&pain[col("comments")], "1");
    assert_eq!(&pain[col("votes")], "1");

    let formula = rows
        .iter()
        .find(|r| r[col("author")] == *"Mallory")
        .expect("formula card");
    assert_eq!(
        &formula[col("text")],
        "'=HYPERLINK(\"http://evil.example\",\"Click\")"
    );
    assert_eq!(&formula[col("team")], "'@other");

    let key: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("key_touchpoint")] == "true")
        .collect();
    assert_eq!(key.len(), 1);
    assert_eq!(&key[0][col("text")], "Checkout page");
    assert_eq!(&key[0][col("priority")], "high");
    assert_eq!(&key[0][col("votes")], "3");
    assert_eq!(&key[0][col("created_at")], "2024-03-12T09:31:00.000Z");
}

#[test]
fn exports_of_an_empty_board_are_valid() {
    let board = Board::default();
    roxmltree::Document::parse(&svg(&board)).expect("well-formed XML");
    assert!(markdown(&board).starts_with("# Untitled board"));
    assert_eq!(csv(&board).expect("csv").lines().count(), 1);
}

#[test]
fn a_french_board_keeps_its_accents_and_french_wording() {
    let board = board_from(
        "customer-journey",
        Lang::Fr,
        "Parcours d'achat été",
        |w, b| {
            w.set_stage_emotion(&b.stages[0].id, Some(-1))
                .expect("emotion");
            add(
                w,
                cell(b, 0, LaneKind::PainPoints),
                "Délai de livraison trop long à Noël",
                "Zoé",
                "après-vente",
                "#ffadad",
            );
        },
    );
    let out = svg(&board);
    roxmltree::Document::parse(&out).expect("well-formed XML");
    for expected in [
        "Sensibilisation",
        "Points de douleur",
        "Délai de livraison",
        "Émotion",
        "Négative",
        "Parcours d&apos;achat été",
    ] {
        assert!(out.contains(expected), "{expected} missing");
    }
    let md = markdown(&board);
    assert!(md.contains("### 1. Sensibilisation"));
    assert!(md.contains("**Émotion:** 🙁 −1 (Négative)"), "{md}");
}

#[test]
fn timestamps_are_utc_rfc3339() {
    use super::common::timestamp;
    assert_eq!(timestamp(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(timestamp(NOW_MS), "2024-03-12T09:30:00.000Z");
    assert_eq!(timestamp(951_782_400_000), "2000-02-29T00:00:00.000Z");
    assert_eq!(timestamp(-1), "1969-12-31T23:59:59.999Z");
}

#[test]
fn a_board_with_many_stages_and_lanes_draws_the_first_ones_and_says_how_many_are_left() {
    let board = board_from("brainstorm", Lang::En, "Wide", |w, _| {
        for i in 0..40 {
            w.add_stage(&format!("Extra stage {i}"), "");
            w.add_lane(&LaneKind::Custom, &format!("Extra lane {i}"), "");
        }
    });
    assert_eq!(board.stages.len(), 41);
    let out = svg(&board);
    roxmltree::Document::parse(&out).expect("well-formed XML");
    assert_eq!(out.matches(r#"<g class="stage">"#).count(), 30);
    assert!(out.contains("+11 more stages not shown · +11 more lanes not shown"));
    assert!(out.len() < 512 * 1024, "{} bytes", out.len());
}
