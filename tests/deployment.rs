//! docker/, chrony/ and the README against the code: the compose file sets only known settings
//! and is a valid production configuration, the images are built as documented, chrony accepts
//! its configuration, and the README's configuration table lists every variable.

use pladmed::config::{variables, Mode, Settings, Variable};
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

fn read(path: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn compose() -> Value {
    serde_norway::from_str(&read("docker/compose.yaml")).expect("docker/compose.yaml is YAML")
}

fn service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    &compose["services"][name]
}

/// A service's `environment`, in map form.
fn environment(service: &Value) -> BTreeMap<String, String> {
    service["environment"]
        .as_mapping()
        .expect("environment is a mapping")
        .iter()
        .map(|(k, v)| {
            let value = match v {
                Value::String(s) => s.clone(),
                other => panic!("{k:?}: quote non-string values, got {other:?}"),
            };
            (k.as_str().unwrap().to_string(), value)
        })
        .collect()
}

fn names(sequence: &Value) -> BTreeSet<String> {
    sequence
        .as_sequence()
        .map(|s| s.iter().map(|v| v.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

#[test]
fn every_service_restarts_unless_stopped() {
    let compose = compose();
    let services = compose["services"].as_mapping().unwrap();
    let names: BTreeSet<&str> = services.keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(
        names,
        BTreeSet::from(["chrony", "mongo", "redis", "server", "server-2"])
    );
    for (name, service) in services {
        assert_eq!(
            service["restart"].as_str(),
            Some("unless-stopped"),
            "{name:?}"
        );
    }
    assert!(service(&compose, "mongo")["volumes"][0]
        .as_str()
        .unwrap()
        .ends_with(":/data/db"));
}

#[test]
fn the_server_sets_only_known_settings_and_secrets_only_through_files() {
    let compose = compose();
    let server = service(&compose, "server");
    let granted = names(&server["secrets"]);
    let declared: BTreeSet<String> = compose["secrets"]
        .as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect();
    let variables = variables();
    for (name, value) in environment(server) {
        let base = name.strip_suffix("_FILE").unwrap_or(&name);
        let variable = variables.iter().find(|v| v.name == base);
        let variable = variable.unwrap_or_else(|| panic!("{name} is not a setting"));
        if variable.secret {
            assert!(name.ends_with("_FILE"), "{name}: secrets go through _FILE");
            let secret = value
                .strip_prefix("/run/secrets/")
                .expect("a Docker secret");
            assert!(granted.contains(secret), "{name}: {secret} not granted");
            assert!(declared.contains(secret), "{name}: {secret} not declared");
        } else {
            assert_eq!(base, name, "{name}: only secrets have _FILE variants");
        }
    }
}

/// The server's environment as the container sees it: `${VAR:?...}` filled in as the operator
/// must, and each secret file replaced by a local file holding a plausible secret.
#[test]
fn the_server_environment_is_a_valid_production_configuration() {
    let compose = compose();
    let secrets = tempfile::tempdir().unwrap();
    let mut env = environment(service(&compose, "server"));
    for (name, value) in env.iter_mut() {
        if value.starts_with("${") {
            *value = "https://pladmed.example.org".into();
        } else if let Some(secret) = value.strip_prefix("/run/secrets/") {
            let path = secrets.path().join(secret);
            let content = if name.starts_with("PLADMED_MONGODB_URI") {
                "mongodb://pladmed:password@mongo:27017/?replicaSet=rs0&authSource=admin".into()
            } else if name.starts_with("PLADMED_REDIS_URL") {
                "redis://:password@redis:6379".into()
            } else {
                // A distinct value per secret: production refuses one code for health and metrics.
                format!("{secret}-{}", "s".repeat(48))
            };
            std::fs::write(&path, content).unwrap();
            *value = path.to_str().unwrap().to_string();
        }
    }
    let settings = Settings::from_lookup(|name| env.get(name).cloned())
        .unwrap_or_else(|e| panic!("compose settings refused: {e}"));
    assert_eq!(settings.mode, Mode::Production);
    assert!(settings.redis_url.is_some(), "the instances share a hub");
    assert_eq!(settings.clock.ntp_server.as_str(), "chrony:123");
    let published = service(&compose, "server")["ports"][0].as_str().unwrap();
    assert!(
        published.ends_with(&format!(":{}", settings.bind.port())),
        "{published}"
    );
    let dockerfile = read("docker/Dockerfile");
    assert!(dockerfile.contains(&format!("EXPOSE {}", settings.bind.port())));
    // The proxy on the host connects through the published port, from the network's gateway.
    let gateway = compose["networks"]["default"]["ipam"]["config"][0]["gateway"]
        .as_str()
        .expect("the default network's gateway is fixed");
    assert!(
        settings
            .trusted_proxies
            .contains(gateway.parse().expect("an address")),
        "PLADMED_TRUSTED_PROXIES must trust the gateway {gateway}"
    );
}

/// Scaling out: the second instance is the first with its own name (a starting instance clears
/// the links recorded under its name) and its own published port; both wait for Redis, which
/// keeps nothing and wants a password.
#[test]
fn the_second_instance_is_the_first_with_its_own_name_and_port() {
    let compose = compose();
    let (first, second) = (service(&compose, "server"), service(&compose, "server-2"));
    assert_eq!(second["extends"]["service"].as_str(), Some("server"));
    let name = |service: &Value| environment(service)["PLADMED_INSTANCE"].clone();
    assert_ne!(name(first), name(second));
    let port = |ports: &Value| format!("{ports:?}");
    assert_ne!(port(&first["ports"]), port(&second["ports"]));
    assert!(port(&second["ports"]).contains("127.0.0.1:5001:5000"));
    for server in [first, second] {
        let waits_for = server["depends_on"].as_mapping().expect("depends_on");
        assert!(waits_for.contains_key("redis") && waits_for.contains_key("mongo"));
    }
    let redis = service(&compose, "redis");
    assert!(redis.get("volumes").is_none(), "redis keeps nothing");
    let entrypoint = format!("{:?}", redis["entrypoint"]);
    assert!(entrypoint.contains("requirepass"), "{entrypoint}");
    assert!(names(&redis["secrets"]).contains("redis_password"));
}

#[test]
fn mongo_runs_a_replica_set_with_credentials_from_secrets() {
    let compose = compose();
    let mongo = service(&compose, "mongo");
    let entrypoint = format!("{:?}", mongo["entrypoint"]);
    assert!(entrypoint.contains("--replSet rs0"), "{entrypoint}");
    let env = environment(mongo);
    let granted = names(&mongo["secrets"]);
    for name in [
        "MONGO_INITDB_ROOT_USERNAME_FILE",
        "MONGO_INITDB_ROOT_PASSWORD_FILE",
    ] {
        let secret = env[name].strip_prefix("/run/secrets/").unwrap();
        assert!(granted.contains(secret), "{name}");
    }
}

#[test]
fn the_images_are_multi_stage_non_root_and_health_checked() {
    let dockerfile = read("docker/Dockerfile");
    assert_eq!(
        dockerfile.matches("\nFROM ").count() + usize::from(dockerfile.starts_with("FROM ")),
        2
    );
    assert!(dockerfile.contains("COPY --from=builder"));
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("a USER line");
    assert!(!matches!(user.trim(), "root" | "0"), "runs as root");
    assert!(dockerfile.contains("HEALTHCHECK") && dockerfile.contains("/healthz"));
    assert!(read("docker/chrony.Dockerfile").contains("chrony/chrony.conf"));
}

#[test]
fn chronyd_accepts_the_deployment_configuration() {
    let conf = Path::new(env!("CARGO_MANIFEST_DIR")).join("chrony/chrony.conf");
    let output = Command::new("/usr/sbin/chronyd")
        .arg("-p")
        .arg("-f")
        .arg(&conf)
        .output()
        .expect("/usr/sbin/chronyd runs (Debian package chrony)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(printed.contains("local stratum 10"), "{printed}");
}

/// README's configuration table: `| `NAME` [✱] | default | meaning |` rows, by name.
fn readme_table() -> BTreeMap<String, (bool, String)> {
    read("README.md")
        .lines()
        .filter_map(|line| line.strip_prefix("| `PLADMED_"))
        .map(|rest| {
            let cells: Vec<&str> = rest.split(" | ").collect();
            let (name, mark) = cells[0].split_once('`').expect("a quoted name");
            let default = cells.get(1).expect("a default column").trim().to_string();
            (format!("PLADMED_{name}"), (mark.contains('✱'), default))
        })
        .collect()
}

/// The table lists exactly the declared variables, marks exactly the secrets with ✱, and
/// shows each fixed default as it is written in the environment; a variable without one
/// (unset, or depending on the machine or the mode) is described in words, not as a value.
#[test]
fn the_readme_configuration_table_matches_the_declaration() {
    let table = readme_table();
    let declared: BTreeMap<String, Variable> = variables()
        .into_iter()
        .map(|v| (v.name.clone(), v))
        .collect();
    assert_eq!(
        table.keys().collect::<Vec<_>>(),
        declared.keys().collect::<Vec<_>>()
    );
    for (name, (marked, default)) in &table {
        let variable = &declared[name];
        assert_eq!(
            *marked, variable.secret,
            "{name}: ✱ marks exactly the secrets"
        );
        match &variable.default {
            Some(value) => assert_eq!(default, &format!("`{value}`"), "{name}'s default"),
            None => assert!(
                !(default.starts_with('`') && default.ends_with('`')),
                "{name} has no fixed default, README shows {default}"
            ),
        }
    }
}
