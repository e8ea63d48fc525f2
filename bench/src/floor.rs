//! The baseline server: a minimal broadcast WebSocket server (tokio-tungstenite + tokio
//! broadcast) and a static HTTP server (warp), run as a child process like the real server so
//! both pay the same process and scheduling costs. What it does is the least any coordinator
//! must do; the ratio to it is our overhead.
//!
//! Any text message on a WebSocket is a trigger: its content is a frame size, and a frame of
//! that size is broadcast to every connection.

use clap::Args;
use futures::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use warp::Filter;

#[derive(Args, Clone)]
pub struct Options {
    /// Size of the GET /probes body.
    #[arg(long, default_value_t = 64)]
    get_bytes: usize,
    /// Size of the POST /ping body.
    #[arg(long, default_value_t = 64)]
    post_bytes: usize,
}

/// Runs the floor server until stdin closes (its parent is gone).
pub fn main(options: Options) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let ws = TcpListener::bind("127.0.0.1:0").await?;
        let (broadcaster, _) = broadcast::channel::<Utf8Bytes>(16);
        let ws_addr = ws.local_addr()?;
        tokio::spawn(accept(ws, broadcaster));
        let get_body = "x".repeat(options.get_bytes);
        let post_body = "x".repeat(options.post_bytes);
        let routes = warp::get()
            .and(warp::path("probes"))
            .map(move || get_body.clone())
            .or(warp::post()
                .and(warp::path("ping"))
                .and(warp::body::bytes())
                .map(move |_| post_body.clone()));
        let rest = TcpListener::bind("127.0.0.1:0").await?;
        let rest_addr = rest.local_addr()?;
        tokio::spawn(warp::serve(routes).incoming(rest).run());
        println!("{ws_addr} {rest_addr}");
        std::io::stdout().flush()?;
        tokio::task::spawn_blocking(|| {
            let mut sink = String::new();
            while std::io::stdin().read_line(&mut sink).is_ok_and(|n| n > 0) {}
        })
        .await?;
        Ok(())
    })
}

async fn accept(listener: TcpListener, broadcaster: broadcast::Sender<Utf8Bytes>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        tokio::spawn(connection(stream, broadcaster.clone()));
    }
}

async fn connection(stream: TcpStream, broadcaster: broadcast::Sender<Utf8Bytes>) {
    // The same socket settings as the coordinator's probe link.
    let config = WebSocketConfig::default().read_buffer_size(pladmed::ws::READ_CHUNK);
    let Ok(ws) = tokio_tungstenite::accept_async_with_config(stream, Some(config)).await else {
        return;
    };
    let mut frames = broadcaster.subscribe();
    let (mut sink, mut incoming) = ws.split();
    loop {
        tokio::select! {
            frame = frames.recv() => match frame {
                Ok(frame) => if sink.send(Message::Text(frame)).await.is_err() { return },
                Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => return,
            },
            message = incoming.next() => match message {
                Some(Ok(Message::Text(size))) => {
                    let size = size.trim().parse().unwrap_or(64);
                    let _ = broadcaster.send(frame_of(size));
                }
                Some(Ok(_)) => {}
                _ => return,
            },
        }
    }
}

/// An `operation`-typed frame of exactly `size` bytes (at least the fixed part).
fn frame_of(size: usize) -> Utf8Bytes {
    let head = "{\"type\":\"operation\",\"pad\":\"";
    let pad = size.saturating_sub(head.len() + 2);
    format!("{head}{}\"}}", "x".repeat(pad)).into()
}

/// The floor server as a child process.
pub struct Floor {
    child: Child,
    pub ws: SocketAddr,
    pub rest: SocketAddr,
}

impl Floor {
    pub fn start(get_bytes: usize, post_bytes: usize) -> anyhow::Result<Floor> {
        Self::start_with_env(get_bytes, post_bytes, &[])
    }

    /// [`Floor::start`] with extra environment variables.
    pub fn start_with_env(
        get_bytes: usize,
        post_bytes: usize,
        env: &[(&str, &str)],
    ) -> anyhow::Result<Floor> {
        let mut child = Command::new(std::env::current_exe()?)
            .envs(env.iter().copied())
            .args(["floor", "--get-bytes", &get_bytes.to_string()])
            .args(["--post-bytes", &post_bytes.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let stdout = child.stdout.take().expect("piped");
        BufReader::new(stdout).read_line(&mut line)?;
        let mut addrs = line.split_whitespace().map(str::parse::<SocketAddr>);
        match (addrs.next(), addrs.next()) {
            (Some(Ok(ws)), Some(Ok(rest))) => Ok(Floor { child, ws, rest }),
            _ => {
                let _ = child.kill();
                anyhow::bail!("floor server did not start: {line:?}")
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Floor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
