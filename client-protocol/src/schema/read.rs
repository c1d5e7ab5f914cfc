//! Reading a [`Board`] snapshot out of a yrs document.
//!
//! The document is written by clients we do not control, so the reader is total: every value of
//! an unexpected type is read as the field's default and recorded in [`Board::read_problems`] with
//! its path, for [`validate`](super::validate) to report. A nested map written as a plain JS
//! object instead of a Y.Map is still read (and reported), so its content stays visible.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use yrs::{Any, Doc, GetString, Map, MapRef, Out, ReadTxn, Transact};

use super::model::{
    keys, sort_by_position, Board, Card, Comment, JourneyType, Lane, LaneKind, Lang, MapKind, Meta,
    Metric, Persona, Priority, Stage, Workshop,
};
use super::validate::{Problem, ProblemCode};

impl Board {
    /// Reads the board stored in the document `txn` belongs to.
    ///
    /// Never panics and never fails: missing fields read as defaults, values of the wrong type
    /// are recorded in [`Board::read_problems`], entries that are not maps at all are skipped (and
    /// recorded).
    pub fn read<T: ReadTxn>(txn: &T) -> Board {
        let mut r = Reader {
            txn,
            problems: Vec::new(),
        };
        let meta = match r.root(keys::META) {
            Some(m) => r.meta(&Node::Shared(m, txn)),
            None => Meta::default(),
        };
        let mut personas = r.entities(keys::PERSONAS, Reader::persona);
        sort_by_position(&mut personas, |p| (p.position, &p.id));
        let mut stages = r.entities(keys::STAGES, Reader::stage);
        sort_by_position(&mut stages, |s| (s.position, &s.id));
        let mut lanes = r.entities(keys::LANES, Reader::lane);
        sort_by_position(&mut lanes, |l| (l.position, &l.id));
        let mut cards = r.entities(keys::CARDS, Reader::card);
        sort_by_position(&mut cards, |c| (c.position, &c.id));
        let workshop = match r.root(keys::WORKSHOP) {
            Some(m) => r.workshop(&Node::Shared(m, txn)),
            None => Workshop::default(),
        };
        Board {
            meta,
            personas,
            stages,
            lanes,
            cards,
            workshop,
            read_problems: r.problems,
        }
    }

    /// Reads the board stored in `doc`, in a read transaction of its own.
    ///
    /// Blocks while the calling thread holds a write transaction on `doc` (yrs' transactions are
    /// a lock): inside one, call [`Board::read`] with that transaction instead.
    pub fn from_doc(doc: &Doc) -> Board {
        Board::read(&doc.transact())
    }
}

/// A map-shaped value: a Y.Map, or a plain object some client stored instead.
enum Node<'t, T: ReadTxn> {
    Shared(MapRef, &'t T),
    Plain(Arc<HashMap<String, Any>>),
}

impl<T: ReadTxn> Node<'_, T> {
    fn get(&self, key: &str) -> Option<Out> {
        match self {
            Node::Shared(map, txn) => map.get(*txn, key),
            Node::Plain(map) => map.get(key).cloned().map(Out::Any),
        }
    }

    fn entries(&self) -> Vec<(String, Out)> {
        match self {
            Node::Shared(map, txn) => map.iter(*txn).map(|(k, v)| (k.to_owned(), v)).collect(),
            Node::Plain(map) => map
                .iter()
                .map(|(k, v)| (k.clone(), Out::Any(v.clone())))
                .collect(),
        }
    }
}

/// A short name of a value's type for problem messages.
fn type_name(value: &Out) -> &'static str {
    match value {
        Out::Any(Any::Null) => "null",
        Out::Any(Any::Undefined) => "undefined",
        Out::Any(Any::Bool(_)) => "a boolean",
        Out::Any(Any::Number(_)) => "a number",
        Out::Any(Any::String(_)) => "a string",
        Out::Any(Any::Buffer(_)) => "a binary buffer",
        Out::Any(Any::Array(_)) => "a plain array",
        Out::Any(Any::Map(_)) => "a plain object",
        Out::YText(_) => "a Y.Text",
        Out::YArray(_) => "a Y.Array",
        Out::YMap(_) => "a Y.Map",
        Out::YXmlElement(_) | Out::YXmlFragment(_) | Out::YXmlText(_) => "a Y.Xml type",
        Out::YDoc(_) => "a subdocument",
        Out::UndefinedRef(_) => "an untyped shared value",
    }
}

/// `Null` and `undefined` mean "not set" in JS; treat them like an absent key.
fn present(value: Option<Out>) -> Option<Out> {
    match value {
        None | Some(Out::Any(Any::Null)) | Some(Out::Any(Any::Undefined)) => None,
        some => some,
    }
}

struct Reader<'t, T: ReadTxn> {
    txn: &'t T,
    problems: Vec<Problem>,
}

impl<'t, T: ReadTxn> Reader<'t, T> {
    fn wrong_type(&mut self, path: String, expected: &str, found: &Out) {
        let message = format!("expected {expected}, found {}", type_name(found));
        self.problems
            .push(Problem::new(path, ProblemCode::WrongType, message));
    }

    /// A root map, if the document has it. A root some client defined as another type is
    /// reported; yrs still lets us read its map part, which is empty.
    fn root(&mut self, name: &str) -> Option<MapRef> {
        match self.txn.get(name) {
            None => return None,
            Some(Out::YMap(_)) | Some(Out::UndefinedRef(_)) => {}
            Some(other) => self.wrong_type(name.to_owned(), "a Y.Map", &other),
        }
        self.txn.get_map(name)
    }

    /// A nested map, either shared or plain (reported).
    fn node(&mut self, value: Out, path: &str) -> Option<Node<'t, T>> {
        match value {
            Out::YMap(map) => Some(Node::Shared(map, self.txn)),
            Out::Any(Any::Map(map)) => {
                self.problems.push(Problem::new(
                    path,
                    ProblemCode::WrongType,
                    "expected a Y.Map, found a plain object (read, but not editable in place)",
                ));
                Some(Node::Plain(map))
            }
            other => {
                self.wrong_type(path.to_owned(), "a Y.Map", &other);
                None
            }
        }
    }

    /// Every entry of a root map that is a map, converted with `read`.
    fn entities<E>(&mut self, root: &str, read: fn(&mut Self, &str, &Node<'t, T>) -> E) -> Vec<E> {
        let Some(map) = self.root(root) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (id, value) in Node::Shared(map, self.txn).entries() {
            let path = format!("{root}/{id}");
            if let Some(node) = self.node(value, &path) {
                out.push(read(self, &id, &node));
            }
        }
        out
    }

    /// Every entry of a nested map (`metrics`, `votes`…), absent = empty.
    fn children(&mut self, node: &Node<'t, T>, key: &str, path: &str) -> Vec<(String, Out)> {
        match present(node.get(key)) {
            None => Vec::new(),
            Some(value) => {
                let path = format!("{path}/{key}");
                match self.node(value, &path) {
                    Some(child) => child.entries(),
                    None => Vec::new(),
                }
            }
        }
    }

    fn string(&mut self, node: &Node<'t, T>, key: &str, path: &str) -> String {
        self.opt_string(node, key, path).unwrap_or_default()
    }

    fn opt_string(&mut self, node: &Node<'t, T>, key: &str, path: &str) -> Option<String> {
        match present(node.get(key))? {
            Out::Any(Any::String(s)) => Some(s.to_string()),
            // Someone made the field collaborative; its text is still the value.
            Out::YText(text) => {
                self.problems.push(Problem::new(
                    format!("{path}/{key}"),
                    ProblemCode::WrongType,
                    "expected a string, found a Y.Text (read as its text)",
                ));
                Some(text.get_string(self.txn))
            }
            other => {
                self.wrong_type(format!("{path}/{key}"), "a string", &other);
                None
            }
        }
    }

    /// A finite number, or `None` (absent or reported).
    fn number(&mut self, node: &Node<'t, T>, key: &str, path: &str) -> Option<f64> {
        match present(node.get(key))? {
            Out::Any(Any::Number(n)) => match n.as_f64() {
                Some(f) if f.is_finite() => Some(f),
                _ => {
                    self.problems.push(Problem::new(
                        format!("{path}/{key}"),
                        ProblemCode::WrongType,
                        "expected a finite number",
                    ));
                    None
                }
            },
            other => {
                self.wrong_type(format!("{path}/{key}"), "a number", &other);
                None
            }
        }
    }

    fn position(&mut self, node: &Node<'t, T>, path: &str) -> f64 {
        self.number(node, keys::POSITION, path).unwrap_or(0.0)
    }

    /// Milliseconds since the epoch; a fractional value (some JS clocks) is rounded.
    fn timestamp(&mut self, node: &Node<'t, T>, key: &str, path: &str) -> i64 {
        self.number(node, key, path)
            .map(|f| f.round() as i64)
            .unwrap_or(0)
    }

    fn workshop(&mut self, node: &Node<'t, T>) -> Workshop {
        let p = keys::WORKSHOP;
        let whole = |v: Option<f64>| v.map(|f| f.round() as i64);
        let count = |v: Option<f64>| v.map_or(0, |f| f.clamp(0.0, f64::from(u32::MAX)) as u32);
        let mut flag = |key: &str| match present(node.get(key)) {
            None => None,
            Some(Out::Any(Any::Bool(b))) => Some(b),
            Some(other) => {
                self.wrong_type(format!("{p}/{key}"), "a boolean", &other);
                None
            }
        };
        let voting_open = flag(keys::VOTING_OPEN);
        let brainstorm_private = flag(keys::BRAINSTORM_PRIVATE).unwrap_or(false);
        Workshop {
            timer_duration_ms: whole(self.number(node, keys::TIMER_DURATION_MS, p)),
            timer_ends_at: whole(self.number(node, keys::TIMER_ENDS_AT, p)),
            timer_remaining_ms: whole(self.number(node, keys::TIMER_REMAINING_MS, p)),
            timer_label: self.string(node, keys::TIMER_LABEL, p),
            voting_open,
            voting_round: count(self.number(node, keys::VOTING_ROUND, p)),
            votes_per_participant: count(self.number(node, keys::VOTES_PER_PARTICIPANT, p)),
            brainstorm_private,
            brainstorm_reveal_at: whole(self.number(node, keys::BRAINSTORM_REVEAL_AT, p)),
        }
    }

    fn meta(&mut self, node: &Node<'t, T>) -> Meta {
        let p = keys::META;
        let journey_type = self
            .opt_string(node, keys::JOURNEY_TYPE, p)
            .map(JourneyType::from)
            .unwrap_or_default();
        let map_kind = self
            .opt_string(node, keys::MAP_KIND, p)
            .map(MapKind::from)
            .unwrap_or_default();
        let lang = match self.opt_string(node, keys::LANG, p) {
            None => Lang::default(),
            Some(s) => Lang::parse(&s).unwrap_or_else(|| {
                self.problems.push(Problem::new(
                    "meta/lang",
                    ProblemCode::UnknownLang,
                    format!("unknown language {s:?}; read as \"en\""),
                ));
                Lang::default()
            }),
        };
        let schema_version = match self.number(node, keys::SCHEMA_VERSION, p) {
            None => 0,
            Some(v) if v.fract() == 0.0 && v >= 1.0 && v <= f64::from(u32::MAX) => v as u32,
            Some(v) => {
                self.problems.push(Problem::new(
                    "meta/schemaVersion",
                    ProblemCode::WrongType,
                    format!("expected a positive integer, found {v}"),
                ));
                0
            }
        };
        Meta {
            title: self.string(node, keys::TITLE, p),
            description: self.string(node, keys::DESCRIPTION, p),
            journey_type,
            map_kind,
            lang,
            template: self.string(node, keys::TEMPLATE, p),
            created_at: self.timestamp(node, keys::CREATED_AT, p),
            updated_at: self.timestamp(node, keys::UPDATED_AT, p),
            schema_version,
            key_touchpoint: self
                .opt_string(node, keys::KEY_TOUCHPOINT, p)
                .filter(|s| !s.is_empty()),
        }
    }

    fn persona(&mut self, id: &str, node: &Node<'t, T>) -> Persona {
        let p = &format!("{}/{id}", keys::PERSONAS);
        Persona {
            id: id.to_owned(),
            position: self.position(node, p),
            name: self.string(node, keys::NAME, p),
            picture_url: self.string(node, keys::PICTURE_URL, p),
            age_range: self.string(node, keys::AGE_RANGE, p),
            occupation: self.string(node, keys::OCCUPATION, p),
            family_situation: self.string(node, keys::FAMILY_SITUATION, p),
            interests: self.string(node, keys::INTERESTS, p),
            buying_habits: self.string(node, keys::BUYING_HABITS, p),
            digital_comfort: self.string(node, keys::DIGITAL_COMFORT, p),
            goals: self.string(node, keys::GOALS, p),
            frustrations: self.string(node, keys::FRUSTRATIONS, p),
        }
    }

    fn stage(&mut self, id: &str, node: &Node<'t, T>) -> Stage {
        let p = &format!("{}/{id}", keys::STAGES);
        let emotion = match self.number(node, keys::EMOTION, p) {
            None => None,
            Some(e) if e.fract() != 0.0 => {
                self.problems.push(Problem::new(
                    format!("{p}/{}", keys::EMOTION),
                    ProblemCode::EmotionNotInteger,
                    format!("emotion {e} is not an integer; read as not set"),
                ));
                None
            }
            // Out-of-range integers are kept: validation reports them from the snapshot, so a
            // board built in memory is checked the same way as one read from a document.
            Some(e) => Some(e as i64),
        };
        let mut metrics = Vec::new();
        let metrics_path = format!("{p}/{}", keys::METRICS);
        for (mid, value) in self.children(node, keys::METRICS, p) {
            let mp = &format!("{metrics_path}/{mid}");
            if let Some(m) = self.node(value, mp) {
                metrics.push(Metric {
                    position: self.position(&m, mp),
                    name: self.string(&m, keys::NAME, mp),
                    value: self.number(&m, keys::VALUE, mp).unwrap_or(0.0),
                    unit: self.string(&m, keys::UNIT, mp),
                    target: self.number(&m, keys::TARGET, mp),
                    id: mid,
                });
            }
        }
        sort_by_position(&mut metrics, |m| (m.position, &m.id));
        Stage {
            id: id.to_owned(),
            position: self.position(node, p),
            name: self.string(node, keys::NAME, p),
            description: self.string(node, keys::DESCRIPTION, p),
            emotion,
            metrics,
        }
    }

    fn lane(&mut self, id: &str, node: &Node<'t, T>) -> Lane {
        let p = &format!("{}/{id}", keys::LANES);
        Lane {
            id: id.to_owned(),
            position: self.position(node, p),
            kind: self
                .opt_string(node, keys::KIND, p)
                .map(LaneKind::from)
                .unwrap_or_default(),
            title: self.string(node, keys::TITLE, p),
            question: self.string(node, keys::QUESTION, p),
        }
    }

    fn card(&mut self, id: &str, node: &Node<'t, T>) -> Card {
        let p = &format!("{}/{id}", keys::CARDS);
        let text = match present(node.get(keys::TEXT)) {
            None => String::new(),
            Some(Out::YText(text)) => text.get_string(self.txn),
            Some(Out::Any(Any::String(s))) => {
                self.problems.push(Problem::new(
                    format!("{p}/{}", keys::TEXT),
                    ProblemCode::WrongType,
                    "expected a Y.Text, found a string (read, but edits replace it)",
                ));
                s.to_string()
            }
            Some(other) => {
                self.wrong_type(format!("{p}/{}", keys::TEXT), "a Y.Text", &other);
                String::new()
            }
        };
        let priority =
            self.opt_string(node, keys::PRIORITY, p)
                .and_then(|s| match Priority::parse(&s) {
                    Some(priority) => Some(priority),
                    None => {
                        self.problems.push(Problem::new(
                            format!("{p}/{}", keys::PRIORITY),
                            ProblemCode::UnknownPriority,
                            format!("unknown priority {s:?}; read as not set"),
                        ));
                        None
                    }
                });
        let mut votes = BTreeMap::new();
        let votes_path = format!("{p}/{}", keys::VOTES);
        for (participant, value) in self.children(node, keys::VOTES, p) {
            match value {
                Out::Any(Any::Number(n)) => match n.as_f64() {
                    Some(f) if f.is_finite() && f.fract() == 0.0 => {
                        votes.insert(participant, f as i64);
                    }
                    _ => self.problems.push(Problem::new(
                        format!("{votes_path}/{participant}"),
                        ProblemCode::WrongType,
                        "expected an integer vote count",
                    )),
                },
                other => self.wrong_type(format!("{votes_path}/{participant}"), "a number", &other),
            }
        }
        let mut comments = Vec::new();
        let comments_path = format!("{p}/{}", keys::COMMENTS);
        for (cid, value) in self.children(node, keys::COMMENTS, p) {
            let cp = &format!("{comments_path}/{cid}");
            if let Some(c) = self.node(value, cp) {
                comments.push(Comment {
                    author: self.string(&c, keys::AUTHOR, cp),
                    author_id: self.string(&c, keys::AUTHOR_ID, cp),
                    text: self.string(&c, keys::TEXT, cp),
                    created_at: self.timestamp(&c, keys::CREATED_AT, cp),
                    id: cid,
                });
            }
        }
        comments.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut reactions = BTreeMap::new();
        let reactions_path = format!("{p}/{}", keys::REACTIONS);
        for (emoji, value) in self.children(node, keys::REACTIONS, p) {
            let ep = format!("{reactions_path}/{emoji}");
            let Some(who) = self.node(value, &ep) else {
                continue;
            };
            // Only `true` counts: a client that un-reacts by writing `false` instead of deleting
            // the key still means "not reacted".
            let mut participants: Vec<String> = who
                .entries()
                .into_iter()
                .filter(|(_, v)| matches!(v, Out::Any(Any::Bool(true))))
                .map(|(k, _)| k)
                .collect();
            if !participants.is_empty() {
                participants.sort();
                reactions.insert(emoji, participants);
            }
        }
        Card {
            id: id.to_owned(),
            position: self.position(node, p),
            stage: self.string(node, keys::STAGE, p),
            lane: self.string(node, keys::LANE, p),
            text,
            author: self.string(node, keys::AUTHOR, p),
            author_id: self.string(node, keys::AUTHOR_ID, p),
            color: self.string(node, keys::COLOR, p),
            team: self.string(node, keys::TEAM, p),
            priority,
            created_at: self.timestamp(node, keys::CREATED_AT, p),
            updated_at: self.timestamp(node, keys::UPDATED_AT, p),
            votes,
            comments,
            reactions,
        }
    }
}
