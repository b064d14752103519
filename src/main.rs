use clap::Parser;

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
    let cli = Cli::parse();
    if let Err(err) = gatehouse::telemetry::init(&cli.config.log, cli.config.log_format) {
        eprintln!("error: {err:#}");
        return std::process::ExitCode::FAILURE;
    }
    match gatehouse::commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
