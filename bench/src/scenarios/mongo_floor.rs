//! The MongoDB floor: the same result documents inserted one `insert_one` at a time, with the
//! client options the server uses (majority, journaled writes; no retryable writes), by P
//! concurrent writers, into a collection with no index but `_id`. No coordinator, no dedup, no reward: the least any
//! server storing each result durably must pay, so our ingest rate is read against it.

use super::result_frame::traceroute;
use bson::{doc, Document};
use pladmed::store::mongo::client_options;
use std::time::{Duration, Instant};

/// Bare `insert_one`s per second of `writers` concurrent writers, each inserting at most
/// `per_writer` documents, for at most `max_seconds`.
pub async fn insert_one_rate(
    uri: &str,
    writers: usize,
    per_writer: usize,
    max_seconds: u64,
) -> anyhow::Result<f64> {
    // The server's own client options: its write concern, and its retryable-writes setting.
    let client = mongodb::Client::with_options(client_options(uri).await?)?;
    let database = client.database(&format!("pladmed_bench_floor_{}", std::process::id()));
    let collection = database.collection::<Document>("results");
    let content = bson::to_bson(&traceroute())?;
    let deadline = Instant::now() + Duration::from_secs(max_seconds);
    let start = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let (collection, content) = (collection.clone(), content.clone());
            tokio::spawn(async move {
                let (operation, probe) = (bson::oid::ObjectId::new(), bson::oid::ObjectId::new());
                let mut inserted = 0usize;
                for n in 0..per_writer {
                    if Instant::now() > deadline {
                        break;
                    }
                    let now = bson::DateTime::now();
                    let result = doc! {
                        "operation": operation, "probe": probe,
                        "unique_code": format!("p{w}-r{n}"), "format": "json",
                        "content": content.clone(), "error": null,
                        "measured_at": now, "received_at": now,
                    };
                    collection.insert_one(result).await?;
                    inserted += 1;
                }
                anyhow::Ok(inserted)
            })
        })
        .collect();
    let mut inserted = 0;
    for task in tasks {
        inserted += task.await??;
    }
    let rate = inserted as f64 / start.elapsed().as_secs_f64();
    database.drop().await?;
    Ok(rate)
}
