//! The governance file and classification: a pure function from a planned action and its
//! context to a risk tier, the deciding rule and the reasons, with no I/O of its own.

pub mod sections;
