//! Checks a [`Board`] snapshot for what the CRDT cannot prevent.
//!
//! Any client can write anything into a Yjs document, and concurrent edits can combine into
//! states no single client produced (a card moved into a stage another participant deleted at the
//! same moment). So nothing here rejects a board: [`validate`] lists what is off, each finding with
//! a path into the document, and the caller decides (the server reports, a client offers a fix).

use std::collections::{BTreeMap, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::model::{Board, LaneKind, SCHEMA_VERSION};

/// How much a finding matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Content is hidden, misplaced or unreadable (a card in a missing stage, a value of the wrong
    /// type): someone should fix it.
    Error,
    /// Odd but harmless: the board shows fine (a missing title, a value from a newer client).
    Warning,
}

/// What kind of finding a [`Problem`] is. The snake_case strings are stable: clients match on
/// them, and SCHEMA.md lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// A value had the wrong Yjs type (a card that is a string, a title that is a number, a card
    /// text that is a plain string instead of a Y.Text); it was read as the default.
    WrongType,
    /// `meta.title` is empty or absent.
    MissingTitle,
    /// `meta.schemaVersion` is absent: the board was not created through a template or writer.
    MissingSchemaVersion,
    /// `meta.schemaVersion` is not one this crate understands (a newer layout).
    UnsupportedSchemaVersion,
    /// `meta.journeyType` is not a documented value.
    UnknownJourneyType,
    /// `meta.mapKind` is not a documented value.
    UnknownMapKind,
    /// `meta.lang` is not a language this crate has text for.
    UnknownLang,
    /// A lane's `kind` is not a documented value.
    UnknownLaneKind,
    /// A card's `priority` is not "low", "medium" or "high".
    UnknownPriority,
    /// A stage's `emotion` is outside −2..=2.
    EmotionOutOfRange,
    /// A stage's `emotion` is a number but not an integer.
    EmotionNotInteger,
    /// A card's `stage` names no existing stage: the card is invisible.
    CardStageMissing,
    /// A card's `lane` names no existing lane: the card is invisible.
    CardLaneMissing,
    /// `meta.keyTouchpoint` names no existing card.
    KeyTouchpointMissing,
    /// `meta.keyTouchpoint` names a card that is not in a touchpoints lane.
    KeyTouchpointNotTouchpoint,
    /// A participant has a negative vote count on a card.
    NegativeVotes,
    /// The same id is used twice: twice in one collection (only possible in a JSON board), or
    /// across collections (a stage and a lane with the same id), which makes ids ambiguous in
    /// exports and paths.
    DuplicateId,
    /// Two stages have the same name: usually a template applied twice, or a copy-paste.
    DuplicateStageName,
}

impl ProblemCode {
    /// Every code, in documentation order (for clients building a legend, and for tests).
    pub const ALL: &'static [ProblemCode] = &[
        ProblemCode::WrongType,
        ProblemCode::MissingTitle,
        ProblemCode::MissingSchemaVersion,
        ProblemCode::UnsupportedSchemaVersion,
        ProblemCode::UnknownJourneyType,
        ProblemCode::UnknownMapKind,
        ProblemCode::UnknownLang,
        ProblemCode::UnknownLaneKind,
        ProblemCode::UnknownPriority,
        ProblemCode::EmotionOutOfRange,
        ProblemCode::EmotionNotInteger,
        ProblemCode::CardStageMissing,
        ProblemCode::CardLaneMissing,
        ProblemCode::KeyTouchpointMissing,
        ProblemCode::KeyTouchpointNotTouchpoint,
        ProblemCode::NegativeVotes,
        ProblemCode::DuplicateId,
        ProblemCode::DuplicateStageName,
    ];

    /// The stable snake_case code.
    pub fn as_str(self) -> &'static str {
        use ProblemCode::*;
        match self {
            WrongType => "wrong_type",
            MissingTitle => "missing_title",
            MissingSchemaVersion => "missing_schema_version",
            UnsupportedSchemaVersion => "unsupported_schema_version",
            UnknownJourneyType => "unknown_journey_type",
            UnknownMapKind => "unknown_map_kind",
            UnknownLang => "unknown_lang",
            UnknownLaneKind => "unknown_lane_kind",
            UnknownPriority => "unknown_priority",
            EmotionOutOfRange => "emotion_out_of_range",
            EmotionNotInteger => "emotion_not_integer",
            CardStageMissing => "card_stage_missing",
            CardLaneMissing => "card_lane_missing",
            KeyTouchpointMissing => "key_touchpoint_missing",
            KeyTouchpointNotTouchpoint => "key_touchpoint_not_touchpoint",
            NegativeVotes => "negative_votes",
            DuplicateId => "duplicate_id",
            DuplicateStageName => "duplicate_stage_name",
        }
    }

    /// The severity this code always has.
    pub fn severity(self) -> Severity {
        use ProblemCode::*;
        match self {
            MissingTitle | MissingSchemaVersion | UnknownJourneyType | UnknownMapKind
            | UnknownLang | UnknownLaneKind | UnknownPriority | DuplicateStageName => {
                Severity::Warning
            }
            WrongType
            | UnsupportedSchemaVersion
            | EmotionOutOfRange
            | EmotionNotInteger
            | CardStageMissing
            | CardLaneMissing
            | KeyTouchpointMissing
            | KeyTouchpointNotTouchpoint
            | NegativeVotes
            | DuplicateId => Severity::Error,
        }
    }
}

impl fmt::Display for ProblemCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding about a board.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// Where, as Yjs keys joined by `/` from a root type: `cards/3f9a…/stage`,
    /// `stages/b2c1…/metrics/77d0…/value`, `meta/title`.
    pub path: String,
    /// What kind of finding (stable).
    pub code: ProblemCode,
    /// How much it matters (follows from `code`).
    pub severity: Severity,
    /// A sentence for humans (English).
    pub message: String,
}

impl Problem {
    /// A finding with the severity its code implies.
    pub fn new(path: impl Into<String>, code: ProblemCode, message: impl Into<String>) -> Self {
        Problem {
            path: path.into(),
            code,
            severity: code.severity(),
            message: message.into(),
        }
    }
}

/// Lists everything off in `board`, errors and warnings alike, in a stable order: read problems
/// first, then meta, stages, lanes, cards.
///
/// Never fails and never stops early: a board with problems is still a board, and the user needs
/// the whole list to fix it.
pub fn validate(board: &Board) -> Vec<Problem> {
    let mut out = board.read_problems.clone();
    check_meta(board, &mut out);
    check_ids(board, &mut out);
    check_stages(board, &mut out);
    check_lanes(board, &mut out);
    check_cards(board, &mut out);
    out
}

fn check_meta(board: &Board, out: &mut Vec<Problem>) {
    let meta = &board.meta;
    if meta.title.trim().is_empty() {
        out.push(Problem::new(
            "meta/title",
            ProblemCode::MissingTitle,
            "the board has no title",
        ));
    }
    if meta.schema_version == 0 {
        out.push(Problem::new(
            "meta/schemaVersion",
            ProblemCode::MissingSchemaVersion,
            "the board has no schemaVersion; it is read as version 1",
        ));
    } else if meta.schema_version != SCHEMA_VERSION {
        out.push(Problem::new(
            "meta/schemaVersion",
            ProblemCode::UnsupportedSchemaVersion,
            format!(
                "schemaVersion {} is not supported (this version understands {SCHEMA_VERSION})",
                meta.schema_version
            ),
        ));
    }
    if !meta.journey_type.is_known() {
        out.push(Problem::new(
            "meta/journeyType",
            ProblemCode::UnknownJourneyType,
            format!("unknown journey type {:?}", meta.journey_type.as_str()),
        ));
    }
    if !meta.map_kind.is_known() {
        out.push(Problem::new(
            "meta/mapKind",
            ProblemCode::UnknownMapKind,
            format!("unknown map kind {:?}", meta.map_kind.as_str()),
        ));
    }
    if let Some(key) = &meta.key_touchpoint {
        match board.card(key) {
            None => out.push(Problem::new(
                "meta/keyTouchpoint",
                ProblemCode::KeyTouchpointMissing,
                format!("the key touchpoint is card {key:?}, which does not exist"),
            )),
            Some(card) => {
                let in_touchpoints =
                    board.lane(&card.lane).map(|l| &l.kind) == Some(&LaneKind::Touchpoints);
                if !in_touchpoints {
                    out.push(Problem::new(
                        "meta/keyTouchpoint",
                        ProblemCode::KeyTouchpointNotTouchpoint,
                        format!("the key touchpoint, card {key:?}, is not in a touchpoints lane"),
                    ));
                }
            }
        }
    }
}

/// Ids must be unique within a collection and across the four top-level collections.
fn check_ids(board: &Board, out: &mut Vec<Problem>) {
    let mut seen: HashMap<&str, &'static str> = HashMap::new();
    let all = board
        .personas
        .iter()
        .map(|p| ("personas", p.id.as_str()))
        .chain(board.stages.iter().map(|s| ("stages", s.id.as_str())))
        .chain(board.lanes.iter().map(|l| ("lanes", l.id.as_str())))
        .chain(board.cards.iter().map(|c| ("cards", c.id.as_str())));
    for (root, id) in all {
        if let Some(first) = seen.insert(id, root) {
            out.push(Problem::new(
                format!("{root}/{id}"),
                ProblemCode::DuplicateId,
                format!("id {id:?} is already used in {first}"),
            ));
        }
    }
    for stage in &board.stages {
        let mut metric_ids = HashMap::new();
        for metric in &stage.metrics {
            if metric_ids.insert(metric.id.as_str(), ()).is_some() {
                out.push(Problem::new(
                    format!("stages/{}/metrics/{}", stage.id, metric.id),
                    ProblemCode::DuplicateId,
                    format!("metric id {:?} is used twice in this stage", metric.id),
                ));
            }
        }
    }
    for card in &board.cards {
        let mut comment_ids = HashMap::new();
        for comment in &card.comments {
            if comment_ids.insert(comment.id.as_str(), ()).is_some() {
                out.push(Problem::new(
                    format!("cards/{}/comments/{}", card.id, comment.id),
                    ProblemCode::DuplicateId,
                    format!("comment id {:?} is used twice on this card", comment.id),
                ));
            }
        }
    }
}

fn check_stages(board: &Board, out: &mut Vec<Problem>) {
    let mut names: BTreeMap<String, &str> = BTreeMap::new();
    for stage in &board.stages {
        if let Some(e) = stage.emotion {
            if !(-2..=2).contains(&e) {
                out.push(Problem::new(
                    format!("stages/{}/emotion", stage.id),
                    ProblemCode::EmotionOutOfRange,
                    format!("emotion {e} is outside -2..=2"),
                ));
            }
        }
        let name = stage.name.trim().to_lowercase();
        if name.is_empty() {
            continue;
        }
        if let Some(first) = names.get(&name) {
            out.push(Problem::new(
                format!("stages/{}/name", stage.id),
                ProblemCode::DuplicateStageName,
                format!(
                    "stage {:?} has the same name as stage {first:?}",
                    stage.name
                ),
            ));
        } else {
            names.insert(name, &stage.id);
        }
    }
}

fn check_lanes(board: &Board, out: &mut Vec<Problem>) {
    for lane in &board.lanes {
        if !lane.kind.is_known() {
            out.push(Problem::new(
                format!("lanes/{}/kind", lane.id),
                ProblemCode::UnknownLaneKind,
                format!(
                    "unknown lane kind {:?}; shown as a custom lane",
                    lane.kind.as_str()
                ),
            ));
        }
    }
}

fn check_cards(board: &Board, out: &mut Vec<Problem>) {
    for card in &board.cards {
        if board.stage(&card.stage).is_none() {
            out.push(Problem::new(
                format!("cards/{}/stage", card.id),
                ProblemCode::CardStageMissing,
                format!(
                    "the card is in stage {:?}, which does not exist",
                    card.stage
                ),
            ));
        }
        if board.lane(&card.lane).is_none() {
            out.push(Problem::new(
                format!("cards/{}/lane", card.id),
                ProblemCode::CardLaneMissing,
                format!("the card is in lane {:?}, which does not exist", card.lane),
            ));
        }
        for (participant, &count) in &card.votes {
            if count < 0 {
                out.push(Problem::new(
                    format!("cards/{}/votes/{participant}", card.id),
                    ProblemCode::NegativeVotes,
                    format!("participant {participant:?} has {count} votes"),
                ));
            }
        }
    }
}
