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
    match gatehouse::commands::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!("{err:#}");
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
