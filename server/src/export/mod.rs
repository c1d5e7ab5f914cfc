//! Exports of a board for people outside the live board: pure functions from a [`Board`]
//! snapshot to a document.
//!
//! - [`markdown()`]: a document a CX committee reads (title, personas, then stage by stage:
//!   emotion, metrics, the cards of each lane with votes and comments).
//! - [`csv()`]: one row per card, for spreadsheets and BI tools.
//! - [`svg()`]: the journey map drawn the way CX teams draw it, with the emotion curve.
//!
//! They take a snapshot (from [`Board::read`]) rather than the Yjs document so that they never
//! hold a room's document while rendering, and so that tests can feed them any board. The
//! fixed wording around the board's text follows the board's language (`meta.lang`).
//!
//! Everything in a board is typed by someone, so every export treats its text as hostile:
//! Markdown escapes it, the CSV writer quotes it and guards spreadsheet formulas, the SVG
//! escapes it and bounds its size.
//!
//! [`Board`]: client_protocol::schema::Board
//! [`Board::read`]: client_protocol::schema::Board::read

mod common;
mod csv_export;
mod markdown;
mod svg;

#[cfg(test)]
mod tests;

pub use csv_export::csv;
pub use markdown::markdown;
pub use svg::svg;
