//! The journey-board schema: typed views over a board's Yjs document (see SCHEMA.md).
//!
//! A board is one Yjs document with six root maps (`meta`, `personas`, `stages`, `lanes`,
//! `cards`, `workshop`). SCHEMA.md at the repository root specifies the layout for JavaScript clients; this
//! module is its Rust implementation:
//!
//! - [`Board::read`] turns a document into plain, serialisable data ([`Board`], [`Card`]…),
//!   whatever the document holds.
//! - [`BoardWriter`] performs the edits clients and the server make, inside the caller's
//!   transaction, in the way that keeps concurrent edits mergeable.
//! - [`diff`] says what changed between two snapshots, in board terms; [`Replayer`] and
//!   [`attribute`] say who made each change, from the stored updates between them.
//! - [`validate`] lists what is inconsistent in a snapshot ([`Problem`]s with stable codes).
//! - [`templates`] and [`instantiate`] start a board from the practitioners' usual maps, in
//!   English or French.
//!
//! ```
//! use client_protocol::schema::{instantiate, validate, Board, BoardRefs, BoardWriter, Lang};
//! use yrs::{Doc, Transact};
//!
//! let doc = Doc::new();
//! let refs = BoardRefs::new(&doc); // before any write transaction: see BoardRefs
//! {
//!     let mut txn = doc.transact_mut();
//!     let mut w = BoardWriter::new(&mut txn, &refs, 1_700_000_000_000);
//!     instantiate(&mut w, "customer-journey", Lang::En, "Q3 onboarding", None).unwrap();
//! }
//! let board = Board::from_doc(&doc);
//! assert_eq!(board.stages[0].name, "Awareness");
//! assert!(validate(&board).is_empty());
//! ```

mod attribution;
mod diff;
mod model;
mod read;
mod templates;
mod validate;
mod write;

#[cfg(test)]
mod tests;

pub use attribution::{attribute, AttributedChange, ReplayError, Replayer, Target};
pub use diff::{diff, Cell, Change};
pub use model::{
    keys, position_between, Board, Card, Comment, JourneyType, Lane, LaneKind, Lang, MapKind, Meta,
    Metric, Persona, PersonaInit, Priority, Stage, Workshop, SCHEMA_VERSION,
};
pub use templates::{
    instantiate, template, templates, LaneInfo, Localized, MetricInfo, StageInfo, TemplateInfo,
};
pub use validate::{validate, Problem, ProblemCode, Severity};
pub use write::{BoardRefs, BoardWriter, IdGen, MetaInit, MetricInit, NewCard, WriteError};
