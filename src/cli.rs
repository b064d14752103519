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
    /// List users, oldest first.
    List {
        /// Only users whose username or email contains this (case ignored).
        #[arg(long)]
        q: Option<String>,
        /// Only users holding this role.
        #[arg(long)]
        role: Option<String>,
    },
    /// Replace a user's roles (`user` is always kept); refused when it would leave no enabled admin.
    SetRoles {
        username: String,
        #[arg(required = true, num_args = 1..)]
        roles: Vec<String>,
    },
    /// Disable a user and revoke all its sessions; refused for the last enabled admin.
    Disable { username: String },
    /// Enable a disabled user.
    Enable { username: String },
    /// Delete a user with its sessions and templates; refused for the last enabled admin.
    Delete { username: String },
}

#[derive(Subcommand)]
pub enum KeysCommand {
    /// List the signing keys, newest first.
    List,
    /// Make a new signing key; the old public keys stay in the JWKS until their tokens expire.
    Rotate,
}
