//! Board templates: the maps CX practitioners usually start from (DOMAIN.md), in English and
//! French.
//!
//! A template is only a starting point: [`instantiate`] copies its text into the board, in the
//! chosen language, and from then on the board owns it (teams rename, add and reorder stages and
//! lanes). That is also why a board keeps its language: the text is in the document, not looked
//! up from here.

use serde::Serialize;

use super::model::{JourneyType, LaneKind, Lang, MapKind, PersonaInit};
use super::write::{BoardWriter, MetaInit, MetricInit, WriteError};
use yrs::Map;

/// A piece of template text in every language the product ships.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Localized {
    /// English.
    pub en: &'static str,
    /// French (written with plain spaces; [`Localized::get`] adds French typography).
    pub fr: &'static str,
}

impl Localized {
    /// The text in `lang`, ready to store or display.
    pub fn get(&self, lang: Lang) -> String {
        match lang {
            Lang::En => self.en.to_owned(),
            Lang::Fr => french_typography(self.fr),
        }
    }
}

/// French puts a non-breaking space before `? ! : ;` and inside « »; typing it in the sources
/// would make them unreadable, so it is added here.
fn french_typography(s: &str) -> String {
    s.replace(" ?", "\u{a0}?")
        .replace(" !", "\u{a0}!")
        .replace(" :", "\u{a0}:")
        .replace(" ;", "\u{a0};")
        .replace("« ", "«\u{a0}")
        .replace(" »", "\u{a0}»")
}

const fn l(en: &'static str, fr: &'static str) -> Localized {
    Localized { en, fr }
}

/// A metric a template puts on a stage (value 0, no target: the team measures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct MetricInfo {
    /// Display name.
    pub name: Localized,
    /// Unit.
    pub unit: Localized,
}

/// A stage a template creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageInfo {
    /// Display name.
    pub name: Localized,
    /// What happens at this stage.
    pub description: Localized,
    /// Metrics to track here.
    pub metrics: &'static [MetricInfo],
}

/// A lane a template creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LaneInfo {
    /// What the lane holds.
    pub kind: LaneKind,
    /// Display title.
    pub title: Localized,
    /// Guiding question.
    pub question: Localized,
}

/// A template, as listed to users and copied by [`instantiate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateInfo {
    /// Stable id, stored in `meta.template`.
    pub id: &'static str,
    /// Display name.
    pub name: Localized,
    /// When to use it.
    pub description: Localized,
    /// Journey type written to `meta.journeyType`.
    pub journey_type: JourneyType,
    /// Map kind written to `meta.mapKind`.
    pub map_kind: MapKind,
    /// Stages, left to right.
    pub stages: &'static [StageInfo],
    /// Lanes, top to bottom.
    pub lanes: &'static [LaneInfo],
}

/// Every template, in the order a "new board" dialog shows them.
pub fn templates() -> &'static [TemplateInfo] {
    TEMPLATES
}

/// The template with this id.
pub fn template(id: &str) -> Option<&'static TemplateInfo> {
    TEMPLATES.iter().find(|t| t.id == id)
}

/// Fills an empty board from a template: meta (title, `lang`, `template`, `schemaVersion`…),
/// stages with their metrics, lanes with their guiding questions, and optionally a first persona.
///
/// Everything goes through `writer`, so it is one transaction: other participants see the whole
/// board appear at once. Refuses a board that already has stages, lanes or cards
/// ([`WriteError::BoardNotEmpty`]) rather than mix a template into existing work.
pub fn instantiate(
    writer: &mut BoardWriter<'_, '_>,
    template_id: &str,
    lang: Lang,
    title: &str,
    persona: Option<&PersonaInit>,
) -> Result<(), WriteError> {
    let t = template(template_id).ok_or_else(|| WriteError::UnknownTemplate(template_id.into()))?;
    let refs = writer.refs().clone();
    let txn = writer.txn();
    if refs.stages.len(txn) > 0 || refs.lanes.len(txn) > 0 || refs.cards.len(txn) > 0 {
        return Err(WriteError::BoardNotEmpty);
    }
    writer.init_meta(&MetaInit {
        title: title.to_owned(),
        description: String::new(),
        journey_type: t.journey_type.clone(),
        map_kind: t.map_kind.clone(),
        lang,
        template: t.id.to_owned(),
    });
    for stage in t.stages {
        let id = writer.add_stage(&stage.name.get(lang), &stage.description.get(lang));
        for metric in stage.metrics {
            writer.add_metric(
                &id,
                &MetricInit {
                    name: metric.name.get(lang),
                    value: 0.0,
                    unit: metric.unit.get(lang),
                    target: None,
                },
            )?;
        }
    }
    for lane in t.lanes {
        writer.add_lane(&lane.kind, &lane.title.get(lang), &lane.question.get(lang));
    }
    if let Some(persona) = persona {
        writer.add_persona(persona);
    }
    Ok(())
}

// ----- lanes --------------------------------------------------------------------------------

const ACTIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Actions,
    title: l("Actions", "Actions"),
    question: l(
        "What must the customer do to move forward? What stops them from taking the next step?",
        "Que doit faire le client pour avancer ? Qu'est-ce qui l'empêche de passer à l'étape suivante ?",
    ),
};
const MOTIVATIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Motivations,
    title: l("Motivations", "Motivations"),
    question: l(
        "What pushes them to the next step? What is their goal? How do they feel?",
        "Qu'est-ce qui le pousse vers l'étape suivante ? Quel est son objectif ? Que ressent-il ?",
    ),
};
const QUESTIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Questions,
    title: l("Questions", "Questions"),
    question: l(
        "What doubts do they have? Are they looking for something specific, or confused?",
        "Quels doutes a-t-il ? Cherche-t-il quelque chose de précis, ou est-il perdu ?",
    ),
};
const PAIN_POINTS: LaneInfo = LaneInfo {
    kind: LaneKind::PainPoints,
    title: l("Pain points", "Points de douleur"),
    question: l(
        "What obstacles keep them from the next step? How does buying feel? Is the price accessible?",
        "Quels obstacles l'empêchent de passer à l'étape suivante ? Comment vit-il l'achat ? Le prix est-il accessible ?",
    ),
};
const TOUCHPOINTS: LaneInfo = LaneInfo {
    kind: LaneKind::Touchpoints,
    title: l("Touchpoints", "Points de contact"),
    question: l(
        "Where do they interact with the brand: arrival, staff, purchase and payment, use of the facilities, feedback? Flag the single most important one: improve it first.",
        "Où interagit-il avec la marque : arrivée, personnel, achat et paiement, utilisation des installations, avis ? Signalez le point de contact le plus important : c'est lui qu'il faut améliorer en premier.",
    ),
};
const CHANNELS: LaneInfo = LaneInfo {
    kind: LaneKind::Channels,
    title: l("Channels", "Canaux"),
    question: l(
        "Which channels do they use here: website, store, live chat, email, social pages, WhatsApp, Messenger, Instagram? Does the experience feel the same on all of them?",
        "Quels canaux utilise-t-il ici : site web, magasin, chat en direct, e-mail, réseaux sociaux, WhatsApp, Messenger, Instagram ? L'expérience est-elle la même partout ?",
    ),
};
const EMOTIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Emotions,
    title: l("Emotions", "Émotions"),
    question: l(
        "How does the customer feel at this stage?",
        "Que ressent le client à cette étape ?",
    ),
};
const NEEDS: LaneInfo = LaneInfo {
    kind: LaneKind::Needs,
    title: l("Customer needs", "Besoins du client"),
    question: l(
        "What does the customer need at this touchpoint?",
        "De quoi le client a-t-il besoin à ce point de contact ?",
    ),
};
const KEY_MOMENTS: LaneInfo = LaneInfo {
    kind: LaneKind::KeyMoments,
    title: l("Key moments", "Moments clés"),
    question: l(
        "What does this moment look like for the customer? Add an image or a screenshot.",
        "À quoi ressemble ce moment pour le client ? Ajoutez une image ou une capture d'écran.",
    ),
};
const TEAM_ACTIONS: LaneInfo = LaneInfo {
    kind: LaneKind::TeamActions,
    title: l("Team actions", "Actions de l'équipe"),
    question: l(
        "How does the team deliver the best experience here?",
        "Comment l'équipe offre-t-elle la meilleure expérience possible ici ?",
    ),
};
const EXPECTATIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Expectations,
    title: l("Expectations", "Attentes"),
    question: l(
        "What does the customer expect at this stage?",
        "Qu'attend le client à cette étape ?",
    ),
};
const RECEIVED: LaneInfo = LaneInfo {
    kind: LaneKind::Received,
    title: l("Received", "Ce qui a été reçu"),
    question: l(
        "What do they actually get, compared with what they expected?",
        "Qu'obtient-il réellement, par rapport à ce qu'il attendait ?",
    ),
};
const OBJECTIONS: LaneInfo = LaneInfo {
    kind: LaneKind::Objections,
    title: l("Objections", "Objections"),
    question: l(
        "Which constraints, concerns and frustrations must sales be ready to answer?",
        "Quelles contraintes, inquiétudes et frustrations les commerciaux doivent-ils être prêts à lever ?",
    ),
};
const OPPORTUNITIES: LaneInfo = LaneInfo {
    kind: LaneKind::Opportunities,
    title: l("Opportunities", "Opportunités"),
    question: l(
        "What could we improve or try here? One idea per card, then vote for the best.",
        "Que pourrions-nous améliorer ou essayer ici ? Une idée par carte, puis votez pour les meilleures.",
    ),
};
const METRICS_LANE: LaneInfo = LaneInfo {
    kind: LaneKind::Metrics,
    title: l("Metrics", "Indicateurs"),
    question: l(
        "What do we measure at this stage, and what do the figures tell us?",
        "Que mesurons-nous à cette étape, et que nous disent les chiffres ?",
    ),
};

// ----- metrics ------------------------------------------------------------------------------

const VISITS: MetricInfo = MetricInfo {
    name: l("Visits", "Visites"),
    unit: l("visits", "visites"),
};
const TIME_ON_PAGE: MetricInfo = MetricInfo {
    name: l("Time on page", "Temps passé sur la page"),
    unit: l("s", "s"),
};
const BRANDED_SEARCH: MetricInfo = MetricInfo {
    name: l(
        "Branded search traffic",
        "Trafic de recherche sur la marque",
    ),
    unit: l("visits", "visites"),
};
const DIRECT_TRAFFIC: MetricInfo = MetricInfo {
    name: l("Direct traffic", "Trafic direct"),
    unit: l("visits", "visites"),
};
const CART_ABANDONMENT: MetricInfo = MetricInfo {
    name: l("Cart abandonment rate", "Taux d'abandon de panier"),
    unit: l("%", "%"),
};
const SALES_CONVERSION: MetricInfo = MetricInfo {
    name: l("Sales conversion rate", "Taux de conversion des ventes"),
    unit: l("%", "%"),
};
const RETURNING_VISITORS: MetricInfo = MetricInfo {
    name: l("Returning visitors", "Visiteurs récurrents"),
    unit: l("visitors", "visiteurs"),
};
const CONVERSATIONS: MetricInfo = MetricInfo {
    name: l("Number of conversations", "Nombre de conversations"),
    unit: l("conversations", "conversations"),
};
const LIFETIME_VALUE: MetricInfo = MetricInfo {
    name: l("Customer lifetime value", "Valeur vie client"),
    unit: l("$", "€"),
};
const NPS: MetricInfo = MetricInfo {
    name: l("Net Promoter Score (NPS)", "Net Promoter Score (NPS)"),
    unit: l("points", "points"),
};
const CSAT: MetricInfo = MetricInfo {
    name: l("Customer satisfaction (CSAT)", "Satisfaction client (CSAT)"),
    unit: l("%", "%"),
};
const SIGN_UP_COMPLETION: MetricInfo = MetricInfo {
    name: l(
        "Sign-up completion rate",
        "Taux de finalisation de l'inscription",
    ),
    unit: l("%", "%"),
};
const ACTIVATION: MetricInfo = MetricInfo {
    name: l("Activation rate", "Taux d'activation"),
    unit: l("%", "%"),
};
const FIRST_CONTACT_RESOLUTION: MetricInfo = MetricInfo {
    name: l(
        "First contact resolution rate",
        "Taux de résolution au premier contact",
    ),
    unit: l("%", "%"),
};
const TIME_TO_RESOLUTION: MetricInfo = MetricInfo {
    name: l("Time to resolution", "Délai de résolution"),
    unit: l("h", "h"),
};
const ACTIVE_USERS: MetricInfo = MetricInfo {
    name: l("Active users", "Utilisateurs actifs"),
    unit: l("users", "utilisateurs"),
};
const RENEWAL_RATE: MetricInfo = MetricInfo {
    name: l("Renewal rate", "Taux de renouvellement"),
    unit: l("%", "%"),
};
const REPURCHASE_RATE: MetricInfo = MetricInfo {
    name: l("Repurchase rate", "Taux de réachat"),
    unit: l("%", "%"),
};

// ----- templates ----------------------------------------------------------------------------

static TEMPLATES: &[TemplateInfo] = &[
    TemplateInfo {
        id: "customer-journey",
        name: l("Customer journey map", "Carte du parcours client"),
        description: l(
            "The stages one persona goes through with one brand or product, with their emotions at each stage. Best when a specific problem or goal is known.",
            "Les étapes que traverse un persona avec une marque ou un produit, et ses émotions à chaque étape. Idéale quand un problème ou un objectif précis est connu.",
        ),
        journey_type: JourneyType::Custom,
        map_kind: MapKind::Journey,
        stages: &[
            StageInfo {
                name: l("Awareness", "Sensibilisation"),
                description: l(
                    "Ads, word of mouth: the customer discovers the brand or realises a need.",
                    "Publicité, bouche-à-oreille : le client découvre la marque ou prend conscience d'un besoin.",
                ),
                metrics: &[VISITS, TIME_ON_PAGE],
            },
            StageInfo {
                name: l("Consideration", "Considération"),
                description: l(
                    "Research, social posts, emails, websites: the customer compares options.",
                    "Recherches, publications sur les réseaux sociaux, e-mails, sites web : le client compare les options.",
                ),
                metrics: &[BRANDED_SEARCH, DIRECT_TRAFFIC],
            },
            StageInfo {
                name: l("Decision / purchase", "Décision / achat"),
                description: l(
                    "Buying online, in store or in an app.",
                    "Achat en ligne, en magasin ou dans une application.",
                ),
                metrics: &[CART_ABANDONMENT, SALES_CONVERSION],
            },
            StageInfo {
                name: l("Service", "Service"),
                description: l(
                    "Call centre, social media, chat, community forums.",
                    "Centre d'appels, réseaux sociaux, chat, forums communautaires.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Loyalty / retention", "Fidélisation"),
                description: l(
                    "Special offers, loyalty programme, newsletters, surveys.",
                    "Offres spéciales, programme de fidélité, newsletters, enquêtes.",
                ),
                metrics: &[RETURNING_VISITORS, CONVERSATIONS, LIFETIME_VALUE],
            },
            StageInfo {
                name: l("Advocacy", "Recommandation"),
                description: l(
                    "The customer recommends the brand.",
                    "Le client recommande la marque.",
                ),
                metrics: &[NPS, CSAT],
            },
        ],
        lanes: &[
            ACTIONS,
            MOTIVATIONS,
            QUESTIONS,
            PAIN_POINTS,
            TOUCHPOINTS,
            CHANNELS,
            EMOTIONS,
            NEEDS,
            KEY_MOMENTS,
            TEAM_ACTIONS,
            EXPECTATIONS,
            RECEIVED,
            OBJECTIONS,
            OPPORTUNITIES,
            METRICS_LANE,
        ],
    },
    TemplateInfo {
        id: "customer-experience",
        name: l("Customer experience map", "Carte de l'expérience client"),
        description: l(
            "A holistic map of a person's behaviour, thoughts and feelings at every step, including what happens beyond the brand. Best when you know something is wrong but not where.",
            "Une carte globale des comportements, pensées et émotions d'une personne à chaque étape, y compris en dehors de la marque. Idéale quand quelque chose ne va pas sans que l'on sache où.",
        ),
        journey_type: JourneyType::Custom,
        map_kind: MapKind::Experience,
        stages: &[
            StageInfo {
                name: l("Awareness", "Prise de conscience"),
                description: l(
                    "Something is wrong or missing, e.g. \u{201c}my child is sneezing and has watery eyes\u{201d}.",
                    "Quelque chose ne va pas ou manque, par exemple « mon enfant éternue et a les yeux qui coulent ».",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Consideration", "Réflexion"),
                description: l(
                    "Making sense of it, e.g. \u{201c}it's a cold affecting nose and throat\u{201d}.",
                    "Comprendre ce qui se passe, par exemple « c'est un rhume qui touche le nez et la gorge ».",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Decision", "Décision"),
                description: l(
                    "Choosing what to do, e.g. \u{201c}see the paediatrician or buy an over-the-counter remedy\u{201d}.",
                    "Choisir quoi faire, par exemple « consulter le pédiatre ou acheter un remède sans ordonnance ».",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Action", "Passage à l'action"),
                description: l(
                    "Doing it, with or without a brand: the appointment, the pharmacy, the remedy.",
                    "Passer à l'acte, avec ou sans marque : le rendez-vous, la pharmacie, le remède.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Afterwards", "Et après"),
                description: l(
                    "How it turned out, and what they tell others about it.",
                    "Le résultat, et ce que la personne en raconte autour d'elle.",
                ),
                metrics: &[],
            },
        ],
        lanes: &[
            LaneInfo {
                kind: LaneKind::Actions,
                title: l("Actions", "Actions"),
                question: l(
                    "What does the person do at this step, with or without a brand?",
                    "Que fait la personne à cette étape, avec ou sans marque ?",
                ),
            },
            LaneInfo {
                kind: LaneKind::Questions,
                title: l("Thoughts", "Pensées"),
                question: l(
                    "What goes through their mind? What are they unsure about?",
                    "Que se dit-elle ? De quoi n'est-elle pas sûre ?",
                ),
            },
            LaneInfo {
                kind: LaneKind::Emotions,
                title: l("Feelings", "Émotions"),
                question: l(
                    "How do they feel at this step?",
                    "Que ressent-elle à cette étape ?",
                ),
            },
            LaneInfo {
                kind: LaneKind::PainPoints,
                title: l("Pain points", "Irritants"),
                question: l(
                    "What gets in their way, even outside our product?",
                    "Qu'est-ce qui la gêne, y compris en dehors de notre produit ?",
                ),
            },
            LaneInfo {
                kind: LaneKind::Opportunities,
                title: l("Opportunities", "Opportunités"),
                question: l(
                    "Where could we help, even beyond what we sell today?",
                    "Où pourrions-nous l'aider, même au-delà de ce que nous vendons aujourd'hui ?",
                ),
            },
        ],
    },
    TemplateInfo {
        id: "onboarding",
        name: l("Onboarding journey", "Parcours d'entrée en relation"),
        description: l(
            "From the first contact to the first purchase and account creation, up to the first support contact.",
            "Du premier contact au premier achat et à la création du compte, jusqu'au premier échange avec le support.",
        ),
        journey_type: JourneyType::Onboarding,
        map_kind: MapKind::Journey,
        stages: &[
            StageInfo {
                name: l("Discovery", "Découverte"),
                description: l(
                    "How the customer first hears of the product: ads, word of mouth, search.",
                    "Comment le client entend parler du produit : publicité, bouche-à-oreille, recherche.",
                ),
                metrics: &[VISITS],
            },
            StageInfo {
                name: l("Sign-up", "Inscription"),
                description: l(
                    "Creating the account: form, e-mail verification, first settings.",
                    "Création du compte : formulaire, vérification de l'e-mail, premiers réglages.",
                ),
                metrics: &[SIGN_UP_COMPLETION],
            },
            StageInfo {
                name: l("First purchase", "Premier achat"),
                description: l(
                    "Choosing an offer, paying, receiving the confirmation.",
                    "Choix d'une offre, paiement, réception de la confirmation.",
                ),
                metrics: &[CART_ABANDONMENT, SALES_CONVERSION],
            },
            StageInfo {
                name: l("First use", "Première utilisation"),
                description: l(
                    "Getting started: set-up, first success or first failure.",
                    "Prise en main : installation, premier succès ou premier échec.",
                ),
                metrics: &[ACTIVATION],
            },
            StageInfo {
                name: l("First support contact", "Premier contact avec le support"),
                description: l(
                    "The first question or problem, and how quickly it is solved.",
                    "La première question ou le premier problème, et la rapidité de sa résolution.",
                ),
                metrics: &[FIRST_CONTACT_RESOLUTION],
            },
            StageInfo {
                name: l("Adoption", "Adoption"),
                description: l(
                    "The product becomes a habit, or is dropped.",
                    "Le produit devient une habitude, ou est abandonné.",
                ),
                metrics: &[RETURNING_VISITORS],
            },
        ],
        lanes: &[
            ACTIONS,
            MOTIVATIONS,
            QUESTIONS,
            PAIN_POINTS,
            TOUCHPOINTS,
            CHANNELS,
            EMOTIONS,
            EXPECTATIONS,
            RECEIVED,
            TEAM_ACTIONS,
            OPPORTUNITIES,
        ],
    },
    TemplateInfo {
        id: "maintenance",
        name: l("After-sales journey", "Parcours après-vente"),
        description: l(
            "Installation, everyday care, problems and complaints, and how they are resolved.",
            "Installation, entretien courant, pannes et réclamations, et leur résolution.",
        ),
        journey_type: JourneyType::Maintenance,
        map_kind: MapKind::Journey,
        stages: &[
            StageInfo {
                name: l("Installation", "Installation"),
                description: l(
                    "Delivery, installation and set-up of the product.",
                    "Livraison, installation et mise en service du produit.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Everyday use", "Utilisation courante"),
                description: l(
                    "The product works; routine care and servicing.",
                    "Le produit fonctionne ; entretien et maintenance courants.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Problem", "Problème"),
                description: l(
                    "Something breaks or does not work as expected.",
                    "Une panne ou un dysfonctionnement survient.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Complaint", "Réclamation"),
                description: l(
                    "The customer contacts the brand: phone, chat, form, store.",
                    "Le client contacte la marque : téléphone, chat, formulaire, magasin.",
                ),
                metrics: &[CONVERSATIONS],
            },
            StageInfo {
                name: l("Resolution", "Résolution"),
                description: l(
                    "Diagnosis, repair, replacement or refund.",
                    "Diagnostic, réparation, remplacement ou remboursement.",
                ),
                metrics: &[TIME_TO_RESOLUTION, FIRST_CONTACT_RESOLUTION],
            },
            StageInfo {
                name: l("Follow-up", "Suivi"),
                description: l(
                    "Checking the customer is satisfied; the relationship after the incident.",
                    "Vérifier la satisfaction du client ; la relation après l'incident.",
                ),
                metrics: &[CSAT],
            },
        ],
        lanes: &[
            ACTIONS,
            QUESTIONS,
            PAIN_POINTS,
            TOUCHPOINTS,
            CHANNELS,
            EMOTIONS,
            NEEDS,
            EXPECTATIONS,
            RECEIVED,
            TEAM_ACTIONS,
            OPPORTUNITIES,
        ],
    },
    TemplateInfo {
        id: "usage",
        name: l("Usage journey", "Parcours d'utilisation"),
        description: l(
            "How the customer uses the product day to day, looks for help and renews.",
            "Comment le client utilise le produit au quotidien, cherche de l'aide et renouvelle.",
        ),
        journey_type: JourneyType::Usage,
        map_kind: MapKind::Journey,
        stages: &[
            StageInfo {
                name: l("Getting started", "Prise en main"),
                description: l(
                    "First steps with the product: guides, tutorials, first settings.",
                    "Premiers pas avec le produit : guides, tutoriels, premiers réglages.",
                ),
                metrics: &[ACTIVATION],
            },
            StageInfo {
                name: l("Everyday use", "Usage quotidien"),
                description: l(
                    "The tasks the customer relies on the product for.",
                    "Les tâches pour lesquelles le client compte sur le produit.",
                ),
                metrics: &[ACTIVE_USERS],
            },
            StageInfo {
                name: l("Exploring features", "Découverte des fonctionnalités"),
                description: l(
                    "Going further: advanced features, add-ons, upgrades.",
                    "Aller plus loin : fonctions avancées, options, montée en gamme.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Getting help", "Recherche d'aide"),
                description: l(
                    "FAQ, community forums, support.",
                    "FAQ, forums communautaires, support.",
                ),
                metrics: &[CONVERSATIONS],
            },
            StageInfo {
                name: l("Renewal", "Renouvellement"),
                description: l(
                    "Renewing the subscription, buying again, or cancelling.",
                    "Renouvellement de l'abonnement, nouvel achat ou résiliation.",
                ),
                metrics: &[RENEWAL_RATE, LIFETIME_VALUE],
            },
        ],
        lanes: &[
            ACTIONS,
            NEEDS,
            PAIN_POINTS,
            TOUCHPOINTS,
            EMOTIONS,
            KEY_MOMENTS,
            TEAM_ACTIONS,
            OPPORTUNITIES,
        ],
    },
    TemplateInfo {
        id: "replacement",
        name: l("Replacement journey", "Parcours de remplacement"),
        description: l(
            "The product is worn out or outdated: from the first signs to the switch to a new one.",
            "Le produit est usé ou dépassé : des premiers signes au passage à un nouveau produit.",
        ),
        journey_type: JourneyType::Replacement,
        map_kind: MapKind::Journey,
        stages: &[
            StageInfo {
                name: l("Signs of wear", "Signes d'usure"),
                description: l(
                    "The product is worn out, outdated or no longer fits the need.",
                    "Le produit est usé, dépassé ou ne répond plus au besoin.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Trigger", "Déclencheur"),
                description: l(
                    "The breakdown, new need or offer that makes the customer act.",
                    "La panne, le nouveau besoin ou l'offre qui pousse le client à agir.",
                ),
                metrics: &[],
            },
            StageInfo {
                name: l("Comparing options", "Comparaison des options"),
                description: l(
                    "Repair, stay with the brand or switch: research, reviews, store visits.",
                    "Réparer, rester fidèle ou changer de marque : recherches, avis, visites en magasin.",
                ),
                metrics: &[BRANDED_SEARCH],
            },
            StageInfo {
                name: l("Purchase", "Achat"),
                description: l(
                    "Buying the new product, trading in the old one.",
                    "Achat du nouveau produit, reprise de l'ancien.",
                ),
                metrics: &[REPURCHASE_RATE, SALES_CONVERSION],
            },
            StageInfo {
                name: l("Switch-over", "Transition"),
                description: l(
                    "Moving data, settings and habits to the new product.",
                    "Transfert des données, des réglages et des habitudes vers le nouveau produit.",
                ),
                metrics: &[CSAT],
            },
            StageInfo {
                name: l("End of life", "Fin de vie de l'ancien produit"),
                description: l(
                    "Recycling, resale or take-back of the old product.",
                    "Recyclage, revente ou reprise de l'ancien produit.",
                ),
                metrics: &[],
            },
        ],
        lanes: &[
            ACTIONS,
            MOTIVATIONS,
            QUESTIONS,
            OBJECTIONS,
            PAIN_POINTS,
            TOUCHPOINTS,
            CHANNELS,
            EMOTIONS,
            TEAM_ACTIONS,
            OPPORTUNITIES,
        ],
    },
    TemplateInfo {
        id: "brainstorm",
        name: l("Blank brainstorm", "Brainstorming vierge"),
        description: l(
            "One stage and one ideas lane, to collect opportunities and dot-vote on them.",
            "Une étape et une ligne d'idées, pour recueillir les opportunités et voter pour les meilleures.",
        ),
        journey_type: JourneyType::Custom,
        map_kind: MapKind::Journey,
        stages: &[StageInfo {
            name: l("Journey", "Parcours"),
            description: l("", ""),
            metrics: &[],
        }],
        lanes: &[LaneInfo {
            kind: LaneKind::Opportunities,
            title: l("Opportunities / ideas", "Opportunités / idées"),
            question: l(
                "What could we improve or try? One idea per card, then vote for the best.",
                "Que pourrions-nous améliorer ou essayer ? Une idée par carte, puis votez pour les meilleures.",
            ),
        }],
    },
];
