//! REST: concurrent clients, half on POST /ping (one probe), half on GET /probes; requests per
//! second and p99 for each. Baseline: a static warp server answering bodies of the same sizes.

use super::{connect_probes, watch_operations};
use crate::floor::Floor;
use crate::report::{Latencies, Report};
use crate::server;
use crate::Common;
use clap::Args;
use serde_json::json;
use std::time::{Duration, Instant};
use testkit::client::Api;
use testkit::params::single_ping_params;

#[derive(Args, Clone)]
pub struct Options {
    /// Concurrent clients.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// How long the load runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Registered probes (GET /probes lists them all).
    #[arg(long, default_value_t = 100)]
    probes: usize,
}

impl Options {
    pub fn small() -> Self {
        Options {
            clients: 8,
            seconds: 5,
            probes: 50,
        }
    }
}

/// Most requests one client makes, whatever the time left.
const MAX_REQUESTS_PER_CLIENT: usize = 1_000_000;

/// Where the load goes: our API or the static floor.
#[derive(Clone)]
enum Target {
    Ours(Api, String),
    Floor(reqwest::Client, String),
}

impl Target {
    async fn call(&self, post: bool) -> anyhow::Result<()> {
        match self {
            Target::Ours(api, probe) if post => {
                api.ping(std::slice::from_ref(probe)).await?;
                Ok(())
            }
            Target::Ours(api, _) => {
                api.get("/probes").await?;
                Ok(())
            }
            Target::Floor(http, base) if post => {
                let body = json!({"probes": ["x"], "params": single_ping_params()});
                let r = http.post(format!("{base}/ping")).json(&body).send().await?;
                r.bytes().await?;
                Ok(())
            }
            Target::Floor(http, base) => {
                http.get(format!("{base}/probes"))
                    .send()
                    .await?
                    .bytes()
                    .await?;
                Ok(())
            }
        }
    }
}

struct Load {
    posts: Latencies,
    gets: Latencies,
    seconds: f64,
}

async fn load(target: Target, o: &Options) -> anyhow::Result<Load> {
    let start = Instant::now();
    let deadline = start + Duration::from_secs(o.seconds);
    let clients: Vec<_> = (0..o.clients)
        .map(|c| {
            let target = target.clone();
            tokio::spawn(async move {
                let (mut posts, mut gets) = (Vec::new(), Vec::new());
                for _ in 0..MAX_REQUESTS_PER_CLIENT {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let post = c % 2 == 0;
                    let at = Instant::now();
                    target.call(post).await?;
                    if post { &mut posts } else { &mut gets }.push(at.elapsed());
                }
                Ok::<_, anyhow::Error>((posts, gets))
            })
        })
        .collect();
    let (mut posts, mut gets) = (Vec::new(), Vec::new());
    for client in clients {
        let (p, g) = client.await??;
        posts.extend(p);
        gets.extend(g);
    }
    Ok(Load {
        posts: Latencies::new(posts),
        gets: Latencies::new(gets),
        seconds: start.elapsed().as_secs_f64(),
    })
}

pub async fn run(common: &Common, o: &Options, report: &mut Report) -> anyhow::Result<()> {
    let (ours, get_bytes, post_bytes) = {
        let server = server::start(common, &[]).await?;
        let api = Api::setup(&server, 1_000_000_000).await?;
        let probes = api.create_probes(o.probes).await?;
        // One connected probe makes operations possible; it reads (and drops) their frames.
        let socket = connect_probes(server.addr, &probes[..1]).await?;
        let (tx, _seen) = tokio::sync::mpsc::unbounded_channel();
        let _reader = watch_operations(socket, tx);
        let get_bytes = api.get("/probes").await?;
        let post_bytes = api.ping(&[probes[0].identifier.clone()]).await?.len();
        let target = Target::Ours(api, probes[0].identifier.clone());
        (load(target, o).await?, get_bytes, post_bytes)
    };
    let floor = {
        let floor = Floor::start(get_bytes, post_bytes)?;
        let target = Target::Floor(reqwest::Client::new(), format!("http://{}", floor.rest));
        load(target, o).await?
    };
    let name = format!("rest c={}", o.clients);
    let rate = |l: &Latencies, load: &Load| l.count() as f64 / load.seconds;
    report.add(
        &name,
        "POST /ping requests/s",
        "1/s",
        rate(&ours.posts, &ours),
        Some(rate(&floor.posts, &floor)),
    );
    report.add(
        &name,
        "POST /ping p99",
        "ms",
        ours.posts.ms(0.99),
        Some(floor.posts.ms(0.99)),
    );
    report.add(
        &name,
        &format!("GET /probes ({} probes) requests/s", o.probes),
        "1/s",
        rate(&ours.gets, &ours),
        Some(rate(&floor.gets, &floor)),
    );
    report.add(
        &name,
        "GET /probes p99",
        "ms",
        ours.gets.ms(0.99),
        Some(floor.gets.ms(0.99)),
    );
    Ok(())
}
