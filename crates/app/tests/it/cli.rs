//! The real binary, as an operator runs it.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_mcplatform");

/// A command with a clean environment: no config leaks in from the machine running the tests.
fn mcplatform(cwd: &Path) -> Command {
    let mut command = Command::new(BIN);
    command.current_dir(cwd).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

fn stderr_of(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// A running `serve` on the port the system gave it (`--bind 127.0.0.1:0`, so that tests
/// never race each other for a port), and everything it writes to stderr.
struct Serving {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Serving {
    /// Starts `serve` and waits for its "listening" log line, which names the bound address.
    async fn start(cwd: &Path, extra: &[&str]) -> Self {
        Self::spawn(cwd, extra, Stdio::null()).await
    }

    /// [`Self::start`] with stdout piped to the test (`child.stdout`).
    async fn start_with_stdout(cwd: &Path, extra: &[&str]) -> Self {
        Self::spawn(cwd, extra, Stdio::piped()).await
    }

    async fn spawn(cwd: &Path, extra: &[&str], stdout: Stdio) -> Self {
        let mut child = mcplatform(cwd)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(extra)
            .stdout(stdout)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = Arc::new(Mutex::new(String::new()));
        let lines = BufReader::new(child.stderr.take().unwrap());
        let sink = stderr.clone();
        let reader = std::thread::spawn(move || {
            for line in lines.lines().map_while(Result::ok) {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let port = stderr.lock().unwrap().lines().find_map(|line| {
                let rest = line.split_once("mcplatform listening")?.1;
                let address = rest.split_once("address=")?.1.split_whitespace().next()?;
                address.parse::<std::net::SocketAddr>().ok().map(|a| a.port())
            });
            if let Some(port) = port {
                return Self { child, port, stderr, reader: Some(reader) };
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("serve exited early with {status}: {}", stderr.lock().unwrap());
            }
            assert!(Instant::now() < deadline, "serve did not start listening");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Sends SIGTERM and waits: the exit status and all of stderr.
    fn stop(mut self) -> (std::process::ExitStatus, String) {
        let status = terminate(&mut self.child);
        if let Some(reader) = self.reader.take() {
            reader.join().unwrap();
        }
        let stderr = self.stderr.lock().unwrap().clone();
        (status, stderr)
    }
}

fn terminate(child: &mut Child) -> std::process::ExitStatus {
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap()
}

#[tokio::test]
async fn serve_with_no_configuration_runs_on_embedded_sqlite_and_stops_cleanly_on_sigterm() {
    let cwd = tempfile::tempdir().unwrap();
    let serving = Serving::start(cwd.path(), &[]).await;

    let health = reqwest::get(format!("{}/healthz", serving.base())).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = reqwest::get(format!("{}/readyz", serving.base())).await.unwrap();
    assert_eq!(ready.status(), 200);

    let data_dir = cwd.path().join("mcplatform-data");
    assert!(data_dir.join("mcplatform.db").is_file(), "SQLite database in the default data dir");
    let key_mode = std::fs::metadata(data_dir.join("master.key")).unwrap().permissions().mode();
    assert_eq!(key_mode & 0o777, 0o600, "key material is owner-only");
    assert_eq!(std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777, 0o700);

    let (status, _) = serving.stop();
    assert!(status.success(), "SIGTERM is a clean exit: {status}");
}

#[test]
fn bad_configuration_fails_at_startup_with_one_line_naming_the_problem() {
    let cwd = tempfile::tempdir().unwrap();
    let not_a_dir = cwd.path().join("file");
    std::fs::write(&not_a_dir, "x").unwrap();
    let data_dir_in_file = not_a_dir.join("data");
    // (flags, environment, what the error line must say)
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (vec!["--base-url", "htp:/nope"], vec![], "base_url"),
        (vec![], vec![("MCPLATFORM_BASE_URL", "not a url")], "BASE_URL"),
        (vec!["--bind", "localhost"], vec![], "bind"),
        (vec!["--database-url", "mysql://db/x"], vec![], "database.url"),
        (
            vec![],
            vec![("DATABASE_URL", "postgres://127.0.0.1:1/none")],
            "cannot open database postgres://127.0.0.1:1/none",
        ),
        (vec!["--data-dir", data_dir_in_file.to_str().unwrap()], vec![], "data directory"),
        (vec!["--config", "missing.toml"], vec![], "missing.toml does not exist"),
    ];
    for (args, env, expected) in cases {
        let output =
            mcplatform(cwd.path()).arg("serve").args(&args).envs(env.clone()).output().unwrap();
        let stderr = stderr_of(&output);
        assert!(!output.status.success(), "{args:?} {env:?} should fail");
        let lines: Vec<_> = stderr.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(lines.len(), 1, "exactly one error line for {args:?} {env:?}: {stderr}");
        assert!(lines[0].contains(expected), "{args:?} {env:?}: expected {expected:?} in {stderr}");
    }
}

#[test]
fn a_port_in_use_is_named_in_the_error() {
    let cwd = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = mcplatform(cwd.path()).args(["serve", "--bind", &addr]).output().unwrap();
    assert!(!output.status.success());
    let stderr = stderr_of(&output);
    let error = stderr.lines().find(|l| l.starts_with("error:")).unwrap_or_default();
    assert!(error.contains(&format!("cannot listen on {addr}")), "{stderr}");
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    let cwd = tempfile::tempdir().unwrap();
    for _ in 0..2 {
        let output =
            mcplatform(cwd.path()).args(["migrate", "--data-dir", "state"]).output().unwrap();
        assert!(output.status.success(), "{}", stderr_of(&output));
        assert!(String::from_utf8_lossy(&output.stdout).contains("is up to date"));
    }
    assert!(cwd.path().join("state/mcplatform.db").is_file());
}

#[test]
fn print_default_config_is_valid_toml_without_secrets() {
    let cwd = tempfile::tempdir().unwrap();
    let output = mcplatform(cwd.path()).arg("print-default-config").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let parsed: toml::Table = text.parse().unwrap();
    assert_eq!(parsed["bind"].as_str(), Some("127.0.0.1:3000"));
    assert_eq!(parsed["base_url"].as_str(), Some("http://localhost:3000/"));
    assert!(parsed.get("master_key").is_none());
}

#[test]
fn version_prints_the_package_version() {
    let cwd = tempfile::tempdir().unwrap();
    let output = mcplatform(cwd.path()).arg("version").output().unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap().trim(),
        format!("mcplatform {}", env!("CARGO_PKG_VERSION"))
    );
}

#[tokio::test]
async fn unknown_configuration_keys_are_warned_about_but_do_not_stop_the_server() {
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("mcp.toml"), "bnid = \"127.0.0.1:1\"\n").unwrap();
    let serving = Serving::start(cwd.path(), &["--config", "mcp.toml"]).await;
    let (status, stderr) = serving.stop();
    assert!(status.success(), "{stderr}");
    assert!(
        stderr.contains("ignoring unknown configuration key") && stderr.contains("bnid"),
        "{stderr}"
    );
}

fn admin_json(cwd: &Path, args: &[&str]) -> serde_json::Value {
    let output = mcplatform(cwd).arg("admin").args(args).output().unwrap();
    assert!(output.status.success(), "admin {args:?}: {}", stderr_of(&output));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn admin_commands_set_up_an_account_organization_server_and_key_that_work() {
    let cwd = tempfile::tempdir().unwrap();
    let user =
        admin_json(cwd.path(), &["create-user", "--email", "ops@example.com", "--name", "Ops"]);
    let password = user["generated_password"].as_str().unwrap().to_owned();
    assert_eq!(password.len(), 24);
    let org =
        admin_json(cwd.path(), &["create-org", "--name", "Acme", "--owner", "ops@example.com"]);
    let org_id = org["id"].as_str().unwrap().to_owned();
    let server = admin_json(
        cwd.path(),
        &["create-server", "--org", &org_id, "--slug", "acme", "--name", "Acme"],
    );
    assert_eq!(server["mcp_url"], "http://acme.localhost:3000/mcp");
    let key = admin_json(
        cwd.path(),
        &["create-api-key", "--org", &org_id, "--name", "ci", "--scope", "management"],
    );
    let secret = key["secret"].as_str().unwrap().to_owned();

    let bad = mcplatform(cwd.path())
        .args(["admin", "create-server", "--org", &org_id, "--slug", "acme", "--name", "Dup"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr_of(&bad).contains("slug already taken"), "{}", stderr_of(&bad));
    let bad = mcplatform(cwd.path())
        .args(["admin", "create-org", "--name", "X", "--owner", "nobody@example.com"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(stderr_of(&bad).contains("no account with email nobody@example.com"));

    let serving = Serving::start(cwd.path(), &[]).await;
    let base = serving.base();
    let servers: serde_json::Value = reqwest::Client::new()
        .get(format!("{base}/api/v1/orgs/{org_id}/servers"))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(servers["items"][0]["slug"], "acme");
    let login = reqwest::Client::new()
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({"email": "ops@example.com", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "the generated password logs in");
    assert!(serving.stop().0.success());
}

#[tokio::test]
async fn serve_demo_seeds_once_and_prints_a_working_login() {
    let cwd = tempfile::tempdir().unwrap();
    let mut passwords = Vec::new();
    let mut tracking_urls = Vec::new();
    for _ in 0..2 {
        let mut serving = Serving::start_with_stdout(cwd.path(), &["--demo"]).await;
        let mut line = String::new();
        let mut stdout = BufReader::new(serving.child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        assert!(
            line.starts_with(
                "demo: log in at http://localhost:3000/login as demo@example.com with password "
            ),
            "{line}"
        );
        let last_password =
            line.split("with password ").nth(1).unwrap().split(' ').next().unwrap().to_owned();
        // Then the demo end user's tracking URL, the same on every start, which serves MCP.
        let mut link_line = String::new();
        stdout.read_line(&mut link_line).unwrap();
        let tracking_url = link_line
            .split("tracking URL ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .unwrap_or_else(|| panic!("{link_line}"))
            .to_owned();
        assert!(
            tracking_url.starts_with("http://localhost:3000/s/demo/api/mcpserver/trk_"),
            "{tracking_url}"
        );
        tracking_urls.push(tracking_url.clone());
        passwords.push(last_password.clone());
        let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
        let base = serving.base();
        let login = client
            .post(format!("{base}/api/v1/auth/login"))
            .json(&serde_json::json!({"email": "demo@example.com", "password": last_password}))
            .send()
            .await
            .unwrap();
        assert_eq!(login.status(), 200);
        let me: serde_json::Value =
            client.get(format!("{base}/api/v1/me")).send().await.unwrap().json().await.unwrap();
        assert_eq!(me["organizations"].as_array().unwrap().len(), 1, "seeding is idempotent");
        let org = me["organizations"][0]["id"].as_str().unwrap();
        let servers: serde_json::Value = client
            .get(format!("{base}/api/v1/orgs/{org}/servers"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(servers["items"].as_array().unwrap().len(), 1);
        assert_eq!(servers["items"][0]["slug"], "demo");
        let path = tracking_url.trim_start_matches("http://localhost:3000");
        let initialize = client
            .post(format!("{base}{path}"))
            .header("host", "localhost:3000")
            .header("accept", "application/json, text/event-stream")
            .json(
                &serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "demo-check", "version": "1"},
                }}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(initialize.status(), 200, "the tracking URL serves MCP");
        assert!(serving.stop().0.success());
    }
    assert_ne!(passwords[0], passwords[1], "each start sets a new demo password");
    assert_eq!(tracking_urls[0], tracking_urls[1], "the demo end user keeps one link");
}
