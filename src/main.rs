use clap::Parser as _;

use gatehouse::cli::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // `.env` fills in what the environment does not set; flags override both.
    if let Err(err) = dotenvy::dotenv()
        && !err.not_found()
    {
        eprintln!("error: cannot read .env: {err}");
        return std::process::ExitCode::FAILURE;
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => match gatehouse::cli::explain_bad_value(&err) {
            Some(message) => {
                eprintln!("error: {message}");
                return std::process::ExitCode::from(2);
            }
            None => err.exit(),
        },
    };
    if let Err(err) = gatehouse::telemetry::init(&cli.config.log, cli.config.log_format) {
        eprintln!("error: {err:#}");
        return std::process::ExitCode::FAILURE;
    }
    let json_log = cli.config.log_format == gatehouse::config::LogFormat::Json;
    match gatehouse::commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            // Once: as a log line where logs are JSON (read by a machine), else as text.
            if json_log {
                tracing::error!("{err:#}");
            } else {
                eprintln!("error: {err:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}
