//! The account and listing commands: `login`, `logout`, `probes`, `credits`, `results`.

use crate::api::Api;
use crate::args::{LoginArgs, ProbesArgs, ResultsArgs};
use crate::credentials::{self, Credentials};
use crate::error::{CliError, Result};
use crate::output::{print_line, Format, ResultPrinter};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};
use serde_json::Value;
use std::io::{BufRead, IsTerminal};

/// Results asked for per page by `results` (the API's largest page).
const PAGE: usize = 1000;

/// `login EMAIL`: asks the server for a token and stores it with the server's address.
pub async fn login(api: &Api, args: &LoginArgs) -> Result<()> {
    let password = password(args.password_stdin)?;
    let token = api.login(&args.email, &password).await?;
    let path = credentials::save(&Credentials {
        server: api.base().to_string(),
        email: args.email.clone(),
        token,
    })?;
    eprintln!(
        "Logged in to {} as {} (token in {}).",
        api.base(),
        args.email,
        path.display()
    );
    Ok(())
}

/// The password: the first line of stdin with `--password-stdin`, else asked on the terminal.
fn password(from_stdin: bool) -> Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .map_err(|e| CliError::Local(format!("standard input: {e}")))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "no terminal to ask the password on: pipe it with --password-stdin".into(),
        ));
    }
    rpassword::prompt_password("Password: ")
        .map_err(|e| CliError::Local(format!("reading the password: {e}")))
}

/// `logout`: forgets the stored token.
pub fn logout() -> Result<()> {
    if credentials::remove()? {
        eprintln!("Logged out.");
    } else {
        eprintln!("Not logged in.");
    }
    Ok(())
}

/// `probes`: the probe list, as a table or the server's JSON.
pub async fn probes(api: &Api, args: &ProbesArgs) -> Result<()> {
    let listed = api.get("/probes").await?;
    let probes: Vec<&Value> = listed
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter(|p| !args.connected || p["connected"] == true)
        .collect();
    if args.json {
        return print_line(serde_json::to_string_pretty(&probes).expect("JSON"));
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "ID",
        "LOCATION",
        "CONNECTED",
        "FREE CREDITS",
        "CLOCK OFFSET",
    ]);
    for probe in &probes {
        table.add_row([
            probe["identifier"].as_str().unwrap_or("?").to_string(),
            format!(
                "{}, {}",
                probe["location"]["latitude"], probe["location"]["longitude"]
            ),
            if probe["connected"] == true {
                "yes"
            } else {
                "no"
            }
            .to_string(),
            free_credits(probe),
            probe["clock_offset_ms"]
                .as_f64()
                .map_or_else(String::new, |ms| format!("{ms:.1} ms")),
        ]);
    }
    print_line(table)?;
    eprintln!("{} probe(s).", probes.len());
    Ok(())
}

fn free_credits(probe: &Value) -> String {
    match (
        probe["total_credits"].as_u64(),
        probe["in_use_credits"].as_u64(),
    ) {
        (Some(total), Some(used)) => format!("{} of {total}", total.saturating_sub(used)),
        _ => String::new(),
    }
}

/// `credits`: the logged-in account's balance.
pub async fn credits(api: &Api) -> Result<()> {
    let me = api.get_as_user("/users/me").await?;
    print_line(&me["credits"])?;
    eprintln!(
        "credits of {} on {}",
        me["email"].as_str().unwrap_or("?"),
        api.base()
    );
    Ok(())
}

/// `results ID`: every result of an operation, page after page.
pub async fn results(api: &Api, args: &ResultsArgs) -> Result<()> {
    let mut printer = ResultPrinter::new(Format::from(args.format));
    let mut after: Option<String> = None;
    let mut count = 0usize;
    loop {
        let mut path = format!("/operations/{}/results?limit={PAGE}", args.operation);
        if let Some(cursor) = &after {
            path.push_str(&format!("&after={cursor}"));
        }
        let page = api.get(&path).await?;
        for result in page["results"].as_array().map(Vec::as_slice).unwrap_or(&[]) {
            printer.print(result)?;
            count += 1;
        }
        match page["next"].as_str() {
            Some(next) => after = Some(next.to_string()),
            None => break,
        }
    }
    eprintln!("{count} result(s).");
    Ok(())
}
