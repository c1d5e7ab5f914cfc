//! The journey-board schema: typed views over a board's Yjs document (see SCHEMA.md).
