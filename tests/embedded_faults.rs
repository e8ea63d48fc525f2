//! The embedded store when its directory is unusable or its file is damaged: a clear startup
//! error naming the path, and the existing data left exactly as it was.

use pladmed::config::Settings;
use pladmed::startup::Application;

async fn startup_error(dir: std::path::PathBuf) -> String {
    match Application::build(Settings::for_local_test(dir)).await {
        Ok(_) => panic!("the server started on an unusable data directory"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_created_is_a_clear_startup_error() {
    let scratch = tempfile::tempdir().unwrap();
    let blocker = scratch.path().join("not-a-directory");
    std::fs::write(&blocker, b"a file where the data directory should be").unwrap();
    let message = startup_error(blocker.join("data")).await;
    assert!(
        message.contains("cannot create data directory") && message.contains("not-a-directory"),
        "{message}"
    );
}

#[tokio::test]
async fn a_damaged_data_file_is_refused_and_left_untouched() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pladmed.redb");
    let garbage: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7919 % 251) as u8).collect();
    std::fs::write(&file, &garbage).unwrap();
    let message = startup_error(dir).await;
    assert!(message.contains("pladmed.redb"), "{message}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        garbage,
        "the damaged file is left as it was, for recovery"
    );
}
