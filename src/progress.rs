//! Progress of long commands (import, export, copy, backup, restore): a bar with counts and
//! rate on a terminal, plain lines on standard error every few seconds otherwise (a log, a
//! CI job), and one summary line at the end either way.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain lines come when standard error is not a terminal.
const PLAIN_EVERY: Duration = Duration::from_secs(5);

/// What is counted: rows, or bytes (shown in KiB, MiB...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Rows,
    Bytes,
}

pub struct Progress {
    what: String,
    unit: Unit,
    total: Option<u64>,
    done: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    last_line: Instant,
}

impl Progress {
    /// Starts counting `what` ("users exported"), out of `total` when it is known.
    pub fn new(what: impl Into<String>, unit: Unit, total: Option<u64>) -> Self {
        let what = what.into();
        let bar = std::io::stderr().is_terminal().then(|| bar(&what, unit, total));
        let now = Instant::now();
        Self { what, unit, total, done: 0, started: now, bar, last_line: now }
    }

    pub fn add(&mut self, n: u64) {
        self.set(self.done + n);
    }

    /// Sets the count reached so far.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                let of = self.total.map(|t| format!(" of {}", self.amount(t))).unwrap_or_default();
                eprintln!("{}: {}{of}, {}", self.what, self.amount(done), self.rate());
            }
            None => {}
        }
    }

    /// Ends the bar and prints the summary: `12,345 users exported in 1.2 s (10,288/s)`.
    pub fn finish(self) -> String {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        format!("{} {} in {:.1} s ({})", self.amount(self.done), self.what, self.started.elapsed().as_secs_f64(), self.rate())
    }

    fn amount(&self, n: u64) -> String {
        match self.unit {
            Unit::Rows => n.to_string(),
            Unit::Bytes => indicatif::HumanBytes(n).to_string(),
        }
    }

    fn rate(&self) -> String {
        let per_second = self.done as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        match self.unit {
            Unit::Rows => format!("{per_second:.0}/s"),
            Unit::Bytes => format!("{}/s", indicatif::HumanBytes(per_second as u64)),
        }
    }
}

fn bar(what: &str, unit: Unit, total: Option<u64>) -> ProgressBar {
    let (pos, rate) = match unit {
        Unit::Rows => ("{human_pos}", "{per_sec}"),
        Unit::Bytes => ("{bytes}", "{bytes_per_sec}"),
    };
    let template = match (total, unit) {
        (Some(_), Unit::Rows) => format!("{{msg}} [{{bar:30}}] {pos}/{{human_len}} {rate} eta {{eta}}"),
        (Some(_), Unit::Bytes) => format!("{{msg}} [{{bar:30}}] {pos}/{{total_bytes}} {rate} eta {{eta}}"),
        (None, _) => format!("{{spinner}} {{msg}} {pos} {rate}"),
    };
    let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(&template).unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}
