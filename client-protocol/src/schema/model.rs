//! The plain data types of a board snapshot, and the Yjs key names they are read from.
//!
//! These types carry no reference to the yrs document: they are what [`Board::read`] returns and
//! what the server serialises to JSON. Their JSON field names are the Yjs key names, so a board
//! looks the same to a JavaScript client whether it reads the Yjs document or the HTTP API.
//!
//! [`Board::read`]: crate::schema::Board::read

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::validate::Problem;

/// The `schemaVersion` this crate writes and understands.
pub const SCHEMA_VERSION: u32 = 1;

/// Every key name of the Yjs layout, in one place, so that the reader, the writer and SCHEMA.md
/// cannot drift apart.
pub mod keys {
    /// Root Y.Map with the board's title and settings.
    pub const META: &str = "meta";
    /// Root Y.Map: persona id -> Y.Map.
    pub const PERSONAS: &str = "personas";
    /// Root Y.Map: stage id -> Y.Map.
    pub const STAGES: &str = "stages";
    /// Root Y.Map: lane id -> Y.Map.
    pub const LANES: &str = "lanes";
    /// Root Y.Map: card id -> Y.Map.
    pub const CARDS: &str = "cards";
    /// Root Y.Map: the facilitator's workshop controls (timer, voting rounds).
    pub const WORKSHOP: &str = "workshop";

    /// `meta.title`, `lanes/*/title`: string.
    pub const TITLE: &str = "title";
    /// `meta.description`, `stages/*/description`: string.
    pub const DESCRIPTION: &str = "description";
    /// `meta.journeyType`: string, see [`JourneyType`](super::JourneyType).
    pub const JOURNEY_TYPE: &str = "journeyType";
    /// `meta.mapKind`: string, see [`MapKind`](super::MapKind).
    pub const MAP_KIND: &str = "mapKind";
    /// `meta.lang`: string, see [`Lang`](super::Lang).
    pub const LANG: &str = "lang";
    /// `meta.template`: the id of the template the board was created from.
    pub const TEMPLATE: &str = "template";
    /// `meta.createdAt`, `cards/*/createdAt`, comments' `createdAt`: ms since the Unix epoch.
    pub const CREATED_AT: &str = "createdAt";
    /// `meta.updatedAt`, `cards/*/updatedAt`: ms since the Unix epoch.
    pub const UPDATED_AT: &str = "updatedAt";
    /// `meta.schemaVersion`: number.
    pub const SCHEMA_VERSION: &str = "schemaVersion";
    /// `meta.keyTouchpoint`: card id of the touchpoint to improve first.
    pub const KEY_TOUCHPOINT: &str = "keyTouchpoint";

    /// `name` of a persona, stage or metric.
    pub const NAME: &str = "name";
    /// Sort key of every ordered collection (number).
    pub const POSITION: &str = "position";

    /// Persona: picture URL.
    pub const PICTURE_URL: &str = "pictureUrl";
    /// Persona: age range, free text ("35-44").
    pub const AGE_RANGE: &str = "ageRange";
    /// Persona: occupation and job responsibilities.
    pub const OCCUPATION: &str = "occupation";
    /// Persona: family situation.
    pub const FAMILY_SITUATION: &str = "familySituation";
    /// Persona: interests, free text.
    pub const INTERESTS: &str = "interests";
    /// Persona: buying habits.
    pub const BUYING_HABITS: &str = "buyingHabits";
    /// Persona: comfort with digital tools.
    pub const DIGITAL_COMFORT: &str = "digitalComfort";
    /// Persona: goals, free text.
    pub const GOALS: &str = "goals";
    /// Persona: frustrations, free text.
    pub const FRUSTRATIONS: &str = "frustrations";

    /// Stage: emotion score, integer −2..=2.
    pub const EMOTION: &str = "emotion";
    /// Stage: Y.Map metric id -> Y.Map.
    pub const METRICS: &str = "metrics";
    /// Metric: measured value (number).
    pub const VALUE: &str = "value";
    /// Metric: unit (string).
    pub const UNIT: &str = "unit";
    /// Metric: target value (number, optional).
    pub const TARGET: &str = "target";

    /// Lane: kind string, see [`LaneKind`](super::LaneKind).
    pub const KIND: &str = "kind";
    /// Lane: guiding question.
    pub const QUESTION: &str = "question";

    /// Card: stage id.
    pub const STAGE: &str = "stage";
    /// Card: lane id.
    pub const LANE: &str = "lane";
    /// Card: Y.Text; comment: string.
    pub const TEXT: &str = "text";
    /// Card and comment: author's display name.
    pub const AUTHOR: &str = "author";
    /// Card: colour ("#ffd166").
    pub const COLOR: &str = "color";
    /// Card: owning team (free text).
    pub const TEAM: &str = "team";
    /// Card: "low" | "medium" | "high", or absent.
    pub const PRIORITY: &str = "priority";
    /// Card: Y.Map participant id -> vote count.
    pub const VOTES: &str = "votes";
    /// Card, comment: the creator's participant id (their access token's `sub`): string.
    pub const AUTHOR_ID: &str = "authorId";
    /// `workshop.timerDurationMs`: number, the countdown's length.
    pub const TIMER_DURATION_MS: &str = "timerDurationMs";
    /// `workshop.timerEndsAt`: number, when the running countdown ends (ms since the epoch).
    pub const TIMER_ENDS_AT: &str = "timerEndsAt";
    /// `workshop.timerRemainingMs`: number, what is left of a paused countdown.
    pub const TIMER_REMAINING_MS: &str = "timerRemainingMs";
    /// `workshop.timerLabel`: string, what the countdown is for.
    pub const TIMER_LABEL: &str = "timerLabel";
    /// `workshop.votingOpen`: boolean, whether a dot-voting round is open.
    pub const VOTING_OPEN: &str = "votingOpen";
    /// `workshop.votingRound`: number, the current or last round.
    pub const VOTING_ROUND: &str = "votingRound";
    /// `workshop.votesPerParticipant`: number, dots each participant has in the round.
    pub const VOTES_PER_PARTICIPANT: &str = "votesPerParticipant";
    /// `workshop.brainstormPrivate`: boolean, `true` while a private brainstorm round runs (each
    /// participant's new notes stay on their device until the reveal).
    pub const BRAINSTORM_PRIVATE: &str = "brainstormPrivate";
    /// `workshop.brainstormRevealAt`: number, when the facilitator revealed the last private round
    /// (ms since the epoch).
    pub const BRAINSTORM_REVEAL_AT: &str = "brainstormRevealAt";
    /// Card: Y.Map comment id -> Y.Map.
    pub const COMMENTS: &str = "comments";
    /// Card: Y.Map emoji -> Y.Map participant id -> true.
    pub const REACTIONS: &str = "reactions";
}

/// A whole board, read from its Yjs document: the unit the server exports, validates and draws.
///
/// Collections are sorted by `(position, id)`, the order every client shows them in.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Board {
    /// Title, language and settings.
    pub meta: Meta,
    /// Who walks the journey.
    pub personas: Vec<Persona>,
    /// The columns, left to right.
    pub stages: Vec<Stage>,
    /// The rows, top to bottom.
    pub lanes: Vec<Lane>,
    /// Every card, sorted by `(position, id)`; use [`Board::cell`] for one cell's cards.
    pub cards: Vec<Card>,
    /// The facilitator's workshop controls: the countdown and the dot-voting round.
    pub workshop: Workshop,
    /// What [`Board::read`](crate::schema::Board::read) had to skip or default because the
    /// document held a value of the wrong type; [`validate`](crate::schema::validate) reports
    /// these along with its own findings.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub read_problems: Vec<Problem>,
}

impl Board {
    /// The stage with this id.
    pub fn stage(&self, id: &str) -> Option<&Stage> {
        self.stages.iter().find(|s| s.id == id)
    }

    /// The lane with this id.
    pub fn lane(&self, id: &str) -> Option<&Lane> {
        self.lanes.iter().find(|l| l.id == id)
    }

    /// The card with this id.
    pub fn card(&self, id: &str) -> Option<&Card> {
        self.cards.iter().find(|c| c.id == id)
    }

    /// The cards of one cell (stage × lane) in display order.
    pub fn cell<'a>(&'a self, stage: &'a str, lane: &'a str) -> impl Iterator<Item = &'a Card> {
        self.cards
            .iter()
            .filter(move |c| c.stage == stage && c.lane == lane)
    }
}

/// The board's `meta` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Meta {
    /// Board title shown everywhere; empty is reported by validation.
    pub title: String,
    /// Free text: the goal of the map, scope, who maintains it.
    pub description: String,
    /// Which kind of interaction the journey covers.
    pub journey_type: JourneyType,
    /// Journey map (one product) or experience map (holistic).
    pub map_kind: MapKind,
    /// Language the board's template text was written in.
    pub lang: Lang,
    /// Id of the template the board was created from ("" if none).
    pub template: String,
    /// Creation time, ms since the Unix epoch (0 if unknown).
    pub created_at: i64,
    /// Last change made through [`BoardWriter`](crate::schema::BoardWriter), ms since the epoch.
    pub updated_at: i64,
    /// Layout version; 0 when the document has none.
    pub schema_version: u32,
    /// Card id of the single most important touchpoint: the one to improve first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_touchpoint: Option<String>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            title: String::new(),
            description: String::new(),
            journey_type: JourneyType::Custom,
            map_kind: MapKind::Journey,
            lang: Lang::En,
            template: String::new(),
            created_at: 0,
            updated_at: 0,
            schema_version: 0,
            key_touchpoint: None,
        }
    }
}

/// Who walks the journey: humanises the map and keeps the team's discussion concrete.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Persona {
    /// Key in the `personas` map.
    pub id: String,
    /// Sort key.
    pub position: f64,
    /// Display name ("Claire, busy parent").
    pub name: String,
    /// Picture URL.
    pub picture_url: String,
    /// Age range, free text.
    pub age_range: String,
    /// Occupation and job responsibilities.
    pub occupation: String,
    /// Family situation.
    pub family_situation: String,
    /// Interests, free text.
    pub interests: String,
    /// Buying habits.
    pub buying_habits: String,
    /// Comfort with digital tools.
    pub digital_comfort: String,
    /// Goals, free text.
    pub goals: String,
    /// Frustrations, free text.
    pub frustrations: String,
}

/// The fields of a persona a caller sets; used to add and update personas and by templates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PersonaInit {
    /// Display name.
    pub name: String,
    /// Picture URL.
    pub picture_url: String,
    /// Age range, free text.
    pub age_range: String,
    /// Occupation and job responsibilities.
    pub occupation: String,
    /// Family situation.
    pub family_situation: String,
    /// Interests, free text.
    pub interests: String,
    /// Buying habits.
    pub buying_habits: String,
    /// Comfort with digital tools.
    pub digital_comfort: String,
    /// Goals, free text.
    pub goals: String,
    /// Frustrations, free text.
    pub frustrations: String,
}

impl PersonaInit {
    /// The fields as (Yjs key, value) pairs, in SCHEMA.md order.
    pub(crate) fn fields(&self) -> [(&'static str, &str); 10] {
        [
            (keys::NAME, &self.name),
            (keys::PICTURE_URL, &self.picture_url),
            (keys::AGE_RANGE, &self.age_range),
            (keys::OCCUPATION, &self.occupation),
            (keys::FAMILY_SITUATION, &self.family_situation),
            (keys::INTERESTS, &self.interests),
            (keys::BUYING_HABITS, &self.buying_habits),
            (keys::DIGITAL_COMFORT, &self.digital_comfort),
            (keys::GOALS, &self.goals),
            (keys::FRUSTRATIONS, &self.frustrations),
        ]
    }
}

/// A column of the board: one step of the journey.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Stage {
    /// Key in the `stages` map.
    pub id: String,
    /// Sort key (left to right).
    pub position: f64,
    /// Display name ("Awareness").
    pub name: String,
    /// What happens at this stage.
    pub description: String,
    /// How the customer feels here, −2 (very bad) to +2 (very good); the points of the emotion
    /// curve. `None` when nobody has set it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub emotion: Option<i64>,
    /// What the team measures at this stage, sorted by `(position, id)`.
    pub metrics: Vec<Metric>,
}

/// One figure tracked at a stage (visits, cart abandonment rate, NPS…).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Metric {
    /// Key in the stage's `metrics` map.
    pub id: String,
    /// Sort key.
    pub position: f64,
    /// Display name.
    pub name: String,
    /// Latest measured value (0 until someone measures it).
    pub value: f64,
    /// Unit shown after the value ("%", "s", "visits").
    pub unit: String,
    /// Value the team aims for, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<f64>,
}

/// A row of the board: one aspect of the journey, with the question that prompts its cards.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Lane {
    /// Key in the `lanes` map.
    pub id: String,
    /// Sort key (top to bottom).
    pub position: f64,
    /// What the lane holds; drives its icon and the emotion curve / key touchpoint logic.
    pub kind: LaneKind,
    /// Display title ("Pain points").
    pub title: String,
    /// Guiding question shown under the title.
    pub question: String,
}

/// A sticky note.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Card {
    /// Key in the `cards` map.
    pub id: String,
    /// Sort key within its cell.
    pub position: f64,
    /// Stage id (column).
    pub stage: String,
    /// Lane id (row).
    pub lane: String,
    /// The note's text (a Y.Text in the document).
    pub text: String,
    /// Who wrote it.
    pub author: String,
    /// The participant id of who created it (their access token's `sub`); empty when the
    /// client that created it did not say.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_id: String,
    /// Background colour ("#ffd166").
    pub color: String,
    /// Owning team (marketing, sales, support, product, or free text).
    pub team: String,
    /// Priority, if someone set one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    /// Creation time, ms since the epoch.
    pub created_at: i64,
    /// Last change, ms since the epoch.
    pub updated_at: i64,
    /// Dot votes per participant id.
    pub votes: BTreeMap<String, i64>,
    /// Comments, oldest first (by `(createdAt, id)`).
    pub comments: Vec<Comment>,
    /// Emoji -> participant ids who reacted with it, sorted.
    pub reactions: BTreeMap<String, Vec<String>>,
}

impl Card {
    /// Total dot votes, the figure the team sorts ideas by.
    pub fn vote_total(&self) -> i64 {
        self.votes.values().sum()
    }
}

/// A comment on a card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Comment {
    /// Key in the card's `comments` map.
    pub id: String,
    /// Who wrote it.
    pub author: String,
    /// The participant id of who wrote it; empty when unknown.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub author_id: String,
    /// The comment (a plain string: comments are written once, not co-edited).
    pub text: String,
    /// When it was written, ms since the epoch.
    pub created_at: i64,
}

/// The facilitator's workshop controls (`workshop` root map): a countdown everyone sees and a
/// dot-voting round. Only facilitators and owners may change them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Workshop {
    /// The countdown's length, ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_duration_ms: Option<i64>,
    /// When the running countdown ends, ms since the epoch; `None` when not running.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_ends_at: Option<i64>,
    /// What is left of a paused countdown, ms; `None` when not paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timer_remaining_ms: Option<i64>,
    /// What the countdown is for ("Ideas on pain points").
    pub timer_label: String,
    /// `Some(true)` while a voting round is open, `Some(false)` once closed (votes are frozen);
    /// `None` when the board never used rounds (votes are free).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voting_open: Option<bool>,
    /// The current or last round, from 1; 0 before the first.
    pub voting_round: u32,
    /// Dots each participant may place in the round; 0 for no limit.
    pub votes_per_participant: u32,
    /// `true` while a private brainstorm round runs: participants keep their new notes on their
    /// own device and publish them when it ends (SCHEMA.md §2.6).
    pub brainstorm_private: bool,
    /// When the facilitator revealed the last private round, ms since the epoch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brainstorm_reveal_at: Option<i64>,
}

/// How urgent a card is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Priority {
    /// "low"
    Low,
    /// "medium"
    Medium,
    /// "high"
    High,
}

impl Priority {
    /// The string stored in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    /// Parses the stored string; `None` for anything else.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "low" => Some(Priority::Low),
            "medium" => Some(Priority::Medium),
            "high" => Some(Priority::High),
            _ => None,
        }
    }
}

/// The language a board's text (template stage names, lane questions) is written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// "en"
    #[default]
    En,
    /// "fr"
    Fr,
}

impl Lang {
    /// The string stored in the document.
    pub fn as_str(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    /// Parses the stored string; `None` for languages this crate has no text for.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "en" => Some(Lang::En),
            "fr" => Some(Lang::Fr),
            _ => None,
        }
    }
}

/// Declares an enum stored as a string whose unknown values are kept (in `Unknown`) rather than
/// rejected, so that a board written by a newer client still reads, and validation can say what
/// it did not recognise.
macro_rules! string_enum {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident = $s:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(from = "String", into = "String")]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version does not know, kept verbatim.
            Unknown(String),
        }

        impl $name {
            /// Every known value, in documentation order.
            pub const ALL: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The string stored in the document.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $s, )+
                    $name::Unknown(s) => s,
                }
            }

            /// Parses the stored string, keeping unknown values in `Unknown`.
            pub fn parse(s: &str) -> Self {
                match s {
                    $( $s => $name::$variant, )+
                    other => $name::Unknown(other.to_owned()),
                }
            }

            /// Whether this is one of the documented values.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Unknown(_))
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                $name::parse(&s)
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                match v {
                    $name::Unknown(s) => s,
                    known => known.as_str().to_owned(),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum! {
    /// Which kind of interaction a journey covers (DOMAIN.md "Journey types").
    JourneyType {
        /// First purchase, account creation.
        Onboarding = "onboarding",
        /// After-sales: installation, complaints.
        Maintenance = "maintenance",
        /// Using the product.
        Usage = "usage",
        /// The product is worn out or outdated.
        Replacement = "replacement",
        /// Anything else, including a whole-lifecycle map. The default.
        #[default]
        Custom = "custom",
    }
}

string_enum! {
    /// Journey map (one persona, one product, a known problem) or experience map (holistic,
    /// including what happens beyond the brand).
    MapKind {
        /// A customer journey map. The default.
        #[default]
        Journey = "journey",
        /// A customer experience map.
        Experience = "experience",
    }
}

string_enum! {
    /// What a lane holds (DOMAIN.md "Lanes and their guiding questions").
    LaneKind {
        /// What the customer does to move forward.
        Actions = "actions",
        /// What pushes them to the next step.
        Motivations = "motivations",
        /// Their doubts and questions (an experience map's "thoughts").
        Questions = "questions",
        /// Obstacles to the next step.
        PainPoints = "painPoints",
        /// Interactions with the brand; the key touchpoint is one of these cards.
        Touchpoints = "touchpoints",
        /// Website, store, chat, email, social pages…
        Channels = "channels",
        /// How the customer feels.
        Emotions = "emotions",
        /// What the customer needs at each touchpoint.
        Needs = "needs",
        /// What the moment looks like for the customer.
        KeyMoments = "keyMoments",
        /// How the team delivers the best experience.
        TeamActions = "teamActions",
        /// What the customer expects.
        Expectations = "expectations",
        /// What the customer actually gets.
        Received = "received",
        /// Concerns sales must be ready to answer.
        Objections = "objections",
        /// Ideas: the brainstorm's output.
        Opportunities = "opportunities",
        /// Notes about the figures measured at each stage.
        Metrics = "metrics",
        /// A lane the team defined itself; also what a lane without a `kind` reads as.
        #[default]
        Custom = "custom",
    }
}

/// A sort key for an item placed between two neighbours (`None` = no neighbour on that side).
///
/// Order is a number rather than an index in a Y.Array so that moving an item is one field
/// update (see SCHEMA.md). Equal keys are allowed: readers break ties by id.
pub fn position_between(before: Option<f64>, after: Option<f64>) -> f64 {
    match (before, after) {
        (None, None) => 1.0,
        (Some(b), None) => b.floor() + 1.0,
        (None, Some(a)) => a.ceil() - 1.0,
        (Some(b), Some(a)) => {
            let mid = b + (a - b) / 2.0;
            // Two keys so close that no float lies between them: keep `b` and let the id break
            // the tie rather than produce a key outside the interval.
            if mid > b && mid < a {
                mid
            } else {
                b
            }
        }
    }
}

/// Sorts items by `(position, id)`, the one order every client must agree on.
pub(crate) fn sort_by_position<T>(items: &mut [T], key: impl Fn(&T) -> (f64, &str)) {
    items.sort_by(|a, b| {
        let (pa, ia) = key(a);
        let (pb, ib) = key(b);
        pa.total_cmp(&pb).then_with(|| ia.cmp(ib))
    });
}
