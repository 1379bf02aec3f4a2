//! Lookahead (issue 16, item 2): scripts and named tasks of the workspace that an action runs
//! are read (through the caller's reader, bounded, never executed) and their commands judged
//! as part of the action, with reasons naming file and line. Before this, every case below was
//! `auto` whatever the file said.

use std::path::PathBuf;
use warden_policy::{Action, Context, Decision, MemoryWorkspace, Policy, Tier};

fn ctx() -> Context {
    Context {
        workspace: PathBuf::from("/ws"),
        cwd: PathBuf::from("/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    }
}

fn check(files: &MemoryWorkspace, shell: &str) -> Decision {
    Policy::builtin().classify_with(
        &Action::Shell {
            script: shell.into(),
            cwd: None,
        },
        &ctx(),
        files,
    )
}

fn has_reason(d: &Decision, needle: &str) -> bool {
    d.reasons.iter().any(|r| r.contains(needle))
}

const DEPLOY: &str = "#!/bin/bash\nset -e\nterraform apply -auto-approve\necho done\n";

#[test]
fn a_script_run_by_a_shell_is_read_and_its_lines_named() {
    let files = MemoryWorkspace::new().with("/ws/deploy.sh", DEPLOY);
    for line in [
        "bash deploy.sh",
        "sh ./deploy.sh",
        "bash -e deploy.sh arg",
        "./deploy.sh",
        "source deploy.sh",
        ". ./deploy.sh",
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, Tier::Sync, "{line}: {:?}", d.reasons);
        assert!(
            has_reason(&d, "deploy.sh:3: terraform apply -auto-approve"),
            "{line}: {:?}",
            d.reasons
        );
    }
    // Without lookahead (plain classify) the same lines are auto: the old behaviour.
    let d = Policy::builtin().classify(
        &Action::Shell {
            script: "bash deploy.sh".into(),
            cwd: None,
        },
        &ctx(),
    );
    assert_eq!(d.tier, Tier::Auto);
}

/// A script the same text writes before running it is read as the text writes it (an agent
/// whose command was surfaced writes it into a file and runs the file), whatever is on disk.
#[test]
fn a_script_written_by_the_same_text_is_read_as_written() {
    let on_disk = MemoryWorkspace::new()
        .with("/ws/deploy.sh", "echo nothing to see\n")
        .with("/ws/ok.sh", "echo hi\n");
    for line in [
        "cat <<'EOF' > deploy.sh\n#!/bin/sh\ngit push origin main\nEOF\nbash deploy.sh",
        "cat > deploy.sh <<EOF\ngit push origin $BRANCH\nEOF\nchmod +x deploy.sh && ./deploy.sh",
        "echo 'git push origin main' > deploy.sh; sh deploy.sh",
        "printf '#!/bin/sh\\ngit push origin main\\n' > deploy.sh && sh deploy.sh",
        "tee deploy.sh <<< 'git push origin main' > /dev/null; bash deploy.sh",
        "mkdir -p ci && cat <<'EOF' > ci/run.sh\ngit push origin main\nEOF\nbash ci/run.sh",
        "cd ci && cat <<'EOF' > run.sh\ngit push origin main\nEOF\nbash run.sh",
    ] {
        let d = check(&on_disk, line);
        // (`$BRANCH` is only known at run time: `sync`, stricter than the push itself.)
        assert!(d.tier >= Tier::Async, "{line}: {:?}", d.reasons);
        assert!(
            has_reason(&d, ": git push origin"),
            "{line}: {:?}",
            d.reasons
        );
    }
    // What is on disk when the text runs it before writing, appends to it, or writes it from
    // elsewhere.
    for line in [
        "bash deploy.sh; cat <<'EOF' > deploy.sh\ngit push origin main\nEOF",
        "cat <<'EOF' >> deploy.sh\ngit push origin main\nEOF\nbash deploy.sh",
        "cat other.sh <<'EOF' > deploy.sh\ngit push origin main\nEOF\nbash deploy.sh",
        "cat <<'EOF' > ok.sh\necho fine\nEOF\nbash deploy.sh",
    ] {
        let d = check(&on_disk, line);
        assert_eq!(d.tier, Tier::Auto, "{line}: {:?}", d.reasons);
    }
}

#[test]
fn only_shell_scripts_are_read_when_run_by_path() {
    let files = MemoryWorkspace::new()
        .with(
            "/ws/tool.py",
            "#!/usr/bin/env python3\nimport os\n# git push\n",
        )
        .with("/ws/plain", "git push\n");
    assert_eq!(check(&files, "./tool.py").tier, Tier::Auto);
    // No shebang: the shell runs it as a shell script.
    assert_eq!(check(&files, "./plain").tier, Tier::Async);
}

#[test]
fn nested_scripts_are_followed_and_cycles_stop() {
    let files = MemoryWorkspace::new()
        .with("/ws/a.sh", "echo a\n./b.sh\n")
        .with("/ws/b.sh", "#!/bin/sh\n\ngit push --force\n./a.sh\n");
    let d = check(&files, "bash a.sh");
    assert_eq!(d.tier, Tier::Sync);
    assert!(
        has_reason(&d, "b.sh:3: git push --force"),
        "{:?}",
        d.reasons
    );
}

#[test]
fn package_json_scripts_with_their_pre_and_post_hooks() {
    let pkg = r#"{
  "name": "app",
  "scripts": {
    "pretest": "git push origin HEAD",
    "test": "vitest run",
    "build": "tsc && npm publish",
    "deploy": "bash deploy.sh",
    "prepare": "husky install"
  }
}"#;
    let files = MemoryWorkspace::new()
        .with("/ws/package.json", pkg)
        .with("/ws/deploy.sh", DEPLOY);
    let d = check(&files, "npm test");
    assert_eq!(d.tier, Tier::Async, "{:?}", d.reasons);
    assert!(
        has_reason(&d, "package.json scripts.pretest:4: git push origin HEAD"),
        "{:?}",
        d.reasons
    );
    assert_eq!(check(&files, "npm run build").tier, Tier::Sync);
    assert_eq!(check(&files, "yarn build").tier, Tier::Sync);
    assert_eq!(check(&files, "pnpm run build").tier, Tier::Sync);
    assert_eq!(check(&files, "bun run build").tier, Tier::Sync);
    // A script that runs a script: followed.
    let d = check(&files, "npm run deploy");
    assert!(
        has_reason(&d, "deploy.sh:3: terraform apply"),
        "{:?}",
        d.reasons
    );
    assert_eq!(d.tier, Tier::Sync);
    // Scripts run by name by npm-run-all (`run-s`, `run-p`) and concurrently's `npm:NAME`.
    for line in [
        "npm-run-all --parallel test build",
        "run-s build",
        "run-p -l test",
        "concurrently -k npm:build 'vite'",
    ] {
        let d = check(&files, line);
        assert!(d.tier >= Tier::Async, "{line}: {:?}", d.reasons);
    }
    assert_eq!(check(&files, "run-s prepare").tier, Tier::Auto);
    // `yarn add` is the package manager's own command.
    assert_eq!(check(&files, "yarn add lodash").tier, Tier::Auto);
    assert_eq!(check(&files, "npm run lint").tier, Tier::Auto);
}

/// A workspace package named by its package name (`npm run -w api deploy`, `yarn workspace
/// @acme/web deploy`, `pnpm --filter api run deploy`) is found through the root's `workspaces`
/// (or `pnpm-workspace.yaml`) and its scripts read, whatever its directory is called.
#[test]
fn workspace_packages_named_by_their_package_name() {
    let files = MemoryWorkspace::new()
        .with(
            "/ws/package.json",
            r#"{"name": "root", "private": true, "workspaces": ["packages/*", "tools/cli"]}"#,
        )
        .with(
            "/ws/packages/api/package.json",
            r#"{"name": "api", "scripts": {"deploy": "kubectl apply -f k8s/"}}"#,
        )
        .with(
            "/ws/packages/frontend/package.json",
            r#"{"name": "@acme/web", "scripts": {"deploy": "vercel --prod", "lint": "eslint ."}}"#,
        )
        .with(
            "/ws/tools/cli/package.json",
            r#"{"name": "cli", "scripts": {"release": "npm publish"}}"#,
        );
    for (line, tier, reason) in [
        (
            "npm run -w api deploy",
            Tier::Sync,
            "packages/api/package.json scripts.deploy:1: kubectl apply",
        ),
        (
            "npm run deploy --workspace=@acme/web",
            Tier::Sync,
            "packages/frontend/package.json scripts.deploy:1: vercel --prod",
        ),
        (
            "yarn workspace @acme/web deploy",
            Tier::Sync,
            "vercel --prod",
        ),
        ("yarn workspace api run deploy", Tier::Sync, "kubectl apply"),
        (
            "pnpm --filter cli run release",
            Tier::Sync,
            "tools/cli/package.json scripts.release:1: npm publish",
        ),
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, tier, "{line}: {:?}", d.reasons);
        assert!(has_reason(&d, reason), "{line}: {:?}", d.reasons);
    }
    for line in ["yarn workspace @acme/web lint", "npm run -w api lint"] {
        assert_eq!(check(&files, line).tier, Tier::Auto, "{line}");
    }
    // Not a package of this workspace: nothing read, a note says so.
    let d = check(&files, "npm run -w nope deploy");
    assert_eq!(d.tier, Tier::Auto, "{:?}", d.reasons);
    // pnpm's own list of packages.
    let pnpm = MemoryWorkspace::new()
        .with("/ws/package.json", r#"{"name": "root"}"#)
        .with("/ws/pnpm-workspace.yaml", "packages:\n  - 'apps/*'\n")
        .with(
            "/ws/apps/server/package.json",
            r#"{"name": "@acme/server", "scripts": {"migrate": "prisma migrate deploy"}}"#,
        );
    let d = check(&pnpm, "pnpm -F @acme/server run migrate");
    assert_eq!(d.tier, Tier::Sync, "{:?}", d.reasons);
}

#[test]
fn make_recipes_of_the_goal_and_its_prerequisites() {
    let mk = "TF = terraform\n\nall: build\n\nbuild:\n\tcargo build\n\nrelease: build\n\t@$(TF) apply -auto-approve\n\tcargo publish\n";
    let files = MemoryWorkspace::new().with("/ws/Makefile", mk);
    assert_eq!(check(&files, "make").tier, Tier::Auto);
    assert_eq!(check(&files, "make build").tier, Tier::Auto);
    let d = check(&files, "make release");
    assert_eq!(d.tier, Tier::Sync);
    assert!(
        has_reason(&d, "Makefile:9: terraform apply -auto-approve"),
        "{:?}",
        d.reasons
    );
    assert!(
        has_reason(&d, "Makefile:10: cargo publish"),
        "{:?}",
        d.reasons
    );
    // A dry run prints the recipes; only `$(shell …)` and `+` lines run.
    assert_eq!(check(&files, "make -n release").tier, Tier::Auto);
    let files = MemoryWorkspace::new().with("/ws/sub/makefile", "x:\n\tgit push\n");
    assert_eq!(check(&files, "make -C sub x").tier, Tier::Async);
    assert_eq!(check(&files, "cd sub && make x").tier, Tier::Async);
}

#[test]
fn unreadable_or_too_large_keeps_the_command_tier_with_a_note() {
    let big = "echo x\n".repeat(60_000);
    let files = MemoryWorkspace::new().with("/ws/big.sh", format!("{big}git push\n"));
    let d = check(&files, "bash big.sh");
    assert_eq!(d.tier, Tier::Auto);
    assert!(has_reason(&d, "not read ahead"), "{:?}", d.reasons);
    // Missing files and files outside the workspace are not read.
    let d = check(
        &MemoryWorkspace::new().with("/etc/x.sh", "git push\n"),
        "bash /etc/x.sh",
    );
    assert_eq!(d.tier, Tier::Auto);
}

#[test]
fn explain_shows_the_lookahead_trace() {
    let files = MemoryWorkspace::new().with("/ws/deploy.sh", DEPLOY);
    let (d, trace) = Policy::builtin().explain_with(
        &Action::Shell {
            script: "bash deploy.sh".into(),
            cwd: None,
        },
        &ctx(),
        &files,
    );
    assert_eq!(d.tier, Tier::Sync);
    assert!(
        trace
            .iter()
            .any(|t| t.contains("lookahead: reading deploy.sh")),
        "{trace:?}"
    );
    let json = serde_json::to_value(&d).expect("json");
    assert!(
        json["commands"]
            .as_array()
            .expect("commands")
            .iter()
            .any(|c| c["source"] == "deploy.sh:3")
    );
}

#[test]
fn programs_outside_the_workspace_add_no_note() {
    let d = check(&MemoryWorkspace::new(), "/usr/bin/git status");
    assert_eq!(d.commands.len(), 1, "{:?}", d.commands);
}

/// One action reads at most 64 files ahead: a script that runs a hundred scripts is judged
/// by the first 64 and a note, not read without end (the bound is per action, not per file).
#[test]
fn the_number_of_files_read_for_one_action_is_bounded() {
    let mut files = MemoryWorkspace::new();
    let mut all = String::new();
    for i in 0..100 {
        all.push_str(&format!("bash s{i}.sh\n"));
        files = files.with(format!("/ws/s{i}.sh"), "echo hi\n");
    }
    files = files.with("/ws/s99.sh", "git push origin main\n");
    files = files.with("/ws/all.sh", all);
    let d = check(&files, "bash all.sh");
    assert!(
        has_reason(&d, "more than 64 files read ahead"),
        "{:?}",
        d.reasons
    );
    // s99.sh (the push) was beyond the bound: the action keeps the tier of what was read.
    assert_eq!(d.tier, Tier::Auto, "{:?}", d.reasons);
    // Read on its own, it is seen.
    assert_eq!(check(&files, "bash s99.sh").tier, Tier::Async);
}

/// A script names the same paths many times and classification remembers what each came to
/// (per working directory); the decision, its named paths included, is the one worked out path
/// by path, as `explain` does (it takes notes, so it never uses what was remembered).
#[test]
fn remembered_path_verdicts_give_the_same_decision() {
    let script = "\
cat .env
cp target/app /opt/app
cat .env
cp target/app /opt/app
cd sub
cat .env
cp x ../.warden/policy.toml
ssh host 'cp a /etc/app'
ssh host 'cp a /etc/app'
cd /tmp && cat ~/.aws/credentials && cat .env
tee db/migrations/1.sql < x
tee db/migrations/1.sql < x
rm -rf ../../
";
    let files = MemoryWorkspace::new().with("/ws/run.sh", script);
    let action = Action::Shell {
        script: "bash run.sh && cat .env".into(),
        cwd: None,
    };
    let policy = Policy::builtin();
    for sandboxed in [true, false] {
        let ctx = Context { sandboxed, ..ctx() };
        let d = policy.classify_with(&action, &ctx, &files);
        let (explained, _) = policy.explain_with(&action, &ctx, &files);
        assert_eq!(d, explained);
        assert_eq!(d.named, explained.named);
        assert!(d.commands.len() > 13, "{:#?}", d.commands);
        assert!(!d.named.writes_outside.is_empty() && !d.named.reads.is_empty());
    }
}

/// Task runners' named tasks are read like package.json scripts and Makefile targets: `just
/// deploy`, `pixi run deploy`, `hatch run release`, `pdm run migrate`, `devbox run deploy` run
/// what their files define for that name (dependencies first), named by file and line.
#[test]
fn task_runners_tasks_are_read() {
    let files = MemoryWorkspace::new()
        .with(
            "/ws/justfile",
            "build:\n    cargo build\n\ndeploy: build\n    kubectl apply -f k8s/\n",
        )
        .with(
            "/ws/pixi.toml",
            "[tasks]\ndeploy = { cmd = \"terraform apply -auto-approve\" }\nfmt = \"ruff format\"\n",
        )
        .with(
            "/ws/pyproject.toml",
            "[tool.hatch.envs.default.scripts]\nrelease = [\"hatch build\", \"twine upload dist/*\"]\n\
             [tool.pdm.scripts]\nmigrate = \"alembic upgrade head\"\n",
        )
        .with(
            "/ws/devbox.json",
            "{\"shell\": {\"scripts\": {\"deploy\": [\"echo go\", \"git push origin main\"]}}}",
        )
        .with(
            "/ws/Taskfile.yml",
            "version: '3'\ntasks:\n  build: go build ./...\n  release:\n    deps: [build]\n    cmds:\n      - task: ship\n  ship:\n    cmds:\n      - cmd: helm upgrade --install app ./chart\n",
        );
    for (line, tier, reason) in [
        (
            "just deploy",
            Tier::Sync,
            "justfile:5: kubectl apply -f k8s/",
        ),
        (
            "pixi run deploy",
            Tier::Sync,
            "pixi.toml:2: terraform apply",
        ),
        (
            "hatch run release",
            Tier::Sync,
            "pyproject.toml:2: twine upload",
        ),
        (
            "pdm run migrate",
            Tier::Sync,
            "pyproject.toml:4: alembic upgrade head",
        ),
        (
            "devbox run deploy",
            Tier::Async,
            "devbox.json:1: git push origin main",
        ),
        ("task release", Tier::Sync, "Taskfile.yml:10: helm upgrade"),
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, tier, "{line}: {:?}", d.reasons);
        assert!(has_reason(&d, reason), "{line}: {:?}", d.reasons);
    }
    for line in [
        "just build",
        "task build",
        "task --list-all",
        "pixi run fmt",
        "just --list",
        "pixi run python x.py",
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, Tier::Auto, "{line}: {:?}", d.reasons);
    }
}

/// A Python, Node, Ruby or Perl script run by its interpreter (or as `./tool` with such a
/// shebang) is read ahead like a shell script: the processes its code starts with literal
/// commands are judged, named by file and line. A process it computes at run time is left to
/// the run-time exec layer (it was `auto` before, and stays so).
#[test]
fn interpreter_scripts_are_read_for_the_commands_they_start() {
    let files = MemoryWorkspace::new()
        .with(
            "/ws/tool.py",
            "import subprocess\n\n# Ship it.\nsubprocess.run(['git', 'push', 'origin', 'main'])\n",
        )
        .with(
            "/ws/deploy.js",
            "const cp = require('child_process');\ncp.execSync('terraform apply -auto-approve');\n",
        )
        .with(
            "/ws/bin/wipe",
            "#!/usr/bin/env python3\nimport os\nos.system('kubectl delete namespace prod')\n",
        )
        .with(
            "/ws/dynamic.py",
            "import os, subprocess\nsubprocess.run(os.environ['CMD'].split())\n",
        )
        .with("/ws/plain.py", "print('hello')\n")
        .with(
            "/ws/deploy.ts",
            "import { execSync } from 'node:child_process';\nconst env: string = 'prod';\n\
             execSync('kubectl apply -f k8s/');\n",
        );
    for (line, tier, reason) in [
        (
            "uv run tool.py",
            Tier::Async,
            "tool.py:4: git push origin main",
        ),
        ("tsx deploy.ts", Tier::Sync, "deploy.ts:3: kubectl apply"),
        // Runners that hand the file to an interpreter.
        (
            "npx tsx deploy.ts",
            Tier::Sync,
            "deploy.ts:3: kubectl apply",
        ),
        (
            "pnpm dlx tsx deploy.ts",
            Tier::Sync,
            "deploy.ts:3: kubectl apply",
        ),
        (
            "bun run deploy.ts",
            Tier::Sync,
            "deploy.ts:3: kubectl apply",
        ),
        ("bun deploy.js", Tier::Sync, "deploy.js:2: terraform apply"),
        (
            "deno run -A deploy.ts",
            Tier::Sync,
            "deploy.ts:3: kubectl apply",
        ),
        ("pipx run tool.py", Tier::Async, "tool.py:4: git push"),
        (
            "python3 tool.py",
            Tier::Async,
            "tool.py:4: git push origin main",
        ),
        (
            "python -u tool.py --dry",
            Tier::Async,
            "tool.py:4: git push",
        ),
        ("node deploy.js", Tier::Sync, "deploy.js:2: terraform apply"),
        (
            "./bin/wipe",
            Tier::Sync,
            "bin/wipe:3: kubectl delete namespace prod",
        ),
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, tier, "{line}: {:?}", d.reasons);
        assert!(has_reason(&d, reason), "{line}: {:?}", d.reasons);
    }
    for line in [
        "python3 dynamic.py",
        "python3 plain.py",
        "python3 -m tool",
        "python3 -c 'print(1)'",
        "npx eslint deploy.js",
        "deno fmt deploy.ts",
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, Tier::Auto, "{line}: {:?}", d.reasons);
    }
}

/// A script named by a shell glob is each file the glob matches, as the shell expands it:
/// `bash *.sh` runs one of them, a loop over `scripts/*.sh` every one (both were `auto`: the
/// file literally named `*.sh` does not exist).
#[test]
fn a_script_named_by_a_glob_is_each_file_it_matches() {
    let files = MemoryWorkspace::new()
        .with("/ws/scripts/build.sh", "make all\n")
        .with("/ws/scripts/deploy.sh", DEPLOY)
        .with("/ws/scripts/.hidden.sh", "git push --force\n")
        .with(
            "/ws/tool_push.py",
            "import os\nos.system('git push origin main')\n",
        );
    for line in [
        "bash scripts/*.sh",
        "for s in scripts/*.sh; do sh \"$s\"; done",
        "sh scripts/d?ploy.sh",
        "bash scripts/[d]eploy.sh",
    ] {
        let d = check(&files, line);
        assert_eq!(d.tier, Tier::Sync, "{line}: {:?}", d.reasons);
        assert!(
            has_reason(&d, "scripts/deploy.sh:3: terraform apply"),
            "{line}: {:?}",
            d.reasons
        );
    }
    let d = check(&files, "python3 tool_*.py");
    assert_eq!(d.tier, Tier::Async, "{:?}", d.reasons);
    // The shell's `*` does not match a leading dot: the hidden script is not run.
    let d = check(&files, "bash scripts/*build.sh");
    assert_eq!(d.tier, Tier::Auto, "{:?}", d.reasons);
    let d = check(&files, "bash scripts/.*.sh");
    assert_eq!(d.tier, Tier::Sync, "{:?}", d.reasons);
    // No match: the word itself, which does not exist (as before).
    let d = check(&files, "bash scripts/none*.sh");
    assert_eq!(d.tier, Tier::Auto, "{:?}", d.reasons);
    // More matches than are read ahead: noted as not read, judged by the command alone.
    let mut many = MemoryWorkspace::new();
    for i in 0..9 {
        many = many.with(format!("/ws/s/{i}.sh"), "echo\n");
    }
    let d = check(&many, "bash s/*.sh");
    assert!(has_reason(&d, "more than 8"), "{:?}", d.reasons);
}
