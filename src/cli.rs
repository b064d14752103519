//! The `gatehouse` command line.

use clap::{Parser, Subcommand};

use crate::config::Config;

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Authentication and user management service")]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Bring the database schema up to date, then exit.
    Migrate,
    /// Manage users without HTTP.
    User {
        #[command(subcommand)]
        action: UserCommand,
    },
    /// Import users from JSON lines or a mongoexport dump, keeping their password hashes
    /// (bcrypt, Werkzeug pbkdf2/scrypt, argon2, hex SHA-256) until their next login.
    Import {
        /// The file: one JSON object a line, or one JSON array (`mongoexport --jsonArray`).
        file: std::path::PathBuf,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        action: KeysCommand,
    },
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user; the password is read from one line of standard input, or prompted on a terminal.
    Create {
        username: String,
        #[arg(long)]
        email: Option<String>,
        /// Give the user the admin role.
        #[arg(long)]
        admin: bool,
    },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys, newest first.
    List,
    /// Make a new signing key; the old public keys stay in the JWKS until their tokens expire.
    Rotate,
}
