//! `ping`, `traceroute` and `dns`: create the operation on the chosen probes, then print its
//! identifier, or with `--wait` follow its results until it ends.

use crate::api::Api;
use crate::args::MeasureArgs;
use crate::error::{CliError, Result};
use crate::follow;
use crate::output::{print_line, Format, ResultPrinter};
use crate::request::{self, Selection};
use chrono::Utc;
use probe_protocol::OperationKind;
use serde_json::{json, Value};

/// Creates an operation of `kind` as `args` say.
pub async fn run(api: &Api, kind: OperationKind, args: &MeasureArgs) -> Result<()> {
    let params = request::params(kind, args, Utc::now())?;
    let result_format = request::result_format(kind, args.result_format.as_deref())?;
    let mut body = json!({"params": params, "result_format": result_format});
    match request::selection(args)? {
        Selection::Near {
            latitude,
            longitude,
            radius_km,
            limit,
        } => {
            body["select"] = json!({
                "near": {"latitude": latitude, "longitude": longitude},
                "radius_km": radius_km,
                "limit": limit,
            });
        }
        Selection::Ids(ids) => body["probes"] = json!(ids),
        Selection::All => body["probes"] = json!(connected_probes(api, None).await?),
        Selection::First(n) => body["probes"] = json!(connected_probes(api, Some(n)).await?),
    }
    let operation = api
        .post_as_user(&format!("/{}", kind_path(kind)), &body)
        .await?;
    let id = operation["_id"]
        .as_str()
        .ok_or_else(|| CliError::Network("the created operation has no _id".into()))?
        .to_string();
    let format = Format::from(args.format);
    if !args.wait {
        if format == Format::Json {
            return print_line(&operation);
        }
        eprintln!("{}", describe(kind, &operation));
        return print_line(&id);
    }
    eprintln!("{}", describe(kind, &operation));
    let interrupt = async {
        // Without a handler (never on Unix), following ends only with the operation.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    let end = follow::follow(api, &id, ResultPrinter::new(format), interrupt).await?;
    let why = match end.reason.as_str() {
        "finished" => "every probe finished",
        "stop_time" => "its stop time passed",
        other => other,
    };
    eprintln!(
        "Operation {id} ended ({why}): {}/{} probes finished, {} results.",
        end.progress.finished, end.progress.assigned, end.progress.results
    );
    Ok(())
}

fn kind_path(kind: OperationKind) -> &'static str {
    match kind {
        OperationKind::Traceroute => "traceroute",
        OperationKind::Ping => "ping",
        OperationKind::Dns => "dns",
    }
}

/// Connected probes from GET /probes, the freest first, at most `limit` of them.
async fn connected_probes(api: &Api, limit: Option<u32>) -> Result<Vec<String>> {
    let probes = api.get("/probes").await?;
    let all = probes.as_array().map(Vec::as_slice).unwrap_or(&[]);
    let mut connected: Vec<&Value> = all.iter().filter(|p| p["connected"] == true).collect();
    if connected.is_empty() {
        return Err(CliError::Refused(format!(
            "no probes available: none of the {} probes on {} is connected",
            all.len(),
            api.base()
        )));
    }
    let free = |probe: &Value| probe["availability"].as_f64().unwrap_or(0.0);
    connected.sort_by(|a, b| free(b).total_cmp(&free(a)));
    let limit = limit.map_or(usize::MAX, |n| n as usize);
    Ok(connected
        .into_iter()
        .take(limit)
        .filter_map(|p| p["identifier"].as_str().map(str::to_string))
        .collect())
}

/// One sentence about a created operation, for stderr.
fn describe(kind: OperationKind, operation: &Value) -> String {
    let probes: Vec<&str> = operation["probes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[])
        .iter()
        .filter_map(|p| p["identifier"].as_str())
        .collect();
    format!(
        "Operation {} ({}) on {} probe(s) [{}], {} credits, last minute {} UTC.",
        operation["_id"].as_str().unwrap_or("?"),
        kind_path(kind),
        probes.len(),
        probes.join(", "),
        operation["credits"],
        operation["params"]["stop_time"].as_str().unwrap_or("?"),
    )
}
