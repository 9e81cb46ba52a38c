//! `planner keys create|list|revoke`: the API keys callers present. A new key's token is
//! printed once and never again (only its hash is kept).

use std::process::ExitCode;

use clap::Subcommand;

use crate::{
    api::auth::token,
    config::Settings,
    db,
    store::{
        keys::{self, Created},
        states::Role,
    },
};

#[derive(Subcommand)]
pub enum KeysCommand {
    /// Make a key and print its token (once).
    Create {
        /// The key's name: the owner of the plans it submits (letters, digits, . _ -).
        #[arg(long)]
        name: String,
        /// `user` sees and acts on its own plans; `admin` on everyone's.
        #[arg(long, default_value = "user", value_parser = ["user", "admin"])]
        role: String,
    },
    /// Every key: name, role, created, last used, revoked (never a token).
    List,
    /// Refuse the key from now on (within 5 s in every api process).
    Revoke { name: String },
}

pub async fn run(settings: &Settings, command: KeysCommand) -> anyhow::Result<ExitCode> {
    let pool = db::open(&settings.database_url, 2).await?;
    match command {
        KeysCommand::Create { name, role } => {
            let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
            if !valid_name(&name) {
                eprintln!("a key's name is 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit");
                return Ok(ExitCode::from(2));
            }
            let new = token::generate();
            match keys::create(&pool, &name, role, &new.hash, &new.shown).await? {
                Created::Created => {
                    println!("{}", new.token);
                    eprintln!("key {name:?} ({role}) created; the token above is shown only now");
                    Ok(ExitCode::SUCCESS)
                }
                Created::NameTaken => {
                    eprintln!("a key named {name:?} exists already (revoked keys keep their name)");
                    Ok(ExitCode::from(1))
                }
            }
        }
        KeysCommand::List => {
            println!(
                "{:<24} {:<6} {:<12} {:<20} {:<20} revoked",
                "name", "role", "token", "created", "last used"
            );
            let at = |t: Option<chrono::DateTime<chrono::Utc>>| {
                t.map_or("-".to_string(), |t| t.format("%Y-%m-%d %H:%M:%S").to_string())
            };
            for key in keys::list(&pool).await? {
                println!(
                    "{:<24} {:<6} {:<12} {:<20} {:<20} {}",
                    key.name,
                    key.role,
                    format!("{}…", key.prefix),
                    at(Some(key.created_at)),
                    at(key.last_used_at),
                    at(key.revoked_at),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Revoke { name } => {
            if keys::revoke(&pool, &name).await? {
                println!("key {name:?} revoked");
                Ok(ExitCode::SUCCESS)
            } else {
                eprintln!("no unrevoked key named {name:?}");
                Ok(ExitCode::from(1))
            }
        }
    }
}

fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    name.len() <= 64
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}
