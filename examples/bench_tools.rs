//! Helpers for `bench/run.sh`: seed users straight through the store (seconds, not hours of
//! HTTP registrations), and time one argon2id hash at the server's parameters.
//!
//!   bench_tools seed-users DATABASE_URL COUNT
//!   bench_tools hash-ms SAMPLES
//!   bench_tools bare-axum ADDRESS   (a bare axum route answering a string: the reference
//!                                    the middleware's cost is measured against)

use std::time::Instant;

use anyhow::{Context, bail};
use gatehouse::auth::PasswordHasher;
use gatehouse::domain::{Email, Role, Username, normalize_roles};
use gatehouse::store::{self, NewUser};
use uuid::Uuid;

const PASSWORD: &str = "correct horse battery staple";
/// Users per transaction while seeding.
const BATCH: usize = 20_000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match (args.get(1).map(String::as_str), args.get(2), args.get(3)) {
        (Some("seed-users"), Some(url), Some(count)) => seed_users(url, count.parse().context("COUNT")?).await,
        (Some("hash-ms"), Some(samples), None) => hash_ms(samples.parse().context("SAMPLES")?).await,
        (Some("bare-axum"), Some(address), None) => bare_axum(address).await,
        _ => bail!("usage: bench_tools seed-users DATABASE_URL COUNT | bench_tools hash-ms SAMPLES | bench_tools bare-axum ADDRESS"),
    }
}

fn user(name: &str, password_hash: &str, roles: &[&str]) -> NewUser {
    NewUser {
        id: Uuid::now_v7(),
        username: Username::parse(name).expect("a valid benchmark username"),
        email: Some(Email::parse(&format!("{name}@example.com")).expect("a valid benchmark address")),
        password_hash: password_hash.to_string(),
        roles: normalize_roles(roles.iter().map(|r| Role::parse(r).expect("a valid benchmark role"))),
    }
}

/// `bench-admin` (an admin, for the /v1/users scenarios) and COUNT users, all with one
/// real argon2id hash of the benchmark password.
async fn seed_users(url: &str, count: usize) -> anyhow::Result<()> {
    let store = store::connect(url).await?;
    let hash = PasswordHasher::new(1).hash(PASSWORD).await?;
    store.create_user(user("bench-admin", &hash, &[Role::USER, Role::ADMIN])).await?;
    let started = Instant::now();
    let mut done = 0;
    while done < count {
        let batch: Vec<NewUser> = (done..count.min(done + BATCH)).map(|i| user(&format!("seed{i:07}"), &hash, &[Role::USER])).collect();
        done += store.create_users(batch).await?;
    }
    eprintln!("seeded {done} users in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// The median time of SAMPLES argon2id hashes, in milliseconds.
async fn hash_ms(samples: usize) -> anyhow::Result<()> {
    let hasher = PasswordHasher::new(1);
    let mut times = Vec::with_capacity(samples);
    for _ in 0..samples.max(1) {
        let started = Instant::now();
        hasher.hash(PASSWORD).await?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    println!("{:.1}", times[times.len() / 2]);
    Ok(())
}

/// GET / answering "hello" with nothing around it, on the same runtime as the server.
async fn bare_axum(address: &str) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "hello" }));
    let listener = tokio::net::TcpListener::bind(address).await.context("ADDRESS")?;
    axum::serve(listener, app).await.context("serving")
}
