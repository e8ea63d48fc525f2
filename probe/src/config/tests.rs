//! The command line as operators write it, and its documentation.

use super::*;

#[test]
fn the_ntp_server_defaults_to_the_coordinators_host_on_port_123() {
    let ntp = |server: &str, extra: &[&str]| {
        let mut args = vec!["p", "--server", server, "--token", "t", "--credits", "1"];
        args.extend(extra);
        Config::try_parse_from(args)
            .unwrap()
            .ntp()
            .map(|n| n.to_string())
    };
    let colocated = [
        ("http://127.0.0.1:5000", "127.0.0.1:123"),
        ("https://pladmed.example.org/api", "pladmed.example.org:123"),
        ("http://[::1]:5000", "[::1]:123"),
        ("https://user@h.example", "h.example:123"),
    ];
    for (server, expected) in colocated {
        assert_eq!(ntp(server, &[]).as_deref(), Some(expected), "{server}");
    }
    let given = ntp("http://h", &["--ntp-server", "time.example:1123"]);
    assert_eq!(given.as_deref(), Some("time.example:1123"));
    // Without a port, the NTP port: the coordinator reads PLADMED_NTP_SERVER the same way.
    let bare = ntp("http://h", &["--ntp-server", "chrony"]);
    assert_eq!(bare.as_deref(), Some("chrony:123"));
    assert_eq!(ntp("http://h", &["--no-ntp"]), None);
    // The last of --no-ntp and --ntp-server wins.
    let later = ntp("http://h", &["--no-ntp", "--ntp-server", "192.0.2.1"]);
    assert_eq!(later.as_deref(), Some("192.0.2.1:123"));
}

fn workspace_file(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// docs/probe.md has a row for every option with its variable; the README's "Run a probe"
/// for those operators set most.
#[test]
fn every_option_and_its_variable_are_documented() {
    use clap::CommandFactory;
    let guide = workspace_file("docs/probe.md");
    let readme = workspace_file("README.md");
    let essential = [
        "server",
        "ca-file",
        "token",
        "token-file",
        "state-dir",
        "credits",
        "scamper",
        "ntp-server",
    ];
    for arg in Config::command().get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        let env = env.to_string_lossy();
        let option = match arg.get_value_names() {
            Some([value]) if arg.get_action().takes_values() => format!("--{long} {value}"),
            _ => format!("--{long}"),
        };
        let documented = |text: &str| {
            text.lines()
                .any(|line| line.starts_with(&format!("| `{option}` | `{env}` |")))
        };
        assert!(
            documented(&guide),
            "docs/probe.md: no row for {option} / {env}"
        );
        if essential.contains(&long) {
            assert!(documented(&readme), "README: no row for {option} / {env}");
        }
    }
}

#[test]
fn tokens_are_trimmed_and_hidden() {
    let token = ProbeToken::new("  abc.def\n").unwrap();
    assert_eq!(token.expose(), "abc.def");
    assert_eq!(format!("{token:?}"), "ProbeToken(…)");
    assert!(ProbeToken::new(" \n").is_err());
    assert!(ProbeToken::new("a b").is_err());
}

#[test]
fn the_command_line_parses() {
    let config = Config::try_parse_from([
        "pladmed-probe",
        "--server",
        "http://127.0.0.1:5000",
        "--token-file",
        "probe.token",
        "--credits",
        "1000",
    ])
    .unwrap();
    assert_eq!(config.credits.get(), 1000);
    assert_eq!(config.server[0].endpoint(), "ws://127.0.0.1:5000/probe/ws");
    let missing_token = Config::try_parse_from(["p", "--server", "http://h", "--credits", "1"]);
    let later_wins = Config::try_parse_from(
        [
            "p",
            "--server",
            "http://h",
            "--token",
            "t",
            "--credits",
            "1",
        ]
        .into_iter()
        .chain(["--credits", "7"]),
    )
    .unwrap();
    assert_eq!(later_wins.credits.get(), 7);
    assert!(missing_token.is_err() || std::env::var("PLADMED_PROBE_TOKEN").is_ok());
    let zero = Config::try_parse_from(["p", "--server", "http://h", "--credits", "0"]);
    assert!(zero.is_err());
}

#[test]
fn several_servers_are_kept_in_order_and_a_later_list_replaces_them() {
    let servers = |args: &[&str]| {
        let base = ["p", "--token", "t", "--credits", "1"];
        let config = Config::try_parse_from(base.iter().chain(args)).unwrap();
        let urls = config.server.iter().map(|s| s.endpoint().to_string());
        urls.collect::<Vec<_>>()
    };
    let both = ["ws://a:1/probe/ws", "ws://b:2/probe/ws"];
    assert_eq!(servers(&["--server", "http://a:1,http://b:2"]), both);
    assert_eq!(
        servers(&[
            "--server",
            "http://a:1,http://b:2",
            "--server",
            "http://c:3"
        ]),
        ["ws://c:3/probe/ws"]
    );
}
