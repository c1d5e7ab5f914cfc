//! What the three exports share: the fixed wording around the board's own text (in the board's
//! language, so a French board exports as a French document), the emotion scale, and number
//! and date formatting.

use std::collections::HashMap;

use client_protocol::schema::{Board, Card, JourneyType, Lane, Lang, MapKind, Persona, Priority};

/// The words the exports add around the board's text, in one language.
pub(super) struct Labels {
    pub journey_map: &'static str,
    pub experience_map: &'static str,
    pub journey_type: &'static str,
    pub map_kind: &'static str,
    pub personas: &'static str,
    pub persona: &'static str,
    pub stages: &'static str,
    pub stage: &'static str,
    pub lanes: &'static str,
    pub lane: &'static str,
    pub emotion: &'static str,
    pub not_scored: &'static str,
    pub metrics: &'static str,
    pub target: &'static str,
    pub key_touchpoint: &'static str,
    pub key_touchpoint_hint: &'static str,
    pub votes_legend: &'static str,
    pub vote: &'static str,
    pub votes: &'static str,
    pub by: &'static str,
    pub more: &'static str,
    pub more_stages: &'static str,
    pub more_lanes: &'static str,
    pub more_personas: &'static str,
    pub no_cards: &'static str,
    pub unplaced: &'static str,
    pub updated: &'static str,
    pub untitled: &'static str,
    pub priority: &'static str,
    /// Persona field names, in [`persona_fields`] order.
    pub persona_fields: [&'static str; 9],
    /// Low, medium, high.
    pub priorities: [&'static str; 3],
    /// Onboarding, maintenance, usage, replacement, custom.
    pub journey_types: [&'static str; 5],
    /// −2, −1, 0, +1, +2.
    pub emotion_words: [&'static str; 5],
}

const EN: Labels = Labels {
    journey_map: "Customer journey map",
    experience_map: "Customer experience map",
    journey_type: "Journey type",
    map_kind: "Map",
    personas: "Personas",
    persona: "Persona",
    stages: "Stages",
    stage: "Stage",
    lanes: "lanes",
    lane: "lane",
    emotion: "Emotion",
    not_scored: "not scored",
    metrics: "Metrics",
    target: "target",
    key_touchpoint: "Key touchpoint",
    key_touchpoint_hint: "improve it first",
    votes_legend: "Dot votes",
    vote: "vote",
    votes: "votes",
    by: "by",
    more: "more",
    more_stages: "more stages not shown",
    more_lanes: "more lanes not shown",
    more_personas: "more personas",
    no_cards: "No cards yet.",
    unplaced: "Cards outside the grid (their stage or lane no longer exists)",
    updated: "Last updated",
    untitled: "Untitled board",
    priority: "priority",
    persona_fields: [
        "Picture",
        "Age range",
        "Occupation",
        "Family situation",
        "Interests",
        "Buying habits",
        "Digital comfort",
        "Goals",
        "Frustrations",
    ],
    priorities: ["low", "medium", "high"],
    journey_types: [
        "Onboarding",
        "After-sales",
        "Usage",
        "Replacement",
        "Custom",
    ],
    emotion_words: [
        "Very negative",
        "Negative",
        "Neutral",
        "Positive",
        "Very positive",
    ],
};

const FR: Labels = Labels {
    journey_map: "Carte du parcours client",
    experience_map: "Carte de l'expérience client",
    journey_type: "Type de parcours",
    map_kind: "Carte",
    personas: "Personas",
    persona: "Persona",
    stages: "Étapes",
    stage: "Étape",
    lanes: "lignes",
    lane: "ligne",
    emotion: "Émotion",
    not_scored: "non évaluée",
    metrics: "Indicateurs",
    target: "objectif",
    key_touchpoint: "Point de contact clé",
    key_touchpoint_hint: "à améliorer en premier",
    votes_legend: "Votes par gommettes",
    vote: "vote",
    votes: "votes",
    by: "par",
    more: "de plus",
    more_stages: "autres étapes non affichées",
    more_lanes: "autres lignes non affichées",
    more_personas: "autres personas",
    no_cards: "Aucune carte pour l'instant.",
    unplaced: "Cartes hors de la grille (leur étape ou leur ligne n'existe plus)",
    updated: "Dernière mise à jour",
    untitled: "Tableau sans titre",
    priority: "priorité",
    persona_fields: [
        "Photo",
        "Tranche d'âge",
        "Profession",
        "Situation familiale",
        "Centres d'intérêt",
        "Habitudes d'achat",
        "Aisance numérique",
        "Objectifs",
        "Frustrations",
    ],
    priorities: ["basse", "moyenne", "haute"],
    journey_types: [
        "Entrée en relation",
        "Après-vente",
        "Utilisation",
        "Remplacement",
        "Personnalisé",
    ],
    emotion_words: [
        "Très négative",
        "Négative",
        "Neutre",
        "Positive",
        "Très positive",
    ],
};

impl Labels {
    /// The wording for a board written in `lang`.
    pub fn for_lang(lang: Lang) -> &'static Labels {
        match lang {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }

    /// "Customer journey map" or "Customer experience map"; an unknown kind as stored.
    pub fn map_kind_name<'a>(&self, kind: &'a MapKind) -> &'a str {
        match kind {
            MapKind::Journey => self.journey_map,
            MapKind::Experience => self.experience_map,
            MapKind::Unknown(s) => s,
        }
    }

    /// The journey type in words; an unknown type as stored.
    pub fn journey_type_name<'a>(&self, journey_type: &'a JourneyType) -> &'a str {
        match journey_type {
            JourneyType::Onboarding => self.journey_types[0],
            JourneyType::Maintenance => self.journey_types[1],
            JourneyType::Usage => self.journey_types[2],
            JourneyType::Replacement => self.journey_types[3],
            JourneyType::Custom => self.journey_types[4],
            JourneyType::Unknown(s) => s,
        }
    }

    /// The word for an emotion score (clamped: validation reports out-of-range scores, the
    /// exports still show them).
    pub fn emotion_word(&self, score: i64) -> &'static str {
        self.emotion_words[emotion_index(score)]
    }
}

/// 0..=4 for a score of −2..=+2, clamped.
pub(super) fn emotion_index(score: i64) -> usize {
    (score.clamp(-2, 2) + 2) as usize
}

/// 0, 1, 2 for low, medium, high: the index into [`Labels::priorities`].
pub(super) fn priority_index(priority: Priority) -> usize {
    match priority {
        Priority::Low => 0,
        Priority::Medium => 1,
        Priority::High => 2,
    }
}

/// The face shown next to an emotion score in the Markdown export.
pub(super) fn emotion_emoji(score: i64) -> &'static str {
    ["😞", "🙁", "😐", "🙂", "😀"][emotion_index(score)]
}

/// A score with its sign, as practitioners write the curve's axis: "+2", "0", "−1".
pub(super) fn signed(score: i64) -> String {
    match score {
        s if s > 0 => format!("+{s}"),
        s if s < 0 => format!("\u{2212}{}", s.unsigned_abs()),
        _ => "0".to_owned(),
    }
}

/// The persona's optional fields as (index into [`Labels::persona_fields`], value), skipping
/// the empty ones. The name is not among them: every export shows it as the heading.
pub(super) fn persona_fields(p: &Persona) -> impl Iterator<Item = (usize, &str)> {
    [
        &p.picture_url,
        &p.age_range,
        &p.occupation,
        &p.family_situation,
        &p.interests,
        &p.buying_habits,
        &p.digital_comfort,
        &p.goals,
        &p.frustrations,
    ]
    .into_iter()
    .enumerate()
    .filter(|(_, v)| !v.trim().is_empty())
    .map(|(i, v)| (i, v.as_str()))
}

/// A metric value without a useless ".0" (`1200`, `2.4`); Rust's shortest round-trip form, so
/// the export shows what was typed.
pub(super) fn number(value: f64) -> String {
    if value.is_finite() {
        format!("{value}")
    } else {
        String::new()
    }
}

/// Milliseconds since the epoch as an RFC 3339 UTC timestamp
/// (`2023-11-14T22:13:20.000Z`), readable in a spreadsheet and still sortable as text.
pub(super) fn timestamp(ms: i64) -> String {
    let (date, secs_of_day) = (ms.div_euclid(86_400_000), ms.rem_euclid(86_400_000));
    let (y, m, d) = civil_from_days(date);
    let (h, rest) = (secs_of_day / 3_600_000, secs_of_day % 3_600_000);
    let (min, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Just the date part of [`timestamp`].
pub(super) fn date(ms: i64) -> String {
    let (y, m, d) = civil_from_days(ms.div_euclid(86_400_000));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Days since 1970-01-01 to a proleptic Gregorian (year, month, day): Howard Hinnant's
/// `civil_from_days`, exact for every `i64` millisecond timestamp, so no date crate is needed.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// At most `max` characters of `s` (not bytes: never splits a character), with "…" when cut.
pub(super) fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        None => s.to_owned(),
        Some((end, _)) => {
            let mut out = s[..end].trim_end().to_owned();
            out.push('…');
            out
        }
    }
}

/// A card with the stage and lane it is drawn in (`None` when that stage or lane no longer
/// exists) and their indices in the board's order.
pub(super) struct Placed<'a> {
    pub card: &'a Card,
    pub stage: Option<(usize, &'a str)>,
    pub lane: Option<(usize, &'a Lane)>,
}

impl Placed<'_> {
    /// Whether the card has a cell: both its stage and its lane exist.
    pub fn in_grid(&self) -> bool {
        self.stage.is_some() && self.lane.is_some()
    }
}

/// Every card in reading order: stage by stage, lane by lane, cell order within a cell; then
/// the cards whose stage or lane no longer exists, in board order.
///
/// One pass with id indexes and a sort, rather than a scan of all cards per cell: a board with
/// many stages and lanes would otherwise cost stages × lanes × cards.
pub(super) fn grid_order(board: &Board) -> Vec<Placed<'_>> {
    let mut stages = HashMap::with_capacity(board.stages.len());
    for (i, s) in board.stages.iter().enumerate() {
        // The first of two items with the same id wins, as in `Board::stage`.
        stages.entry(s.id.as_str()).or_insert((i, s.name.as_str()));
    }
    let mut lanes = HashMap::with_capacity(board.lanes.len());
    for (i, l) in board.lanes.iter().enumerate() {
        lanes.entry(l.id.as_str()).or_insert((i, l));
    }
    let mut placed: Vec<Placed<'_>> = board
        .cards
        .iter()
        .map(|card| Placed {
            card,
            stage: stages.get(card.stage.as_str()).copied(),
            lane: lanes.get(card.lane.as_str()).copied(),
        })
        .collect();
    // Stable: cards of one cell keep the board's (position, id) order.
    placed.sort_by_key(|p| match (p.stage, p.lane) {
        (Some((s, _)), Some((l, _))) => (false, s, l),
        _ => (true, 0, 0),
    });
    placed
}
