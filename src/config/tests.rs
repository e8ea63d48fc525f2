//! The settings from a map of variables: defaults, errors naming the variable, production.

use super::*;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};

fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
    let map: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Settings::from_lookup(|k| map.get(k).cloned())
}

#[test]
fn defaults_are_a_local_development_server_on_the_embedded_store() {
    let s = settings(&[]).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:5000");
    assert_eq!(s.mode, Mode::Development);
    assert_eq!(
        s.storage,
        StorageSettings::Embedded {
            dir: "./data".into()
        }
    );
    assert_eq!(s.cors, CorsOrigins::Any);
    assert_eq!(s.max_frame_bytes, 16 << 20);
    assert_eq!(s.ingest_memory_bytes, 256 << 20);
}

#[test]
fn errors_name_the_variable() {
    for (var, value) in [
        ("PLADMED_BIND", "nowhere"),
        ("PLADMED_MODE", "staging"),
        ("PLADMED_HEARTBEAT_S", "0"),
        ("PLADMED_MAX_FRAME_BYTES", "ten"),
        ("PLADMED_INGEST_MEMORY_BYTES", "1000"),
        ("PLADMED_JWT_SECRET", "short"),
        ("PLADMED_CORS_ORIGINS", "example.org"),
        ("PLADMED_NTP_SERVER", "chrony:0"),
        ("PLADMED_NTP_SERVER", "chrony:ntp"),
        ("PLADMED_NTP_INTERVAL", "0"),
        ("PLADMED_MAX_CLOCK_OFFSET_MS", "-1"),
        ("PLADMED_HEALTH_CODE", "short"),
        ("PLADMED_METRICS_CODE", "short"),
        ("PLADMED_LOG", "pladmed=loud"),
        ("PLADMED_AUTH_RATE_PER_MINUTE", "0"),
        ("PLADMED_WS_MAX_PER_ADDRESS", "0"),
        ("PLADMED_WS_MAX_CONNECTIONS", "0"),
        ("PLADMED_HELLO_TIMEOUT_S", "0"),
        ("PLADMED_PROBE_FRAMES_PER_S", "0"),
        ("PLADMED_HEADER_TIMEOUT_S", "0"),
        ("PLADMED_REQUEST_TIMEOUT_S", "0"),
        ("PLADMED_TRUSTED_PROXIES", "10.0.0.0/8, nginx"),
    ] {
        let err = settings(&[(var, value)]).unwrap_err();
        assert_eq!(err.variable, var);
    }
}

#[test]
fn production_requires_a_secret_and_origins() {
    let err = settings(&[("PLADMED_MODE", "production")]).unwrap_err();
    assert_eq!(err.variable, "PLADMED_JWT_SECRET");
    let secret = "s".repeat(32);
    let err = settings(&[
        ("PLADMED_MODE", "production"),
        ("PLADMED_JWT_SECRET", &secret),
    ]);
    assert_eq!(err.unwrap_err().variable, "PLADMED_CORS_ORIGINS");
    let production = [
        ("PLADMED_MODE", "production"),
        ("PLADMED_JWT_SECRET", secret.as_str()),
        ("PLADMED_CORS_ORIGINS", "https://pladmed.example.org"),
    ];
    let err = settings(&production).unwrap_err();
    assert_eq!(err.variable, "PLADMED_HEALTH_CODE");
    let code = "c".repeat(16);
    let with_health = [&production[..], &[("PLADMED_HEALTH_CODE", code.as_str())]].concat();
    assert_eq!(
        settings(&with_health).unwrap_err().variable,
        "PLADMED_METRICS_CODE"
    );
    let other = "m".repeat(16);
    let complete = [
        &with_health[..],
        &[("PLADMED_METRICS_CODE", other.as_str())],
    ]
    .concat();
    assert_eq!(settings(&complete).unwrap().mode, Mode::Production);
}

#[test]
fn production_refuses_one_code_for_health_and_metrics() {
    let secret = "s".repeat(32);
    let code = "c".repeat(16);
    let mut vars = vec![
        ("PLADMED_JWT_SECRET", secret.as_str()),
        ("PLADMED_CORS_ORIGINS", "https://pladmed.example.org"),
        ("PLADMED_HEALTH_CODE", code.as_str()),
        ("PLADMED_METRICS_CODE", code.as_str()),
    ];
    assert!(settings(&vars).is_ok(), "development allows it");
    vars.push(("PLADMED_MODE", "production"));
    let err = settings(&vars).unwrap_err();
    assert_eq!(err.variable, "PLADMED_METRICS_CODE");
    assert!(err.message.contains("PLADMED_HEALTH_CODE"), "{err}");
}

#[test]
fn modes_are_named_as_the_variable_spells_them() {
    assert_eq!(Mode::Development.as_str(), "development");
    assert_eq!(Mode::Production.as_str(), "production");
}

#[test]
fn clock_defaults_measure_against_a_local_chrony() {
    let clock = settings(&[]).unwrap().clock;
    assert_eq!(clock.ntp_server.as_str(), "127.0.0.1:123");
    assert_eq!(clock.interval, Duration::from_secs(64));
    assert_eq!(clock.max_offset_ms, 100.0);
    let server = |value| {
        settings(&[("PLADMED_NTP_SERVER", value)])
            .unwrap()
            .clock
            .ntp_server
    };
    assert_eq!(server("chrony:1123").as_str(), "chrony:1123");
    // Read as the probe reads its --ntp-server: without a port, the NTP port.
    assert_eq!(server("chrony").as_str(), "chrony:123");
    assert_eq!(server("::1").as_str(), "[::1]:123");
}

/// Every name `from_lookup` asks for, with and without a MongoDB URI (which decides whether
/// the database name or the data directory is read).
fn names_read() -> BTreeSet<String> {
    let asked = RefCell::new(BTreeSet::new());
    for uri in [None, Some("mongodb://db")] {
        let _ = Settings::from_lookup(|name| {
            asked.borrow_mut().insert(name.to_string());
            (name == "PLADMED_MONGODB_URI").then(|| uri.map(str::to_string))?
        });
    }
    asked.into_inner()
}

#[test]
fn the_declared_variables_are_exactly_what_the_settings_read() {
    let mut listed = BTreeSet::new();
    for variable in variables() {
        if variable.secret {
            listed.insert(format!("{}_FILE", variable.name));
        }
        listed.insert(variable.name);
    }
    assert_eq!(names_read(), listed);
}

#[test]
fn access_codes_may_come_from_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("metrics-code");
    std::fs::write(&path, "m".repeat(20)).unwrap();
    let s = settings(&[("PLADMED_METRICS_CODE_FILE", path.to_str().unwrap())]).unwrap();
    assert_eq!(s.metrics_code.unwrap(), "m".repeat(20));
    assert_eq!(s.health_code, None);
}

#[test]
fn secret_file_wins_over_variable_and_a_missing_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("secret");
    std::fs::write(&path, format!("{}\n", "f".repeat(40))).unwrap();
    let s = settings(&[
        ("PLADMED_JWT_SECRET", &"v".repeat(40)),
        ("PLADMED_JWT_SECRET_FILE", path.to_str().unwrap()),
    ])
    .unwrap();
    assert_eq!(s.jwt_secret.unwrap(), "f".repeat(40));
    let err = settings(&[("PLADMED_JWT_SECRET_FILE", "/nonexistent/secret")]).unwrap_err();
    assert_eq!(err.variable, "PLADMED_JWT_SECRET_FILE");
}

#[test]
fn messages_say_what_is_wrong_and_never_repeat_a_secret() {
    let message = |var, value| settings(&[(var, value)]).unwrap_err().to_string();
    assert_eq!(
        message("PLADMED_MODE", "staging"),
        "PLADMED_MODE: \"staging\": must be development or production"
    );
    assert_eq!(
        message("PLADMED_HEARTBEAT_S", "0"),
        "PLADMED_HEARTBEAT_S: \"0\": 0 is not in 1..=3600"
    );
    let secret = "not-32-characters";
    let refused = message("PLADMED_JWT_SECRET", secret);
    assert!(!refused.contains(secret), "{refused}");
    assert!(refused.contains("at least 32 characters"), "{refused}");
}

#[test]
fn a_value_that_looks_like_an_option_is_a_value() {
    let s = settings(&[("PLADMED_DATA_DIR", "--help"), ("PLADMED_INSTANCE", "-x")]).unwrap();
    assert_eq!(
        s.storage,
        StorageSettings::Embedded {
            dir: "--help".into()
        }
    );
    assert_eq!(s.instance, "-x");
}

#[test]
fn the_parser_never_reads_the_process_environment() {
    use clap::CommandFactory;
    let declared = variables::Variables::command();
    assert!(declared.get_arguments().all(|arg| arg.get_env().is_some()));
    let parser = variables::hermetic(&declared);
    assert!(parser.get_arguments().all(|arg| arg.get_env().is_none()));
}
