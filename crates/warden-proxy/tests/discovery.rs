//! Registry and git-remote discovery: fake configuration trees (with made-up `.invalid` mirror
//! hosts) are discovered with their sources; probes of slow tools are bounded; and a real run on
//! this machine finds something for every installed package manager.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use warden_policy::sections::NetworkConfig;
use warden_proxy::{
    DiscoveredHost, DiscoveryEnv, Host, ProxyConfig, discover, discover_registries,
};

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

fn find<'a>(found: &'a [DiscoveredHost], host: &str, port: u16) -> Option<&'a DiscoveredHost> {
    found.iter().find(|d| d.host == host && d.port == port)
}

struct Fake {
    _dir: tempfile::TempDir,
    env: DiscoveryEnv,
    ws: std::path::PathBuf,
}

fn fake_machine(path_var: &str) -> Fake {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let cargo_home = dir.path().join("cargo-home");
    let root = dir.path().join("root");
    let ws = dir.path().join("ws");
    fs::create_dir_all(&ws).unwrap();

    // cargo: crates-io replaced by a sparse mirror, an extra registry, a workspace registry, and
    // registry cache directories (one for the mirror with config.json, one stale).
    write(
        &home.join(".cargo/config.toml"),
        "[source.crates-io]\nreplace-with = \"mirror\"\n\n[source.mirror]\nregistry = \"sparse+https://cargo-mirror.invalid/index/\"\n\n[registries.corp]\nindex = \"https://corp-cargo.invalid:8443/git/index\"\n",
    );
    write(
        &ws.join(".cargo/config.toml"),
        "[registries.ws]\nindex = \"sparse+https://ws-registry.invalid/\"\n",
    );
    write(
        &cargo_home.join("registry/index/cargo-mirror.invalid-0123456789abcdef/config.json"),
        r#"{"dl": "https://dl-mirror.invalid/crates", "api": "https://cargo-mirror.invalid"}"#,
    );
    fs::create_dir_all(cargo_home.join("registry/index/stale.invalid-fedcba9876543210")).unwrap();

    // pip: a config file with a continuation line, plus an environment variable.
    write(
        &dir.path().join("pip.conf"),
        "[global]\nindex-url = https://pypi-mirror.invalid/simple\nextra-index-url = https://extra1.invalid/simple\n    http://extra2.invalid:8080/simple\n",
    );
    // npm
    write(
        &home.join(".npmrc"),
        "registry=https://npm-mirror.invalid/\n@corp:registry=https://npm-corp.invalid:4873/\n",
    );
    // apt: one-line and deb822 formats, a disabled stanza, and a file apt itself ignores.
    write(
        &root.join("etc/apt/sources.list"),
        "# deb http://commented.invalid/debian x main\ndeb [arch=amd64 signed-by=/k.gpg] http://apt-mirror.invalid/debian bookworm main\n",
    );
    write(
        &root.join("etc/apt/sources.list.d/extra.sources"),
        "Types: deb\n# http://comment-in-stanza.invalid/\nURIs: https://apt2.invalid/debian mirror+http://apt3.invalid/d\nSuites: x\n\nTypes: deb\nEnabled: no\nURIs: http://apt-disabled.invalid/\n",
    );
    write(
        &root.join("etc/apt/sources.list.d/old.list.disabled"),
        "deb http://ignored.invalid/ x main\n",
    );
    // gem, maven
    write(
        &home.join(".gemrc"),
        "---\n:sources:\n- https://gems.invalid/\n",
    );
    write(
        &home.join(".m2/settings.xml"),
        "<settings><mirrors><mirror><url>https://maven-mirror.invalid/repo</url></mirror>\n<!-- <url>https://maven-commented.invalid/</url> --></mirrors></settings>",
    );

    let mut env = DiscoveryEnv::empty();
    env.set_var("HOME", home.display().to_string())
        .set_var("CARGO_HOME", cargo_home.display().to_string())
        .set_var(
            "PIP_CONFIG_FILE",
            dir.path().join("pip.conf").display().to_string(),
        )
        .set_var("PIP_EXTRA_INDEX_URL", "https://pip-env.invalid/simple")
        .set_var("GOPROXY", "https://goproxy.invalid,direct")
        .set_var("PATH", path_var)
        .set_root(&root);
    Fake { _dir: dir, env, ws }
}

#[test]
fn fake_configuration_files_are_discovered_with_their_sources() {
    let f = fake_machine("/nonexistent-bin");
    let found = discover_registries(&f.ws, &f.env);
    let expect = [
        (
            "cargo-mirror.invalid",
            443,
            "registry:cargo",
            "config.toml [source.mirror] registry",
        ),
        (
            "corp-cargo.invalid",
            8443,
            "registry:cargo",
            "[registries.corp] index",
        ),
        (
            "ws-registry.invalid",
            443,
            "registry:cargo",
            "ws/.cargo/config.toml",
        ),
        (
            "dl-mirror.invalid",
            443,
            "registry:cargo",
            "config.json `dl`",
        ),
        (
            "pypi-mirror.invalid",
            443,
            "registry:pip",
            "pip.conf [global] index-url",
        ),
        ("extra1.invalid", 443, "registry:pip", "extra-index-url"),
        ("extra2.invalid", 8080, "registry:pip", "extra-index-url"),
        (
            "pip-env.invalid",
            443,
            "registry:pip",
            "PIP_EXTRA_INDEX_URL",
        ),
        ("npm-mirror.invalid", 443, "registry:npm", ".npmrc registry"),
        ("npm-corp.invalid", 4873, "registry:npm", "@corp:registry"),
        ("apt-mirror.invalid", 80, "registry:apt", "sources.list"),
        ("apt2.invalid", 443, "registry:apt", "extra.sources"),
        ("apt3.invalid", 80, "registry:apt", "extra.sources"),
        ("goproxy.invalid", 443, "registry:go", "GOPROXY"),
        ("gems.invalid", 443, "registry:gem", ".gemrc"),
        (
            "maven-mirror.invalid",
            443,
            "registry:maven",
            "settings.xml",
        ),
    ];
    for (host, port, kind, source) in expect {
        let d = find(&found, host, port)
            .unwrap_or_else(|| panic!("{host}:{port} not found in {found:#?}"));
        assert_eq!(d.kind, kind, "{host}");
        assert!(
            d.source.contains(source),
            "{host}: source `{}` lacks `{source}`",
            d.source
        );
    }
    for absent in [
        "stale.invalid",
        "commented.invalid",
        "comment-in-stanza.invalid",
        "apt-disabled.invalid",
        "ignored.invalid",
        "maven-commented.invalid",
    ] {
        assert!(
            found.iter().all(|d| d.host != absent),
            "{absent} must not be discovered"
        );
    }
}

#[test]
fn without_a_crates_io_replacement_the_cache_names_the_default_index() {
    let dir = tempfile::tempdir().unwrap();
    let ch = dir.path().join("ch");
    write(
        &ch.join("registry/index/idx.cargo-default.invalid-00112233aabbccdd/config.json"),
        r#"{"dl": "https://files.cargo-default.invalid:444/d"}"#,
    );
    fs::create_dir_all(ch.join("registry/index/not-a-hash-dir")).unwrap();
    let mut env = DiscoveryEnv::empty();
    env.set_var("CARGO_HOME", ch.display().to_string());
    // The workspace is elsewhere: a cache directory inside it is not believed (see
    // discovery_trust.rs).
    let ws = dir.path().join("ws");
    fs::create_dir_all(&ws).unwrap();
    let found = discover_registries(&ws, &env);
    let idx = find(&found, "idx.cargo-default.invalid", 443).expect("index host from cache dir");
    assert!(idx.source.contains("registry cache"));
    assert!(
        find(&found, "files.cargo-default.invalid", 444).is_some(),
        "{found:?}"
    );
    assert!(found.iter().all(|d| d.host != "not-a-hash"));
}

#[test]
fn tools_are_asked_when_present() {
    // Real npm and pip (if installed) read the fake HOME / PIP_CONFIG_FILE.
    let path = std::env::var("PATH").unwrap_or_default();
    let mut f = fake_machine(&path);
    // This test asks whether the tools answer, not how fast: pip behind a pyenv shim takes
    // ~1.5 s to start, so the default 2 s probe timeout flakes on a loaded machine.
    f.env.probe_timeout = Duration::from_secs(30);
    let found = discover_registries(&f.ws, &f.env);
    if works("npm") {
        let by_tool = found
            .iter()
            .find(|d| d.host == "npm-mirror.invalid" && d.source.contains("npm config get"));
        assert!(
            by_tool.is_some(),
            "npm itself reports the fake registry: {found:#?}"
        );
    }
    if works("pip") {
        let by_tool = found
            .iter()
            .find(|d| d.host == "pypi-mirror.invalid" && d.source.contains("pip config list"));
        assert!(
            by_tool.is_some(),
            "pip itself reports the fake index: {found:#?}"
        );
        assert!(
            found.iter().all(|d| !d.source.contains("built-in default")),
            "pip's default index is not added when an index is configured"
        );
    }
}

#[test]
fn a_hanging_tool_is_bounded_by_the_probe_timeout() {
    let bin = tempfile::tempdir().unwrap();
    for tool in ["npm", "pip", "go", "gem", "python3", "git"] {
        let p = bin.path().join(tool);
        write(&p, "#!/bin/sh\nsleep 30\n");
        let mut perm = fs::metadata(&p).unwrap().permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
        fs::set_permissions(&p, perm).unwrap();
    }
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let mut f = fake_machine(&path);
    f.env.probe_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let found = discover(&f.ws, &f.env);
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "discovery took {took:?}");
    assert!(
        find(&found, "npm-mirror.invalid", 443).is_some(),
        "files still read"
    );
}

#[test]
fn git_remotes_are_discovered_including_scp_form() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    let git = |args: &[&str]| {
        let st = Command::new("git")
            .arg("-C")
            .arg(ws)
            .args(args)
            .env("HOME", ws)
            .stdout(Stdio::null())
            .status()
            .expect("git is installed");
        assert!(st.success(), "git {args:?}");
    };
    git(&["init", "-q"]);
    git(&[
        "remote",
        "add",
        "origin",
        "git@forge-remote.invalid:org/repo.git",
    ]);
    git(&[
        "remote",
        "add",
        "mirror",
        "https://user@forge2.invalid:8443/x.git",
    ]);
    let mut env = DiscoveryEnv::empty();
    env.set_var("PATH", std::env::var("PATH").unwrap_or_default())
        .set_var("HOME", ws.display().to_string());
    let found = warden_proxy::discover_git_remotes(ws, &env);
    let o = find(&found, "forge-remote.invalid", 22).expect("scp-like remote");
    assert_eq!(o.kind, "git-remote");
    assert!(o.source.contains("origin"));
    assert!(find(&found, "forge2.invalid", 8443).is_some(), "{found:?}");

    // And they become allow rules, which a [network] deny still overrides.
    let cfg = NetworkConfig {
        deny: vec!["forge2.invalid:*".into()],
        forges: Some(false),
        discover_registries: Some(false),
        ..NetworkConfig::default()
    };
    let pc = ProxyConfig::from_network_config_with(&cfg, ws, &env).unwrap();
    let v = pc.decide(&Host::parse("forge-remote.invalid").unwrap(), 22, None);
    assert!(
        v.allowed && v.rule == "git-remote:forge-remote.invalid:22",
        "{v:?}"
    );
    assert!(
        !pc.decide(&Host::parse("forge2.invalid").unwrap(), 8443, None)
            .allowed
    );
    assert!(
        !pc.decide(&Host::parse("forge-remote.invalid").unwrap(), 443, None)
            .allowed,
        "port-exact"
    );
}

#[test]
fn discovered_registries_become_rules_with_sources() {
    let f = fake_machine("/nonexistent-bin");
    let cfg = NetworkConfig {
        deny: vec!["npm-corp.invalid:*".into()],
        ..NetworkConfig::default()
    };
    let pc = ProxyConfig::from_network_config_with(&cfg, &f.ws, &f.env).unwrap();
    let v = pc.decide(&Host::parse("cargo-mirror.invalid").unwrap(), 443, None);
    assert!(v.allowed, "{v:?}");
    assert_eq!(v.rule, "registry:cargo:cargo-mirror.invalid:443");
    let rule = pc.rules().iter().find(|r| r.id == v.rule).unwrap();
    assert!(rule.source.contains("config.toml"), "{}", rule.source);
    assert!(
        !pc.decide(&Host::parse("npm-corp.invalid").unwrap(), 4873, None)
            .allowed,
        "deny wins"
    );
    assert!(
        !pc.decide(&Host::parse("unknown.invalid").unwrap(), 443, None)
            .allowed
    );
    assert!(
        pc.decide(&Host::parse("github.com").unwrap(), 443, None)
            .allowed,
        "forges by default"
    );
}

fn works(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn real_discovery_on_this_machine_finds_the_installed_tools() {
    let env = DiscoveryEnv::from_process();
    let ws = Path::new(env!("CARGO_MANIFEST_DIR"));
    let started = Instant::now();
    let found = discover_registries(ws, &env);
    eprintln!("discovered in {:?}:", started.elapsed());
    for d in &found {
        eprintln!("  {}:{} [{}] from {}", d.host, d.port, d.kind, d.source);
    }
    let has = |kind: &str| found.iter().any(|d| d.kind == kind);
    let cargo_home = std::env::var("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| Path::new(&std::env::var("HOME").unwrap_or_default()).join(".cargo"));
    let cargo_used =
        fs::read_dir(cargo_home.join("registry/index")).is_ok_and(|mut d| d.next().is_some());
    if works("cargo") && cargo_used {
        assert!(
            has("registry:cargo"),
            "cargo is installed and has used a registry"
        );
    }
    if works("pip") {
        assert!(has("registry:pip"), "pip is installed");
    }
    if works("npm") {
        assert!(has("registry:npm"), "npm is installed");
    }
    let apt_sources = fs::read_to_string("/etc/apt/sources.list")
        .unwrap_or_default()
        .contains("deb ")
        || fs::read_dir("/etc/apt/sources.list.d").is_ok_and(|d| {
            d.flatten().any(|e| {
                let n = e.file_name().to_string_lossy().into_owned();
                (n.ends_with(".sources") || n.ends_with(".list"))
                    && fs::read_to_string(e.path())
                        .unwrap_or_default()
                        .contains("http")
            })
        });
    if apt_sources {
        assert!(has("registry:apt"), "apt sources exist");
    }
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[test]
fn cached_discovery_reuses_results_until_an_input_changes() {
    use warden_proxy::{DiscoveryEnv, discover_registries_cached};
    let home = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let ws = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".cargo")).unwrap();
    let cfg = home.path().join(".cargo/config.toml");
    std::fs::write(&cfg, "[source.crates-io]\nreplace-with = \"m\"\n[source.m]\nregistry = \"sparse+https://first.invalid/index/\"\n").unwrap();
    let mut env = DiscoveryEnv::empty();
    env.set_var("HOME", home.path().to_str().unwrap());
    let trusted = warden_proxy::WorkspaceConfig::current(ws.path(), &env);
    let first = discover_registries_cached(ws.path(), &env, cache.path(), &trusted);
    assert!(first.iter().any(|h| h.host == "first.invalid"), "{first:?}");
    assert_eq!(
        std::fs::read_dir(cache.path()).unwrap().count(),
        1,
        "one cache entry written"
    );

    // Edit the cache entry: a hit returns what the cache holds, proving it was used.
    let entry = std::fs::read_dir(cache.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&entry)
        .unwrap()
        .replace("first.invalid", "cached.invalid");
    std::fs::write(&entry, text).unwrap();
    let second = discover_registries_cached(ws.path(), &env, cache.path(), &trusted);
    assert!(
        second.iter().any(|h| h.host == "cached.invalid"),
        "{second:?}"
    );

    // Changing the configuration changes the key: discovery runs again.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(&cfg, "[source.crates-io]\nreplace-with = \"m\"\n[source.m]\nregistry = \"sparse+https://second.invalid/index/\"\n").unwrap();
    let third = discover_registries_cached(ws.path(), &env, cache.path(), &trusted);
    assert!(
        third.iter().any(|h| h.host == "second.invalid"),
        "{third:?}"
    );
}
