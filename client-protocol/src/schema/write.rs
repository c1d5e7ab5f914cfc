//! Editing a board inside a caller's yrs transaction.
//!
//! Every operation is a handful of map writes on one [`TransactionMut`] the caller owns, so the
//! caller decides what is atomic (a template is one transaction; so is "move this card and vote
//! for it"). The operations only ever set keys on the item they change, never rebuild a
//! collection: that is what lets concurrent edits of different fields, or of a card's text while
//! someone else moves it, merge without loss (SCHEMA.md explains the layout).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use yrs::{
    Any, Doc, GetString, In, Map, MapPrelim, MapRef, OffsetKind, Out, ReadTxn, Text, TextPrelim,
    TextRef, TransactionMut, WriteTxn,
};

use super::model::{
    keys, position_between, JourneyType, LaneKind, Lang, MapKind, PersonaInit, Priority,
    SCHEMA_VERSION,
};

/// Why a write was refused. Nothing is written when an operation returns an error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// No persona has this id.
    #[error("no persona with id {0:?}")]
    UnknownPersona(String),
    /// No stage has this id.
    #[error("no stage with id {0:?}")]
    UnknownStage(String),
    /// No lane has this id.
    #[error("no lane with id {0:?}")]
    UnknownLane(String),
    /// No card has this id.
    #[error("no card with id {0:?}")]
    UnknownCard(String),
    /// The stage exists but has no such metric.
    #[error("stage {stage:?} has no metric {metric:?}")]
    UnknownMetric {
        /// The stage id.
        stage: String,
        /// The metric id.
        metric: String,
    },
    /// The card exists but has no such comment.
    #[error("card {card:?} has no comment {comment:?}")]
    UnknownComment {
        /// The card id.
        card: String,
        /// The comment id.
        comment: String,
    },
    /// Emotions are integers from −2 to +2; the emotion curve has no other scale.
    #[error("emotion {0} is outside -2..=2")]
    EmotionOutOfRange(i64),
    /// NaN and infinities cannot be ordered or shown; they would corrupt sorting.
    #[error("{0} must be a finite number")]
    NotFinite(&'static str),
    /// A text position past the end of a card's text.
    #[error("position {index} is past the end of card {card:?}'s text ({len} characters)")]
    TextOutOfRange {
        /// The card id.
        card: String,
        /// The position asked for, in characters.
        index: usize,
        /// The text's length, in characters.
        len: usize,
    },
    /// Only a card in a touchpoints lane can be the key touchpoint.
    #[error("card {0:?} is not in a touchpoints lane")]
    NotATouchpoint(String),
    /// The item exists but is not a Y.Map (some client wrote something else there).
    #[error("{0} is not a Y.Map")]
    WrongType(String),
    /// [`instantiate`](crate::schema::instantiate) was given an id no template has.
    #[error("no template with id {0:?}")]
    UnknownTemplate(String),
    /// [`instantiate`](crate::schema::instantiate) only fills an empty board, so that a template
    /// is never mixed into existing work.
    #[error("the board already has stages, lanes or cards")]
    BoardNotEmpty,
}

/// Handles on the six root maps of a board.
///
/// Root types must be obtained before a write transaction is opened: `Doc::get_or_insert_map`
/// opens a transaction of its own and blocks (or panics) while another is open. Build this
/// once per document and keep it; the handles stay valid for the document's life.
#[derive(Debug, Clone)]
pub struct BoardRefs {
    /// `meta`
    pub meta: MapRef,
    /// `personas`
    pub personas: MapRef,
    /// `stages`
    pub stages: MapRef,
    /// `lanes`
    pub lanes: MapRef,
    /// `cards`
    pub cards: MapRef,
    /// `workshop`
    pub workshop: MapRef,
}

impl BoardRefs {
    /// Gets (defining if needed) the root maps. Call with no transaction open on `doc`.
    pub fn new(doc: &Doc) -> Self {
        BoardRefs {
            meta: doc.get_or_insert_map(keys::META),
            personas: doc.get_or_insert_map(keys::PERSONAS),
            stages: doc.get_or_insert_map(keys::STAGES),
            lanes: doc.get_or_insert_map(keys::LANES),
            cards: doc.get_or_insert_map(keys::CARDS),
            workshop: doc.get_or_insert_map(keys::WORKSHOP),
        }
    }

    /// Gets (defining if needed) the root maps from inside an open write transaction.
    pub fn from_txn(txn: &mut TransactionMut) -> Self {
        BoardRefs {
            meta: txn.get_or_insert_map(keys::META),
            personas: txn.get_or_insert_map(keys::PERSONAS),
            stages: txn.get_or_insert_map(keys::STAGES),
            lanes: txn.get_or_insert_map(keys::LANES),
            cards: txn.get_or_insert_map(keys::CARDS),
            workshop: txn.get_or_insert_map(keys::WORKSHOP),
        }
    }
}

/// A source of item ids: 16 lowercase hex characters (64 bits), so that ids made concurrently
/// by different clients do not collide.
///
/// Deterministic for a given seed, so tests can predict ids; [`BoardWriter::new`] seeds it from
/// the document's client id, its local clock and the time.
#[derive(Debug, Clone)]
pub struct IdGen {
    state: u64,
}

impl IdGen {
    /// A generator whose ids depend only on `seed`.
    pub fn from_seed(seed: u64) -> Self {
        IdGen { state: seed }
    }

    /// The next id (splitmix64: tiny, and every seed gives a full-period, well-mixed sequence).
    pub fn next_id(&mut self) -> String {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        format!("{:016x}", mix(self.state))
    }
}

/// The splitmix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Board-level fields set by [`BoardWriter::init_meta`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetaInit {
    /// Board title.
    pub title: String,
    /// Free-text description.
    pub description: String,
    /// Kind of interaction.
    pub journey_type: JourneyType,
    /// Journey or experience map.
    pub map_kind: MapKind,
    /// Language of the board's text.
    pub lang: Lang,
    /// Template id ("" if none).
    pub template: String,
}

/// A metric's fields, for [`BoardWriter::add_metric`] and [`BoardWriter::update_metric`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricInit {
    /// Display name.
    pub name: String,
    /// Measured value.
    pub value: f64,
    /// Unit ("%", "s", "visits").
    pub unit: String,
    /// Target, if any.
    pub target: Option<f64>,
}

/// A card to add with [`BoardWriter::add_card`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NewCard {
    /// Stage id (must exist).
    pub stage: String,
    /// Lane id (must exist).
    pub lane: String,
    /// Initial text.
    pub text: String,
    /// Author's display name.
    pub author: String,
    /// Colour ("#ffd166").
    pub color: String,
    /// Owning team.
    pub team: String,
}

/// Edits one board within one write transaction.
///
/// Short-lived: make one per transaction, run the operations, drop it, then commit (drop) the
/// transaction. `now_ms` stamps every `updatedAt`/`createdAt` it writes, so a test can pass a
/// fixed clock.
pub struct BoardWriter<'a, 'doc> {
    /// The caller's transaction; everything written here commits together.
    txn: &'a mut TransactionMut<'doc>,
    /// Root maps of the board, obtained before the transaction was opened.
    refs: &'a BoardRefs,
    /// The time written into timestamps, ms since the epoch.
    now_ms: i64,
    /// Where new ids come from.
    ids: IdGen,
    /// The participant id written as `authorId` of new cards and comments.
    author_id: Option<String>,
}

type Result<T> = std::result::Result<T, WriteError>;

impl<'a, 'doc> BoardWriter<'a, 'doc> {
    /// A writer on `txn`. Ids are seeded from the document's client id (unique per replica),
    /// its local clock (advances with every local insert, so two writers in the same
    /// millisecond differ once the first wrote anything) and `now_ms`.
    pub fn new(txn: &'a mut TransactionMut<'doc>, refs: &'a BoardRefs, now_ms: i64) -> Self {
        let client = txn.doc().client_id();
        let clock = txn.state_vector().get(&client);
        let seed = mix(mix(mix(client.get()) ^ u64::from(clock)) ^ now_ms as u64);
        BoardWriter {
            txn,
            refs,
            now_ms,
            ids: IdGen::from_seed(seed),
            author_id: None,
        }
    }

    /// Writes `id` (the participant id of the access token, its `sub`) as `authorId` of the
    /// cards and comments this writer creates: what the server checks ownership against when a
    /// participant later deletes them.
    pub fn with_author_id(mut self, id: impl Into<String>) -> Self {
        self.author_id = Some(id.into());
        self
    }

    /// Replaces the id source (tests, or a caller with its own randomness).
    pub fn with_ids(mut self, ids: IdGen) -> Self {
        self.ids = ids;
        self
    }

    /// The underlying transaction, for writes this API does not cover.
    pub fn txn(&mut self) -> &mut TransactionMut<'doc> {
        self.txn
    }

    /// The root maps this writer edits.
    pub fn refs(&self) -> &BoardRefs {
        self.refs
    }

    /// The time this writer stamps, ms since the epoch.
    pub fn now_ms(&self) -> i64 {
        self.now_ms
    }

    // ----- meta -----------------------------------------------------------------------------

    /// Writes the board-level fields and `schemaVersion`. Keeps `createdAt` if the board has one.
    pub fn init_meta(&mut self, init: &MetaInit) {
        let meta = &self.refs.meta;
        meta.try_update(self.txn, keys::TITLE, init.title.as_str());
        meta.try_update(self.txn, keys::DESCRIPTION, init.description.as_str());
        meta.try_update(self.txn, keys::JOURNEY_TYPE, init.journey_type.as_str());
        meta.try_update(self.txn, keys::MAP_KIND, init.map_kind.as_str());
        meta.try_update(self.txn, keys::LANG, init.lang.as_str());
        meta.try_update(self.txn, keys::TEMPLATE, init.template.as_str());
        meta.try_update(self.txn, keys::SCHEMA_VERSION, i64::from(SCHEMA_VERSION));
        if number(meta, &*self.txn, keys::CREATED_AT).is_none() {
            meta.insert(self.txn, keys::CREATED_AT, self.now_ms);
        }
        self.touch();
    }

    /// Sets the board title.
    pub fn set_title(&mut self, title: &str) {
        self.refs.meta.try_update(self.txn, keys::TITLE, title);
        self.touch();
    }

    /// Sets the board description.
    pub fn set_description(&mut self, description: &str) {
        self.refs
            .meta
            .try_update(self.txn, keys::DESCRIPTION, description);
        self.touch();
    }

    /// Sets the journey type.
    pub fn set_journey_type(&mut self, journey_type: &JourneyType) {
        self.refs
            .meta
            .try_update(self.txn, keys::JOURNEY_TYPE, journey_type.as_str());
        self.touch();
    }

    /// Flags the touchpoint to improve first (`None` clears it). The card must be in a
    /// touchpoints lane: the flag means "most important touchpoint", nothing else.
    pub fn set_key_touchpoint(&mut self, card: Option<&str>) -> Result<()> {
        match card {
            None => {
                self.refs.meta.remove(self.txn, keys::KEY_TOUCHPOINT);
            }
            Some(id) => {
                let map = self.card(id)?;
                let lane = string(&map, &*self.txn, keys::LANE).unwrap_or_default();
                let kind = match self.refs.lanes.get(&*self.txn, &lane) {
                    Some(Out::YMap(l)) => string(&l, &*self.txn, keys::KIND),
                    _ => None,
                };
                if kind.as_deref() != Some(LaneKind::Touchpoints.as_str()) {
                    return Err(WriteError::NotATouchpoint(id.to_owned()));
                }
                self.refs
                    .meta
                    .try_update(self.txn, keys::KEY_TOUCHPOINT, id);
            }
        }
        self.touch();
        Ok(())
    }

    // ----- workshop controls ----------------------------------------------------------------

    /// Starts (or restarts) the countdown everyone sees: `duration_ms` from now.
    pub fn start_timer(&mut self, duration_ms: i64, label: &str) {
        let workshop = &self.refs.workshop;
        workshop.try_update(self.txn, keys::TIMER_DURATION_MS, duration_ms);
        workshop.try_update(self.txn, keys::TIMER_ENDS_AT, self.now_ms + duration_ms);
        workshop.remove(self.txn, keys::TIMER_REMAINING_MS);
        workshop.try_update(self.txn, keys::TIMER_LABEL, label);
    }

    /// Pauses the running countdown, keeping what is left of it.
    pub fn pause_timer(&mut self) {
        let workshop = &self.refs.workshop;
        if let Some(ends_at) = number(workshop, &*self.txn, keys::TIMER_ENDS_AT) {
            let left = (ends_at as i64 - self.now_ms).max(0);
            workshop.insert(self.txn, keys::TIMER_REMAINING_MS, left);
            workshop.remove(self.txn, keys::TIMER_ENDS_AT);
        }
    }

    /// Resumes a paused countdown.
    pub fn resume_timer(&mut self) {
        let workshop = &self.refs.workshop;
        if let Some(left) = number(workshop, &*self.txn, keys::TIMER_REMAINING_MS) {
            workshop.insert(self.txn, keys::TIMER_ENDS_AT, self.now_ms + left as i64);
            workshop.remove(self.txn, keys::TIMER_REMAINING_MS);
        }
    }

    /// Stops the countdown.
    pub fn stop_timer(&mut self) {
        let workshop = &self.refs.workshop;
        workshop.remove(self.txn, keys::TIMER_ENDS_AT);
        workshop.remove(self.txn, keys::TIMER_REMAINING_MS);
    }

    /// Opens the next dot-voting round, with `votes_per_participant` dots each (0: no limit).
    /// Dots already on cards count against the limit: [`clear_votes`](Self::clear_votes) first
    /// for a fresh round.
    pub fn open_voting(&mut self, votes_per_participant: u32) {
        let workshop = &self.refs.workshop;
        let round = number(workshop, &*self.txn, keys::VOTING_ROUND).unwrap_or(0.0) as i64;
        workshop.try_update(self.txn, keys::VOTING_ROUND, round + 1);
        workshop.try_update(
            self.txn,
            keys::VOTES_PER_PARTICIPANT,
            i64::from(votes_per_participant),
        );
        workshop.try_update(self.txn, keys::VOTING_OPEN, true);
    }

    /// Closes the voting round: votes are frozen until the next one.
    pub fn close_voting(&mut self) {
        self.refs
            .workshop
            .try_update(self.txn, keys::VOTING_OPEN, false);
    }

    /// Removes every dot vote from every card.
    pub fn clear_votes(&mut self) {
        let cards: Vec<MapRef> = self
            .refs
            .cards
            .iter(&*self.txn)
            .filter_map(|(_, v)| match v {
                Out::YMap(m) => Some(m),
                _ => None,
            })
            .collect();
        for card in cards {
            if let Some(Out::YMap(votes)) = card.get(&*self.txn, keys::VOTES) {
                votes.clear(self.txn);
            }
        }
        self.touch();
    }

    // ----- personas -------------------------------------------------------------------------

    /// Adds a persona after the last one; returns its id.
    pub fn add_persona(&mut self, init: &PersonaInit) -> String {
        let refs = self.refs;
        let id = self.new_id(&refs.personas);
        let position = self.end_position(&refs.personas, |_, _| true);
        let mut prelim = MapPrelim::default();
        for (key, value) in init.fields() {
            prelim.insert(key.into(), In::from(value));
        }
        prelim.insert(keys::POSITION.into(), In::from(position));
        self.refs.personas.insert(self.txn, id.as_str(), prelim);
        self.touch();
        id
    }

    /// Overwrites a persona's fields. Unchanged fields are not rewritten, so a concurrent edit of
    /// another field by someone else survives.
    pub fn update_persona(&mut self, id: &str, init: &PersonaInit) -> Result<()> {
        let map = self.persona(id)?;
        for (key, value) in init.fields() {
            map.try_update(self.txn, key, value);
        }
        self.touch();
        Ok(())
    }

    /// Moves a persona to `position` (see [`position_between`]).
    pub fn move_persona(&mut self, id: &str, position: f64) -> Result<()> {
        finite(position, "position")?;
        let map = self.persona(id)?;
        map.try_update(self.txn, keys::POSITION, position);
        self.touch();
        Ok(())
    }

    /// Removes a persona.
    pub fn remove_persona(&mut self, id: &str) -> Result<()> {
        self.persona(id)?;
        self.refs.personas.remove(self.txn, id);
        self.touch();
        Ok(())
    }

    // ----- stages ---------------------------------------------------------------------------

    /// Adds a stage after the last one; returns its id.
    pub fn add_stage(&mut self, name: &str, description: &str) -> String {
        let refs = self.refs;
        let id = self.new_id(&refs.stages);
        let position = self.end_position(&refs.stages, |_, _| true);
        let prelim = MapPrelim::from([
            (keys::NAME, In::from(name)),
            (keys::DESCRIPTION, In::from(description)),
            (keys::POSITION, In::from(position)),
            // Created with the stage: two clients lazily creating `metrics` at the same time would
            // each make a Y.Map, and only one survives, with its metrics.
            (keys::METRICS, In::Map(MapPrelim::default())),
        ]);
        self.refs.stages.insert(self.txn, id.as_str(), prelim);
        self.touch();
        id
    }

    /// Renames a stage.
    pub fn rename_stage(&mut self, id: &str, name: &str) -> Result<()> {
        let map = self.stage(id)?;
        map.try_update(self.txn, keys::NAME, name);
        self.touch();
        Ok(())
    }

    /// Sets a stage's description.
    pub fn set_stage_description(&mut self, id: &str, description: &str) -> Result<()> {
        let map = self.stage(id)?;
        map.try_update(self.txn, keys::DESCRIPTION, description);
        self.touch();
        Ok(())
    }

    /// Moves a stage to `position` (see [`position_between`]).
    pub fn move_stage(&mut self, id: &str, position: f64) -> Result<()> {
        finite(position, "position")?;
        let map = self.stage(id)?;
        map.try_update(self.txn, keys::POSITION, position);
        self.touch();
        Ok(())
    }

    /// Removes a stage and the cards in it; returns how many cards went with it.
    ///
    /// The cards go too because a card whose stage is gone is shown nowhere: keeping it would
    /// only hide it. A card moved into the stage concurrently by someone else survives the merge
    /// and is reported by validation as `card_stage_missing`.
    pub fn remove_stage(&mut self, id: &str) -> Result<usize> {
        self.stage(id)?;
        self.refs.stages.remove(self.txn, id);
        let removed = self.remove_cards_where(keys::STAGE, id);
        self.touch();
        Ok(removed)
    }

    /// Sets (or with `None` clears) how the customer feels at a stage, −2..=2.
    pub fn set_stage_emotion(&mut self, id: &str, emotion: Option<i64>) -> Result<()> {
        let map = self.stage(id)?;
        match emotion {
            Some(e) if !(-2..=2).contains(&e) => return Err(WriteError::EmotionOutOfRange(e)),
            Some(e) => {
                map.try_update(self.txn, keys::EMOTION, e);
            }
            None => {
                map.remove(self.txn, keys::EMOTION);
            }
        }
        self.touch();
        Ok(())
    }

    /// Adds a metric to a stage, after its last metric; returns the metric id.
    pub fn add_metric(&mut self, stage: &str, init: &MetricInit) -> Result<String> {
        check_metric(init)?;
        let stage_map = self.stage(stage)?;
        let metrics = self.child_map(&stage_map, keys::METRICS);
        let id = self.new_id(&metrics);
        let position = self.end_position(&metrics, |_, _| true);
        let mut prelim = MapPrelim::from([
            (keys::NAME, In::from(init.name.as_str())),
            (keys::VALUE, In::from(init.value)),
            (keys::UNIT, In::from(init.unit.as_str())),
            (keys::POSITION, In::from(position)),
        ]);
        if let Some(target) = init.target {
            prelim.insert(keys::TARGET.into(), In::from(target));
        }
        metrics.insert(self.txn, id.as_str(), prelim);
        self.touch();
        Ok(id)
    }

    /// Overwrites a metric's name, value, unit and target (`None` removes the target).
    pub fn update_metric(&mut self, stage: &str, metric: &str, init: &MetricInit) -> Result<()> {
        check_metric(init)?;
        let map = self.metric(stage, metric)?;
        map.try_update(self.txn, keys::NAME, init.name.as_str());
        map.try_update(self.txn, keys::VALUE, init.value);
        map.try_update(self.txn, keys::UNIT, init.unit.as_str());
        match init.target {
            Some(target) => {
                map.try_update(self.txn, keys::TARGET, target);
            }
            None => {
                map.remove(self.txn, keys::TARGET);
            }
        }
        self.touch();
        Ok(())
    }

    /// Records a new measured value: the routine update of the CX dashboard.
    pub fn set_metric_value(&mut self, stage: &str, metric: &str, value: f64) -> Result<()> {
        finite(value, "value")?;
        let map = self.metric(stage, metric)?;
        map.try_update(self.txn, keys::VALUE, value);
        self.touch();
        Ok(())
    }

    /// Removes a metric from a stage.
    pub fn remove_metric(&mut self, stage: &str, metric: &str) -> Result<()> {
        self.metric(stage, metric)?;
        let stage_map = self.stage(stage)?;
        let metrics = self.child_map(&stage_map, keys::METRICS);
        metrics.remove(self.txn, metric);
        self.touch();
        Ok(())
    }

    // ----- lanes ----------------------------------------------------------------------------

    /// Adds a lane below the last one; returns its id.
    pub fn add_lane(&mut self, kind: &LaneKind, title: &str, question: &str) -> String {
        let refs = self.refs;
        let id = self.new_id(&refs.lanes);
        let position = self.end_position(&refs.lanes, |_, _| true);
        let prelim = MapPrelim::from([
            (keys::KIND, In::from(kind.as_str())),
            (keys::TITLE, In::from(title)),
            (keys::QUESTION, In::from(question)),
            (keys::POSITION, In::from(position)),
        ]);
        self.refs.lanes.insert(self.txn, id.as_str(), prelim);
        self.touch();
        id
    }

    /// Renames a lane.
    pub fn rename_lane(&mut self, id: &str, title: &str) -> Result<()> {
        let map = self.lane(id)?;
        map.try_update(self.txn, keys::TITLE, title);
        self.touch();
        Ok(())
    }

    /// Sets a lane's guiding question.
    pub fn set_lane_question(&mut self, id: &str, question: &str) -> Result<()> {
        let map = self.lane(id)?;
        map.try_update(self.txn, keys::QUESTION, question);
        self.touch();
        Ok(())
    }

    /// Moves a lane to `position` (see [`position_between`]).
    pub fn move_lane(&mut self, id: &str, position: f64) -> Result<()> {
        finite(position, "position")?;
        let map = self.lane(id)?;
        map.try_update(self.txn, keys::POSITION, position);
        self.touch();
        Ok(())
    }

    /// Removes a lane and its cards; returns how many cards went with it (see
    /// [`remove_stage`](Self::remove_stage) for why).
    pub fn remove_lane(&mut self, id: &str) -> Result<usize> {
        self.lane(id)?;
        self.refs.lanes.remove(self.txn, id);
        let removed = self.remove_cards_where(keys::LANE, id);
        self.touch();
        Ok(removed)
    }

    // ----- cards ----------------------------------------------------------------------------

    /// Adds a card at the end of its cell; returns its id.
    pub fn add_card(&mut self, card: &NewCard) -> Result<String> {
        self.stage(&card.stage)?;
        self.lane(&card.lane)?;
        let refs = self.refs;
        let id = self.new_id(&refs.cards);
        let position = self.end_position(&refs.cards, |txn, m| {
            in_cell(m, txn, &card.stage, &card.lane)
        });
        let mut prelim = MapPrelim::from([
            (keys::STAGE, In::from(card.stage.as_str())),
            (keys::LANE, In::from(card.lane.as_str())),
            (keys::TEXT, In::from(TextPrelim::new(card.text.as_str()))),
            (keys::AUTHOR, In::from(card.author.as_str())),
            (keys::COLOR, In::from(card.color.as_str())),
            (keys::TEAM, In::from(card.team.as_str())),
            (keys::CREATED_AT, In::from(self.now_ms)),
            (keys::UPDATED_AT, In::from(self.now_ms)),
            (keys::POSITION, In::from(position)),
            // Nested maps are created with the card, never lazily: see `add_stage`.
            (keys::VOTES, In::Map(MapPrelim::default())),
            (keys::COMMENTS, In::Map(MapPrelim::default())),
            (keys::REACTIONS, In::Map(MapPrelim::default())),
        ]);
        if let Some(author_id) = &self.author_id {
            prelim.insert(keys::AUTHOR_ID.into(), In::from(author_id.as_str()));
        }
        self.refs.cards.insert(self.txn, id.as_str(), prelim);
        self.touch();
        Ok(id)
    }

    /// Replaces a card's whole text. Only the changed middle is rewritten (common prefix and
    /// suffix are kept), so a concurrent edit elsewhere in the text survives.
    pub fn set_card_text(&mut self, id: &str, text: &str) -> Result<()> {
        let map = self.card(id)?;
        let ytext = self.card_text(&map);
        let old = ytext.get_string(&*self.txn);
        let prefix = old
            .chars()
            .zip(text.chars())
            .take_while(|(a, b)| a == b)
            .count();
        let old_rest: Vec<char> = old.chars().skip(prefix).collect();
        let new_rest: Vec<char> = text.chars().skip(prefix).collect();
        let suffix = old_rest
            .iter()
            .rev()
            .zip(new_rest.iter().rev())
            .take_while(|(a, b)| a == b)
            .count();
        let removed = old_rest.len() - suffix;
        let inserted: String = new_rest[..new_rest.len() - suffix].iter().collect();
        self.splice(&ytext, &old, prefix, removed, &inserted);
        self.touch_card(&map);
        Ok(())
    }

    /// Inserts `chunk` into a card's text at `index`, counted in characters (Unicode scalar
    /// values) whatever offset unit the document uses.
    pub fn insert_card_text(&mut self, id: &str, index: usize, chunk: &str) -> Result<()> {
        self.edit_card_text(id, index, 0, chunk)
    }

    /// Deletes `count` characters of a card's text from `index` (both in characters).
    pub fn delete_card_text(&mut self, id: &str, index: usize, count: usize) -> Result<()> {
        self.edit_card_text(id, index, count, "")
    }

    fn edit_card_text(&mut self, id: &str, index: usize, count: usize, chunk: &str) -> Result<()> {
        let map = self.card(id)?;
        let ytext = self.card_text(&map);
        let old = ytext.get_string(&*self.txn);
        let len = old.chars().count();
        let end = index.saturating_add(count);
        if end > len {
            return Err(WriteError::TextOutOfRange {
                card: id.to_owned(),
                index: end,
                len,
            });
        }
        self.splice(&ytext, &old, index, count, chunk);
        self.touch_card(&map);
        Ok(())
    }

    /// Moves a card to another cell and/or place in its cell.
    ///
    /// Three field updates on the card's own map; its text is untouched, so an edit someone is
    /// typing at the same moment is kept.
    pub fn move_card(&mut self, id: &str, stage: &str, lane: &str, position: f64) -> Result<()> {
        finite(position, "position")?;
        let map = self.card(id)?;
        self.stage(stage)?;
        self.lane(lane)?;
        map.try_update(self.txn, keys::STAGE, stage);
        map.try_update(self.txn, keys::LANE, lane);
        map.try_update(self.txn, keys::POSITION, position);
        self.touch_card(&map);
        Ok(())
    }

    /// Sets a card's colour.
    pub fn set_card_color(&mut self, id: &str, color: &str) -> Result<()> {
        let map = self.card(id)?;
        map.try_update(self.txn, keys::COLOR, color);
        self.touch_card(&map);
        Ok(())
    }

    /// Sets a card's owning team.
    pub fn set_card_team(&mut self, id: &str, team: &str) -> Result<()> {
        let map = self.card(id)?;
        map.try_update(self.txn, keys::TEAM, team);
        self.touch_card(&map);
        Ok(())
    }

    /// Sets (or with `None` clears) a card's priority.
    pub fn set_card_priority(&mut self, id: &str, priority: Option<Priority>) -> Result<()> {
        let map = self.card(id)?;
        match priority {
            Some(p) => {
                map.try_update(self.txn, keys::PRIORITY, p.as_str());
            }
            None => {
                map.remove(self.txn, keys::PRIORITY);
            }
        }
        self.touch_card(&map);
        Ok(())
    }

    /// Deletes a card (and clears the key touchpoint if it was this card).
    pub fn delete_card(&mut self, id: &str) -> Result<()> {
        self.card(id)?;
        self.refs.cards.remove(self.txn, id);
        self.clear_key_touchpoint_if(id);
        self.touch();
        Ok(())
    }

    /// Adds one dot vote from `participant`; returns their vote count on the card.
    ///
    /// Counts are per participant so that two participants voting at once never overwrite each
    /// other (each writes only their own key).
    pub fn vote(&mut self, card: &str, participant: &str) -> Result<i64> {
        self.change_vote(card, participant, 1)
    }

    /// Takes back one of `participant`'s votes (never below zero); returns their count.
    pub fn unvote(&mut self, card: &str, participant: &str) -> Result<i64> {
        self.change_vote(card, participant, -1)
    }

    fn change_vote(&mut self, card: &str, participant: &str, delta: i64) -> Result<i64> {
        let map = self.card(card)?;
        let votes = self.child_map(&map, keys::VOTES);
        let current = number(&votes, &*self.txn, participant)
            .filter(|v| v.fract() == 0.0)
            .map(|v| v as i64)
            .unwrap_or(0)
            .max(0);
        let next = (current + delta).max(0);
        if next == 0 {
            votes.remove(self.txn, participant);
        } else {
            votes.try_update(self.txn, participant, next);
        }
        self.touch_card(&map);
        Ok(next)
    }

    /// Adds a comment to a card; returns the comment id.
    pub fn add_comment(&mut self, card: &str, author: &str, text: &str) -> Result<String> {
        let map = self.card(card)?;
        let comments = self.child_map(&map, keys::COMMENTS);
        let id = self.new_id(&comments);
        let mut prelim = MapPrelim::from([
            (keys::AUTHOR, In::from(author)),
            (keys::TEXT, In::from(text)),
            (keys::CREATED_AT, In::from(self.now_ms)),
        ]);
        if let Some(author_id) = &self.author_id {
            prelim.insert(keys::AUTHOR_ID.into(), In::from(author_id.as_str()));
        }
        comments.insert(self.txn, id.as_str(), prelim);
        self.touch_card(&map);
        Ok(id)
    }

    /// Removes a comment from a card.
    pub fn remove_comment(&mut self, card: &str, comment: &str) -> Result<()> {
        let map = self.card(card)?;
        let comments = self.child_map(&map, keys::COMMENTS);
        if !comments.contains_key(&*self.txn, comment) {
            return Err(WriteError::UnknownComment {
                card: card.to_owned(),
                comment: comment.to_owned(),
            });
        }
        comments.remove(self.txn, comment);
        self.touch_card(&map);
        Ok(())
    }

    /// Adds `participant`'s `emoji` reaction, or takes it back if present; returns whether the
    /// participant now has that reaction.
    pub fn toggle_reaction(&mut self, card: &str, emoji: &str, participant: &str) -> Result<bool> {
        let map = self.card(card)?;
        let reactions = self.child_map(&map, keys::REACTIONS);
        let who = self.child_map(&reactions, emoji);
        let on = matches!(
            who.get(&*self.txn, participant),
            Some(Out::Any(Any::Bool(true)))
        );
        if on {
            who.remove(self.txn, participant);
        } else {
            who.insert(self.txn, participant, true);
        }
        self.touch_card(&map);
        Ok(!on)
    }

    // ----- helpers --------------------------------------------------------------------------

    fn touch(&mut self) {
        self.refs
            .meta
            .try_update(self.txn, keys::UPDATED_AT, self.now_ms);
    }

    fn touch_card(&mut self, card: &MapRef) {
        card.try_update(self.txn, keys::UPDATED_AT, self.now_ms);
        self.touch();
    }

    /// A fresh id not already used in `map`.
    fn new_id(&mut self, map: &MapRef) -> String {
        loop {
            let id = self.ids.next_id();
            if !map.contains_key(&*self.txn, &id) {
                return id;
            }
        }
    }

    /// A position after every entry of `map` that `filter` keeps.
    fn end_position(
        &self,
        map: &MapRef,
        filter: impl Fn(&TransactionMut<'doc>, &MapRef) -> bool,
    ) -> f64 {
        let txn = &*self.txn;
        let last = map
            .iter(txn)
            .filter_map(|(_, v)| match v {
                Out::YMap(m) if filter(txn, &m) => number(&m, txn, keys::POSITION),
                _ => None,
            })
            .reduce(f64::max);
        position_between(last, None)
    }

    fn entity(&self, root: &MapRef, root_name: &str, id: &str) -> Option<Result<MapRef>> {
        match root.get(&*self.txn, id)? {
            Out::YMap(map) => Some(Ok(map)),
            _ => Some(Err(WriteError::WrongType(format!("{root_name}/{id}")))),
        }
    }

    fn persona(&self, id: &str) -> Result<MapRef> {
        self.entity(&self.refs.personas, keys::PERSONAS, id)
            .unwrap_or_else(|| Err(WriteError::UnknownPersona(id.to_owned())))
    }

    fn stage(&self, id: &str) -> Result<MapRef> {
        self.entity(&self.refs.stages, keys::STAGES, id)
            .unwrap_or_else(|| Err(WriteError::UnknownStage(id.to_owned())))
    }

    fn lane(&self, id: &str) -> Result<MapRef> {
        self.entity(&self.refs.lanes, keys::LANES, id)
            .unwrap_or_else(|| Err(WriteError::UnknownLane(id.to_owned())))
    }

    fn card(&self, id: &str) -> Result<MapRef> {
        self.entity(&self.refs.cards, keys::CARDS, id)
            .unwrap_or_else(|| Err(WriteError::UnknownCard(id.to_owned())))
    }

    fn metric(&self, stage: &str, metric: &str) -> Result<MapRef> {
        let stage_map = self.stage(stage)?;
        let unknown = || WriteError::UnknownMetric {
            stage: stage.to_owned(),
            metric: metric.to_owned(),
        };
        let metrics = match stage_map.get(&*self.txn, keys::METRICS) {
            Some(Out::YMap(m)) => m,
            _ => return Err(unknown()),
        };
        match metrics.get(&*self.txn, metric) {
            Some(Out::YMap(m)) => Ok(m),
            Some(_) => Err(WriteError::WrongType(format!(
                "{}/{stage}/{}/{metric}",
                keys::STAGES,
                keys::METRICS
            ))),
            None => Err(unknown()),
        }
    }

    /// The Y.Map under `key`, created if absent. A plain object some client stored there is
    /// converted (its entries kept); any other value is replaced.
    fn child_map(&mut self, parent: &MapRef, key: &str) -> MapRef {
        match parent.get(&*self.txn, key) {
            Some(Out::YMap(map)) => map,
            Some(Out::Any(Any::Map(plain))) => {
                let prelim: MapPrelim = plain
                    .iter()
                    .map(|(k, v)| (Arc::<str>::from(k.as_str()), In::Any(v.clone())))
                    .collect();
                parent.insert(self.txn, key, prelim)
            }
            _ => parent.insert(self.txn, key, MapPrelim::default()),
        }
    }

    /// The card's Y.Text. A plain string some client stored instead is converted to a Y.Text
    /// with the same content, so the edit can proceed.
    fn card_text(&mut self, card: &MapRef) -> TextRef {
        match card.get(&*self.txn, keys::TEXT) {
            Some(Out::YText(text)) => text,
            Some(Out::Any(Any::String(s))) => {
                card.insert(self.txn, keys::TEXT, TextPrelim::new(s.to_string()))
            }
            _ => card.insert(self.txn, keys::TEXT, TextPrelim::new("")),
        }
    }

    /// Replaces `remove` characters at character `index` of `text` (whose current content is
    /// `current`) by `insert`. Callers have checked the range.
    fn splice(&mut self, text: &TextRef, current: &str, index: usize, remove: usize, insert: &str) {
        let kind = self.txn.doc().offset_kind();
        let start = offset_of(current, index, kind);
        if remove > 0 {
            let end = offset_of(current, index + remove, kind);
            text.remove_range(self.txn, start, end - start);
        }
        if !insert.is_empty() {
            text.insert(self.txn, start, insert);
        }
    }

    fn remove_cards_where(&mut self, key: &str, value: &str) -> usize {
        let doomed: Vec<String> = self
            .refs
            .cards
            .iter(&*self.txn)
            .filter_map(|(id, v)| match v {
                Out::YMap(m) if string(&m, &*self.txn, key).as_deref() == Some(value) => {
                    Some(id.to_owned())
                }
                _ => None,
            })
            .collect();
        for id in &doomed {
            self.refs.cards.remove(self.txn, id);
            self.clear_key_touchpoint_if(id);
        }
        doomed.len()
    }

    fn clear_key_touchpoint_if(&mut self, card: &str) {
        if string(&self.refs.meta, &*self.txn, keys::KEY_TOUCHPOINT).as_deref() == Some(card) {
            self.refs.meta.remove(self.txn, keys::KEY_TOUCHPOINT);
        }
    }
}

/// The offset of character `index` of `s` in the document's offset unit. `index` is at most the
/// character count, so the offset always falls on a character boundary (yrs would split a
/// multi-byte character otherwise).
fn offset_of(s: &str, index: usize, kind: OffsetKind) -> u32 {
    let byte = s.char_indices().nth(index).map_or(s.len(), |(b, _)| b);
    let prefix = &s[..byte];
    let units = match kind {
        OffsetKind::Bytes => prefix.len(),
        OffsetKind::Utf16 => prefix.encode_utf16().count(),
    };
    u32::try_from(units).unwrap_or(u32::MAX)
}

fn finite(value: f64, field: &'static str) -> Result<()> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(WriteError::NotFinite(field))
    }
}

fn check_metric(init: &MetricInit) -> Result<()> {
    finite(init.value, "value")?;
    if let Some(target) = init.target {
        finite(target, "target")?;
    }
    Ok(())
}

fn number<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> Option<f64> {
    match map.get(txn, key)? {
        Out::Any(Any::Number(n)) => n.as_f64().filter(|f| f.is_finite()),
        _ => None,
    }
}

fn string<T: ReadTxn>(map: &MapRef, txn: &T, key: &str) -> Option<String> {
    match map.get(txn, key)? {
        Out::Any(Any::String(s)) => Some(s.to_string()),
        _ => None,
    }
}

fn in_cell<T: ReadTxn>(card: &MapRef, txn: &T, stage: &str, lane: &str) -> bool {
    string(card, txn, keys::STAGE).as_deref() == Some(stage)
        && string(card, txn, keys::LANE).as_deref() == Some(lane)
}
