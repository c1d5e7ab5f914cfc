//! What changed between two snapshots of a board, in board terms (cards added, edited, moved,
//! voted on; emotions and metrics changed…), for live change feeds and version comparison.

use std::collections::BTreeMap;

use serde::Serialize;

use super::model::{Board, Card, Lane, Metric, Persona, Stage};

/// A stage × lane cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Cell {
    /// Stage id.
    pub stage: String,
    /// Lane id.
    pub lane: String,
}

/// One change between two snapshots. Serialised with a `change` tag in camelCase
/// (`{"change": "cardMoved", "card": "…", "from": {…}, "to": {…}}`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "camelCase")]
pub enum Change {
    /// A meta field (title, description, journey type, key touchpoint…) changed.
    #[serde(rename_all = "camelCase")]
    MetaChanged {
        /// Which field.
        field: &'static str,
        /// The value before.
        before: String,
        /// The value after.
        after: String,
    },
    /// A persona appeared.
    PersonaAdded {
        /// The persona's id.
        persona: String,
        /// Its name.
        name: String,
    },
    /// A persona was removed.
    PersonaRemoved {
        /// The persona's id.
        persona: String,
        /// Its name.
        name: String,
    },
    /// Some of a persona's fields changed.
    PersonaEdited {
        /// The persona's id.
        persona: String,
        /// Which fields changed.
        fields: Vec<&'static str>,
    },
    /// A stage appeared.
    StageAdded {
        /// The stage's id.
        stage: String,
        /// Its name.
        name: String,
    },
    /// A stage was removed.
    StageRemoved {
        /// The stage's id.
        stage: String,
        /// Its name.
        name: String,
    },
    /// A stage was renamed.
    StageRenamed {
        /// The stage's id.
        stage: String,
        /// The value before.
        before: String,
        /// The value after.
        after: String,
    },
    /// A stage's emotion score changed (the emotion curve moved).
    EmotionChanged {
        /// The stage's id.
        stage: String,
        /// The value before.
        before: Option<i64>,
        /// The value after.
        after: Option<i64>,
    },
    /// A stage metric was added, removed or changed (`None` = absent on that side).
    #[serde(rename_all = "camelCase")]
    MetricChanged {
        /// The stage's id.
        stage: String,
        /// The metric's id.
        metric: String,
        /// Its name.
        name: String,
        /// The value before.
        before: Option<f64>,
        /// The value after.
        after: Option<f64>,
    },
    /// A lane appeared.
    LaneAdded {
        /// The lane's id.
        lane: String,
        /// Its title.
        title: String,
    },
    /// A lane was removed.
    LaneRemoved {
        /// The lane's id.
        lane: String,
        /// Its title.
        title: String,
    },
    /// A lane was renamed.
    LaneRenamed {
        /// The lane's id.
        lane: String,
        /// The value before.
        before: String,
        /// The value after.
        after: String,
    },
    /// A card appeared.
    CardAdded {
        /// The card's id.
        card: String,
        /// Where it was added.
        cell: Cell,
        /// Its text.
        text: String,
        /// Who wrote it.
        author: String,
    },
    /// A card was deleted.
    CardRemoved {
        /// The card's id.
        card: String,
        /// Where it was, so that a history can say what the team took off which part of the map.
        cell: Cell,
        /// Its text.
        text: String,
    },
    /// A card's text changed.
    CardEdited {
        /// The card's id.
        card: String,
        /// The value before.
        before: String,
        /// The value after.
        after: String,
    },
    /// A card moved to another cell.
    CardMoved {
        /// The card's id.
        card: String,
        /// The cell it left.
        from: Cell,
        /// The cell it moved to.
        to: Cell,
    },
    /// A card's colour, team or priority changed.
    CardRestyled {
        /// The card's id.
        card: String,
        /// Which field.
        field: &'static str,
        /// The value before.
        before: String,
        /// The value after.
        after: String,
    },
    /// A card's vote total changed.
    VotesChanged {
        /// The card's id.
        card: String,
        /// The value before.
        before: i64,
        /// The value after.
        after: i64,
    },
    /// A comment was added to a card.
    CommentAdded {
        /// The card's id.
        card: String,
        /// The comment's id.
        comment: String,
        /// Who wrote it.
        author: String,
        /// Its text.
        text: String,
    },
    /// A comment was removed from a card.
    CommentRemoved {
        /// The card's id.
        card: String,
        /// The comment's id.
        comment: String,
    },
}

/// The changes that turn `before` into `after`, in a stable order: meta, personas, stages, lanes,
/// then cards; within each, by id. Reordering alone (positions) is not reported.
///
/// A stage that appears with an emotion score also reports it ([`Change::EmotionChanged`] from
/// `None`), and a card that appears with votes or comments reports them
/// ([`Change::VotesChanged`] from 0, [`Change::CommentAdded`]): in a workshop, cards are written
/// and voted on between the same two versions, and the votes are what the team acts on.
pub fn diff(before: &Board, after: &Board) -> Vec<Change> {
    let mut changes = Vec::new();
    diff_meta(before, after, &mut changes);
    diff_by_id(
        &before.personas,
        &after.personas,
        |p| &p.id,
        &mut changes,
        persona_change,
    );
    diff_by_id(
        &before.stages,
        &after.stages,
        |s| &s.id,
        &mut changes,
        stage_change,
    );
    diff_by_id(
        &before.lanes,
        &after.lanes,
        |l| &l.id,
        &mut changes,
        lane_change,
    );
    diff_by_id(
        &before.cards,
        &after.cards,
        |c| &c.id,
        &mut changes,
        card_change,
    );
    changes
}

fn diff_meta(before: &Board, after: &Board, out: &mut Vec<Change>) {
    let (b, a) = (&before.meta, &after.meta);
    let fields: [(&'static str, String, String); 5] = [
        ("title", b.title.clone(), a.title.clone()),
        ("description", b.description.clone(), a.description.clone()),
        (
            "journeyType",
            b.journey_type.as_str().to_owned(),
            a.journey_type.as_str().to_owned(),
        ),
        (
            "mapKind",
            b.map_kind.as_str().to_owned(),
            a.map_kind.as_str().to_owned(),
        ),
        (
            "keyTouchpoint",
            b.key_touchpoint.clone().unwrap_or_default(),
            a.key_touchpoint.clone().unwrap_or_default(),
        ),
    ];
    for (field, before, after) in fields {
        if before != after {
            out.push(Change::MetaChanged {
                field,
                before,
                after,
            });
        }
    }
}

/// Pairs items by id and reports each pair (`None` on the side where it is absent).
fn diff_by_id<'a, T>(
    before: &'a [T],
    after: &'a [T],
    id: impl Fn(&T) -> &String,
    out: &mut Vec<Change>,
    change: impl Fn(Option<&T>, Option<&T>, &mut Vec<Change>),
) {
    let mut pairs: BTreeMap<&String, (Option<&T>, Option<&T>)> = BTreeMap::new();
    for item in before {
        pairs.entry(id(item)).or_default().0 = Some(item);
    }
    for item in after {
        pairs.entry(id(item)).or_default().1 = Some(item);
    }
    for (_, (b, a)) in pairs {
        change(b, a, out);
    }
}

fn persona_change(before: Option<&Persona>, after: Option<&Persona>, out: &mut Vec<Change>) {
    match (before, after) {
        (None, Some(p)) => out.push(Change::PersonaAdded {
            persona: p.id.clone(),
            name: p.name.clone(),
        }),
        (Some(p), None) => out.push(Change::PersonaRemoved {
            persona: p.id.clone(),
            name: p.name.clone(),
        }),
        (Some(b), Some(a)) => {
            let fields: Vec<&'static str> = [
                ("name", b.name != a.name),
                ("pictureUrl", b.picture_url != a.picture_url),
                ("ageRange", b.age_range != a.age_range),
                ("occupation", b.occupation != a.occupation),
                ("familySituation", b.family_situation != a.family_situation),
                ("interests", b.interests != a.interests),
                ("buyingHabits", b.buying_habits != a.buying_habits),
                ("digitalComfort", b.digital_comfort != a.digital_comfort),
                ("goals", b.goals != a.goals),
                ("frustrations", b.frustrations != a.frustrations),
            ]
            .into_iter()
            .filter_map(|(field, changed)| changed.then_some(field))
            .collect();
            if !fields.is_empty() {
                out.push(Change::PersonaEdited {
                    persona: a.id.clone(),
                    fields,
                });
            }
        }
        (None, None) => {}
    }
}

fn stage_change(before: Option<&Stage>, after: Option<&Stage>, out: &mut Vec<Change>) {
    match (before, after) {
        (None, Some(s)) => {
            out.push(Change::StageAdded {
                stage: s.id.clone(),
                name: s.name.clone(),
            });
            if s.emotion.is_some() {
                out.push(Change::EmotionChanged {
                    stage: s.id.clone(),
                    before: None,
                    after: s.emotion,
                });
            }
        }
        (Some(s), None) => out.push(Change::StageRemoved {
            stage: s.id.clone(),
            name: s.name.clone(),
        }),
        (Some(b), Some(a)) => {
            if b.name != a.name {
                out.push(Change::StageRenamed {
                    stage: a.id.clone(),
                    before: b.name.clone(),
                    after: a.name.clone(),
                });
            }
            if b.emotion != a.emotion {
                out.push(Change::EmotionChanged {
                    stage: a.id.clone(),
                    before: b.emotion,
                    after: a.emotion,
                });
            }
            diff_by_id(
                &b.metrics,
                &a.metrics,
                |m| &m.id,
                out,
                |mb, ma, out| metric_change(&a.id, mb, ma, out),
            );
        }
        (None, None) => {}
    }
}

fn metric_change(
    stage: &str,
    before: Option<&Metric>,
    after: Option<&Metric>,
    out: &mut Vec<Change>,
) {
    let value = |m: Option<&Metric>| m.map(|m| m.value);
    let Some(m) = after.or(before) else { return };
    if value(before) != value(after) || before.is_none() != after.is_none() {
        out.push(Change::MetricChanged {
            stage: stage.to_owned(),
            metric: m.id.clone(),
            name: m.name.clone(),
            before: value(before),
            after: value(after),
        });
    }
}

fn lane_change(before: Option<&Lane>, after: Option<&Lane>, out: &mut Vec<Change>) {
    match (before, after) {
        (None, Some(l)) => out.push(Change::LaneAdded {
            lane: l.id.clone(),
            title: l.title.clone(),
        }),
        (Some(l), None) => out.push(Change::LaneRemoved {
            lane: l.id.clone(),
            title: l.title.clone(),
        }),
        (Some(b), Some(a)) if b.title != a.title => out.push(Change::LaneRenamed {
            lane: a.id.clone(),
            before: b.title.clone(),
            after: a.title.clone(),
        }),
        _ => {}
    }
}

fn cell(card: &Card) -> Cell {
    Cell {
        stage: card.stage.clone(),
        lane: card.lane.clone(),
    }
}

fn card_change(before: Option<&Card>, after: Option<&Card>, out: &mut Vec<Change>) {
    let (b, a) = match (before, after) {
        (None, Some(c)) => {
            out.push(Change::CardAdded {
                card: c.id.clone(),
                cell: cell(c),
                text: c.text.clone(),
                author: c.author.clone(),
            });
            votes_and_comments(None, c, out);
            return;
        }
        (Some(c), None) => {
            out.push(Change::CardRemoved {
                card: c.id.clone(),
                cell: cell(c),
                text: c.text.clone(),
            });
            return;
        }
        (Some(b), Some(a)) => (b, a),
        (None, None) => return,
    };
    let id = || a.id.clone();
    if b.text != a.text {
        out.push(Change::CardEdited {
            card: id(),
            before: b.text.clone(),
            after: a.text.clone(),
        });
    }
    if (&b.stage, &b.lane) != (&a.stage, &a.lane) {
        out.push(Change::CardMoved {
            card: id(),
            from: cell(b),
            to: cell(a),
        });
    }
    let priority = |c: &Card| {
        c.priority
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default()
    };
    for (field, before, after) in [
        ("color", b.color.clone(), a.color.clone()),
        ("team", b.team.clone(), a.team.clone()),
        ("priority", priority(b), priority(a)),
    ] {
        if before != after {
            out.push(Change::CardRestyled {
                card: id(),
                field,
                before,
                after,
            });
        }
    }
    votes_and_comments(Some(b), a, out);
}

/// Vote and comment changes of a card that is on the board after (`before` is `None` when it
/// was added).
fn votes_and_comments(before: Option<&Card>, after: &Card, out: &mut Vec<Change>) {
    let id = || after.id.clone();
    let votes_before = before.map_or(0, Card::vote_total);
    if votes_before != after.vote_total() {
        out.push(Change::VotesChanged {
            card: id(),
            before: votes_before,
            after: after.vote_total(),
        });
    }
    let old: BTreeMap<&str, _> = before
        .map(|b| b.comments.iter().map(|c| (c.id.as_str(), c)).collect())
        .unwrap_or_default();
    let new: BTreeMap<&str, _> = after.comments.iter().map(|c| (c.id.as_str(), c)).collect();
    for (comment_id, comment) in &new {
        if !old.contains_key(comment_id) {
            out.push(Change::CommentAdded {
                card: id(),
                comment: comment.id.clone(),
                author: comment.author.clone(),
                text: comment.text.clone(),
            });
        }
    }
    for comment_id in old.keys() {
        if !new.contains_key(comment_id) {
            out.push(Change::CommentRemoved {
                card: id(),
                comment: (*comment_id).to_owned(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schema::{instantiate, BoardRefs, BoardWriter, IdGen, Lang, NewCard};
    use yrs::{Doc, Transact};

    fn board_with_one_card() -> (Doc, BoardRefs, String) {
        let doc = Doc::with_client_id(7);
        let refs = BoardRefs::new(&doc);
        let card = {
            let mut txn = doc.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &refs, 1).with_ids(IdGen::from_seed(1));
            instantiate(&mut w, "customer-journey", Lang::En, "Diff", None).unwrap();
            let board = Board::read(w.txn());
            let (stage, lane) = (board.stages[0].id.clone(), board.lanes[0].id.clone());
            w.add_card(&NewCard {
                stage,
                lane,
                text: "Slow checkout".into(),
                author: "Ana".into(),
                ..NewCard::default()
            })
            .unwrap()
        };
        (doc, refs, card)
    }

    #[test]
    fn identical_boards_have_no_changes() {
        let (doc, _, _) = board_with_one_card();
        let board = Board::from_doc(&doc);
        assert!(diff(&board, &board).is_empty());
    }

    #[test]
    fn edits_moves_votes_and_emotions_are_reported_in_board_terms() {
        let (doc, refs, card) = board_with_one_card();
        let before = Board::from_doc(&doc);
        let (stage2, lane2, stage1) = (
            before.stages[1].id.clone(),
            before.lanes[1].id.clone(),
            before.stages[0].id.clone(),
        );
        {
            let mut txn = doc.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &refs, 2);
            w.set_card_text(&card, "Very slow checkout").unwrap();
            w.move_card(&card, &stage2, &lane2, 1.0).unwrap();
            w.vote(&card, "p1").unwrap();
            w.set_stage_emotion(&stage1, Some(-2)).unwrap();
            w.set_title("Diff v2");
        }
        let after = Board::from_doc(&doc);
        let changes = diff(&before, &after);
        let tags: Vec<String> = changes
            .iter()
            .map(|c| {
                serde_json::to_value(c).unwrap()["change"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            tags,
            [
                "metaChanged",
                "emotionChanged",
                "cardEdited",
                "cardMoved",
                "votesChanged"
            ]
        );
        assert!(changes.contains(&Change::CardEdited {
            card: card.clone(),
            before: "Slow checkout".into(),
            after: "Very slow checkout".into(),
        }));
    }

    #[test]
    fn added_and_removed_cards_carry_their_text() {
        let (doc, refs, card) = board_with_one_card();
        let before = Board::from_doc(&doc);
        {
            let mut txn = doc.transact_mut();
            BoardWriter::new(&mut txn, &refs, 3)
                .delete_card(&card)
                .unwrap();
        }
        let after = Board::from_doc(&doc);
        assert_eq!(
            diff(&before, &after),
            vec![Change::CardRemoved {
                card: card.clone(),
                cell: Cell {
                    stage: before.stages[0].id.clone(),
                    lane: before.lanes[0].id.clone(),
                },
                text: "Slow checkout".into()
            }]
        );
        assert!(
            matches!(&diff(&after, &before)[0], Change::CardAdded { text, .. } if text == "Slow checkout")
        );
    }

    #[test]
    fn taking_back_the_only_vote_is_reported() {
        let (doc, refs, card) = board_with_one_card();
        {
            let mut txn = doc.transact_mut();
            BoardWriter::new(&mut txn, &refs, 2)
                .vote(&card, "p1")
                .unwrap();
        }
        let before = Board::from_doc(&doc);
        {
            let mut txn = doc.transact_mut();
            BoardWriter::new(&mut txn, &refs, 3)
                .unvote(&card, "p1")
                .unwrap();
        }
        assert_eq!(
            diff(&before, &Board::from_doc(&doc)),
            vec![Change::VotesChanged {
                card,
                before: 1,
                after: 0
            }]
        );
    }

    #[test]
    fn a_card_that_arrives_with_votes_and_a_comment_reports_them() {
        let (doc, refs, _) = board_with_one_card();
        let before = Board::from_doc(&doc);
        let card = {
            let mut txn = doc.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &refs, 2);
            let card = w
                .add_card(&NewCard {
                    stage: before.stages[1].id.clone(),
                    lane: before.lanes[0].id.clone(),
                    text: "Chat with an advisor".into(),
                    author: "Bruno".into(),
                    ..NewCard::default()
                })
                .unwrap();
            w.vote(&card, "p1").unwrap();
            w.vote(&card, "p2").unwrap();
            w.add_comment(&card, "Ana", "Yes!").unwrap();
            card
        };
        let changes = diff(&before, &Board::from_doc(&doc));
        let tags: Vec<String> = changes
            .iter()
            .map(|c| serde_json::to_value(c).unwrap()["change"].to_string())
            .collect();
        assert_eq!(
            tags,
            [r#""cardAdded""#, r#""votesChanged""#, r#""commentAdded""#]
        );
        assert!(changes.contains(&Change::VotesChanged {
            card,
            before: 0,
            after: 2
        }));
    }

    #[test]
    fn a_stage_that_arrives_with_an_emotion_reports_it() {
        let (doc, refs, _) = board_with_one_card();
        let before = Board::from_doc(&doc);
        let stage = {
            let mut txn = doc.transact_mut();
            let mut w = BoardWriter::new(&mut txn, &refs, 2);
            let stage = w.add_stage("Renewal", "");
            w.set_stage_emotion(&stage, Some(1)).unwrap();
            stage
        };
        assert_eq!(
            diff(&before, &Board::from_doc(&doc)),
            vec![
                Change::StageAdded {
                    stage: stage.clone(),
                    name: "Renewal".into()
                },
                Change::EmotionChanged {
                    stage,
                    before: None,
                    after: Some(1)
                }
            ]
        );
    }

    #[test]
    fn every_change_kind_is_documented_in_schema_md() {
        let schema = include_str!("../../../SCHEMA.md");
        let cell = || Cell {
            stage: "s".into(),
            lane: "l".into(),
        };
        let (id, text) = (String::new, String::new);
        let every_kind = [
            Change::MetaChanged {
                field: "title",
                before: text(),
                after: text(),
            },
            Change::PersonaAdded {
                persona: id(),
                name: text(),
            },
            Change::PersonaRemoved {
                persona: id(),
                name: text(),
            },
            Change::PersonaEdited {
                persona: id(),
                fields: vec![],
            },
            Change::StageAdded {
                stage: id(),
                name: text(),
            },
            Change::StageRemoved {
                stage: id(),
                name: text(),
            },
            Change::StageRenamed {
                stage: id(),
                before: text(),
                after: text(),
            },
            Change::EmotionChanged {
                stage: id(),
                before: None,
                after: None,
            },
            Change::MetricChanged {
                stage: id(),
                metric: id(),
                name: text(),
                before: None,
                after: None,
            },
            Change::LaneAdded {
                lane: id(),
                title: text(),
            },
            Change::LaneRemoved {
                lane: id(),
                title: text(),
            },
            Change::LaneRenamed {
                lane: id(),
                before: text(),
                after: text(),
            },
            Change::CardAdded {
                card: id(),
                cell: cell(),
                text: text(),
                author: text(),
            },
            Change::CardRemoved {
                card: id(),
                cell: cell(),
                text: text(),
            },
            Change::CardEdited {
                card: id(),
                before: text(),
                after: text(),
            },
            Change::CardMoved {
                card: id(),
                from: cell(),
                to: cell(),
            },
            Change::CardRestyled {
                card: id(),
                field: "color",
                before: text(),
                after: text(),
            },
            Change::VotesChanged {
                card: id(),
                before: 0,
                after: 0,
            },
            Change::CommentAdded {
                card: id(),
                comment: id(),
                author: text(),
                text: text(),
            },
            Change::CommentRemoved {
                card: id(),
                comment: id(),
            },
        ];
        for change in every_kind {
            let json = serde_json::to_value(&change).unwrap();
            let tag = json["change"].as_str().unwrap();
            assert!(
                schema.contains(&format!("`{tag}`")),
                "{tag} is not in SCHEMA.md"
            );
            for field in json.as_object().unwrap().keys() {
                assert!(
                    schema.contains(&format!("`{field}`")),
                    "{tag}.{field} is not in SCHEMA.md"
                );
            }
        }
    }
}
