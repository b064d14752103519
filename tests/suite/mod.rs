//! The integration suite: every file here runs once per store binary.

mod health;
