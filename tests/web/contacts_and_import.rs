//! Placeholder: filled in by the suite's author.
