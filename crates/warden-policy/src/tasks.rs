//! Task runners' named tasks, for lookahead: `just RECIPE`, `pixi run TASK`, `hatch run
//! [ENV:]SCRIPT`, `pdm run SCRIPT`, `devbox run SCRIPT` and `task NAME` run the shell lines their files define
//! for that name (and the tasks it depends on). The files are parsed here; nothing is run.
//!
//! | runner | file | tasks |
//! |---|---|---|
//! | `just` | `justfile` (`Justfile`, `.justfile`; `-f`, `-d`) | a recipe's indented lines (`@`, `-` prefixes dropped), its dependencies first; the first recipe when none is named |
//! | `pixi run` | `pixi.toml` `[tasks]`, `pyproject.toml` `[tool.pixi.tasks]` | `NAME = "cmd"` or `{ cmd = …, depends-on = […] }` |
//! | `hatch run` | `hatch.toml` `[envs.ENV.scripts]`, `pyproject.toml` `[tool.hatch.envs.ENV.scripts]` | `NAME = "cmd"` or a list of commands (`ENV:NAME`; `default` otherwise) |
//! | `pdm run` | `pyproject.toml` `[tool.pdm.scripts]` | `NAME = "cmd"`, `{ cmd = … }`, `{ shell = … }`, `{ composite = [names] }` |
//! | `devbox run` | `devbox.json` `shell.scripts` | `NAME: "cmd"` or a list of commands |
//! | `task` (go-task) | `Taskfile.yml` (`taskfile.yml`, `.yaml`, `.dist.yml`; `-t`, `-d`) | `tasks.NAME`: a command, a list, or `cmds` (`cmd:`, `task:` calls), `deps`, `preconditions`' and `status`' commands, `sh:` variables (the task's and the file's); `default` when none is named |

use std::path::{Path, PathBuf};

/// A task runner whose named tasks lookahead reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runner {
    Just,
    Pixi,
    Hatch,
    Pdm,
    Devbox,
    Task,
}

/// What a task runner command asks to run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Tasks {
    pub(crate) runner: Runner,
    /// Where the runner looks for its file.
    pub(crate) dir: PathBuf,
    /// The file named on the command line, if any.
    pub(crate) file: Option<PathBuf>,
    /// The task names asked for (empty: `just`'s default recipe).
    pub(crate) names: Vec<String>,
}

impl Runner {
    /// The files it reads its tasks from, in the order it looks.
    pub(crate) fn files(self) -> &'static [&'static str] {
        match self {
            Runner::Just => &["justfile", "Justfile", ".justfile", "JUSTFILE"],
            Runner::Pixi => &["pixi.toml", "pyproject.toml"],
            Runner::Hatch => &["hatch.toml", "pyproject.toml"],
            Runner::Pdm => &["pyproject.toml"],
            Runner::Devbox => &["devbox.json"],
            Runner::Task => &[
                "Taskfile.yml",
                "taskfile.yml",
                "Taskfile.yaml",
                "taskfile.yaml",
                "Taskfile.dist.yml",
                "taskfile.dist.yml",
                "Taskfile.dist.yaml",
                "taskfile.dist.yaml",
            ],
        }
    }
}

/// The tasks a command runs (`argv` of `program`, in `cwd`), when it is a task runner's.
pub(crate) fn target(argv: &[String], program: &str, cwd: &Path) -> Option<Tasks> {
    let runner = match program {
        "just" => Runner::Just,
        "pixi" => Runner::Pixi,
        "hatch" => Runner::Hatch,
        "pdm" => Runner::Pdm,
        "devbox" => Runner::Devbox,
        "task" | "go-task" => Runner::Task,
        _ => return None,
    };
    let mut dir = cwd.to_path_buf();
    let mut file = None;
    let mut words: Vec<&str> = Vec::new();
    let (file_options, dir_options, valued): (&[&str], &[&str], &[&str]) = match runner {
        Runner::Just => (
            &["-f", "--justfile"],
            &["-d", "--working-directory"],
            &[
                "--set",
                "--shell",
                "--shell-arg",
                "--color",
                "--dotenv-filename",
                "--dotenv-path",
                "--command-color",
                "--chooser",
                "--list-heading",
                "--list-prefix",
            ],
        ),
        Runner::Pixi => (&["--manifest-path"], &[], &["-e", "--environment"]),
        Runner::Pdm => (&[], &["-p", "--project"], &["-e", "--venv"]),
        Runner::Devbox => (&[], &["-c", "--config"], &["-e", "--env", "--env-file"]),
        Runner::Hatch => (&[], &[], &["-e", "--env"]),
        Runner::Task => (
            &["-t", "--taskfile"],
            &["-d", "--dir"],
            &[
                "-o",
                "--output",
                "-C",
                "--concurrency",
                "-I",
                "--interval",
                "--sort",
            ],
        ),
    };
    let mut i = 1;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            break;
        }
        let value = argv.get(i + 1).map(String::as_str);
        if file_options.contains(&a) {
            file = value.map(|f| crate::paths::normalise(&cwd.join(f)));
            i += 2;
            continue;
        }
        if dir_options.contains(&a) {
            if let Some(d) = value {
                dir = crate::paths::normalise(&cwd.join(d));
            }
            i += 2;
            continue;
        }
        if valued.contains(&a) {
            // `just --set VAR VALUE` takes two.
            i += if a == "--set" { 3 } else { 2 };
            continue;
        }
        if a.starts_with('-') {
            // Listing, showing or a dry run runs nothing of the file.
            let lists = [
                "-l",
                "--list",
                "--summary",
                "-s",
                "--show",
                "-n",
                "--dry-run",
                "--evaluate",
                "--dump",
                "--help",
                "-h",
                "--version",
                "--choose",
                "--fmt",
                "--init",
                // go-task's.
                "-a",
                "--list-all",
                "--dry",
                "-i",
                "--json",
            ];
            if lists.contains(&a) {
                return None;
            }
            i += 1;
            continue;
        }
        words.push(a);
        i += 1;
    }
    let names: Vec<String> = match runner {
        // `just [VAR=VALUE…] RECIPE [ARGS|RECIPE…]`, `task [VAR=VALUE…] TASK…`: any word may
        // name a task.
        Runner::Just | Runner::Task => words
            .iter()
            .filter(|w| !w.contains('='))
            .map(|w| w.to_string())
            .collect(),
        // `RUNNER run NAME [ARGS]`: only `run` reads a task.
        _ => match words.as_slice() {
            ["run", name, ..] => vec![name.to_string()],
            _ => return None,
        },
    };
    Some(Tasks {
        runner,
        dir,
        file,
        names,
    })
}

/// One task's commands: (line of the file, shell text).
type Lines = Vec<(usize, String)>;

/// The shell text `t` runs, from the text of its file (`name` is the file's name), dependencies
/// first; tasks not defined there are left out (the runner then runs them as commands, which
/// the analysis already judges).
pub(crate) fn commands(t: &Tasks, file_name: &str, text: &str) -> Result<Lines, String> {
    let mut out = Vec::new();
    let mut seen: Vec<String> = Vec::new();
    let names = if t.names.is_empty() {
        match t.runner {
            Runner::Just => just_recipes(text)
                .into_iter()
                .next()
                .map(|r| r.name)
                .into_iter()
                .collect(),
            Runner::Task => vec!["default".to_string()],
            _ => Vec::new(),
        }
    } else {
        t.names.clone()
    };
    for name in names {
        task(t.runner, file_name, text, &name, &mut seen, &mut out)?;
    }
    Ok(out)
}

fn task(
    runner: Runner,
    file_name: &str,
    text: &str,
    name: &str,
    seen: &mut Vec<String>,
    out: &mut Lines,
) -> Result<(), String> {
    if seen.iter().any(|s| s == name) || seen.len() > 64 {
        return Ok(());
    }
    seen.push(name.to_string());
    let (deps, lines) = match runner {
        Runner::Just => match just_recipes(text)
            .into_iter()
            .find(|r| r.name == name || r.aliases.iter().any(|a| a == name))
        {
            Some(r) => (r.deps, r.lines),
            None => return Ok(()),
        },
        Runner::Devbox => devbox_script(text, name)?,
        Runner::Task => taskfile_task(file_name, text, name, seen.len() == 1)?,
        _ => toml_task(runner, file_name, text, name)?,
    };
    for d in deps {
        task(runner, file_name, text, &d, seen, out)?;
    }
    out.extend(lines);
    Ok(())
}

/// A justfile recipe.
#[derive(Debug, Default)]
struct Recipe {
    name: String,
    aliases: Vec<String>,
    deps: Vec<String>,
    lines: Lines,
}

/// The recipes of a justfile, in order, with their aliases.
fn just_recipes(text: &str) -> Vec<Recipe> {
    let mut recipes: Vec<Recipe> = Vec::new();
    let mut aliases: Vec<(String, String)> = Vec::new();
    let mut current: Option<Recipe> = None;
    for (n, line) in text.lines().enumerate() {
        let indented = line.starts_with([' ', '\t']);
        if indented {
            if let Some(r) = &mut current {
                let body = line.trim_start().trim_start_matches(['@', '-']);
                if !body.is_empty() && !body.starts_with('#') || body.starts_with("#!") {
                    r.lines.push((n + 1, body.to_string()));
                }
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        recipes.extend(current.take());
        let l = line.trim_end();
        if l.starts_with('#') || l.starts_with('[') {
            continue;
        }
        if let Some(rest) = l.strip_prefix("alias ")
            && let Some((a, target)) = rest.split_once(":=")
        {
            aliases.push((a.trim().to_string(), target.trim().to_string()));
            continue;
        }
        let Some(colon) = l.find(':') else { continue };
        if l[colon + 1..].starts_with('=')
            || ["set ", "export ", "import ", "mod "]
                .iter()
                .any(|k| l.starts_with(k))
        {
            continue;
        }
        let head = &l[..colon];
        let Some(name) = head.split_whitespace().next() else {
            continue;
        };
        let deps = l[colon + 1..]
            .split_whitespace()
            .filter(|w| *w != "&&")
            .map(|w| w.trim_start_matches('(').trim_end_matches(')').to_string())
            .filter(|w| !w.is_empty() && !w.starts_with(['"', '\'']))
            .collect();
        current = Some(Recipe {
            name: name.trim_start_matches('@').to_string(),
            deps,
            ..Recipe::default()
        });
    }
    recipes.extend(current);
    for r in &mut recipes {
        r.aliases = aliases
            .iter()
            .filter(|(_, t)| *t == r.name)
            .map(|(a, _)| a.clone())
            .collect();
        // A shebang recipe is a script in that interpreter: only a shell's is shell text.
        if let Some((_, first)) = r.lines.first()
            && let Some(interp) = first.strip_prefix("#!")
        {
            let shell = interp
                .split_whitespace()
                .find(|w| *w != "/usr/bin/env" && !w.starts_with('-'))
                .is_some_and(|i| {
                    ["sh", "bash", "zsh", "dash", "ksh"]
                        .contains(&i.rsplit('/').next().unwrap_or(i))
                });
            if shell {
                r.lines.remove(0);
            } else {
                r.lines.clear();
            }
        }
    }
    recipes
}

/// A task from a TOML file: its dependencies and commands.
fn toml_task(
    runner: Runner,
    file_name: &str,
    text: &str,
    name: &str,
) -> Result<(Vec<String>, Lines), String> {
    let doc: toml::Table = toml::from_str(text).map_err(|e| format!("{file_name}: {e}"))?;
    let pyproject = file_name.ends_with("pyproject.toml");
    let path: Vec<&str> = match runner {
        Runner::Pixi if pyproject => vec!["tool", "pixi", "tasks"],
        Runner::Pixi => vec!["tasks"],
        Runner::Pdm => vec!["tool", "pdm", "scripts"],
        Runner::Hatch => {
            let (env, _) = name.split_once(':').unwrap_or(("default", name));
            if pyproject {
                vec!["tool", "hatch", "envs", env, "scripts"]
            } else {
                vec!["envs", env, "scripts"]
            }
        }
        Runner::Just | Runner::Devbox | Runner::Task => return Ok((Vec::new(), Vec::new())),
    };
    let key = match runner {
        Runner::Hatch => name.split_once(':').map_or(name, |(_, n)| n),
        _ => name,
    };
    let mut table = &doc;
    for p in &path {
        match table.get(*p).and_then(toml::Value::as_table) {
            Some(t) => table = t,
            None => return Ok((Vec::new(), Vec::new())),
        }
    }
    let Some(value) = table.get(key) else {
        return Ok((Vec::new(), Vec::new()));
    };
    let line = line_of(text, key);
    let words = |v: &toml::Value| -> Option<String> {
        match v {
            toml::Value::String(s) => Some(s.clone()),
            toml::Value::Array(a) => Some(
                a.iter()
                    .filter_map(toml::Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            _ => None,
        }
    };
    let names = |v: Option<&toml::Value>| -> Vec<String> {
        v.and_then(toml::Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                d.as_str().map(str::to_owned).or_else(|| {
                    d.get("task")
                        .and_then(toml::Value::as_str)
                        .map(str::to_owned)
                })
            })
            .collect()
    };
    Ok(match (runner, value) {
        (_, toml::Value::String(s)) => (Vec::new(), vec![(line, s.clone())]),
        // hatch: a list of commands, each run in turn.
        (Runner::Hatch, toml::Value::Array(cmds)) => (
            Vec::new(),
            cmds.iter()
                .filter_map(toml::Value::as_str)
                .map(|c| (line, c.to_owned()))
                .collect(),
        ),
        (_, toml::Value::Array(words_)) => (
            Vec::new(),
            vec![(
                line,
                words(&toml::Value::Array(words_.clone())).unwrap_or_default(),
            )],
        ),
        (_, toml::Value::Table(t)) => {
            let deps = names(t.get("depends-on").or_else(|| t.get("depends_on")))
                .into_iter()
                .chain(names(t.get("composite")))
                .collect();
            let cmd = t.get("cmd").or_else(|| t.get("shell")).and_then(words);
            (deps, cmd.map(|c| (line, c)).into_iter().collect())
        }
        _ => (Vec::new(), Vec::new()),
    })
}

/// A devbox.json script: its commands.
fn devbox_script(text: &str, name: &str) -> Result<(Vec<String>, Lines), String> {
    let json: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("devbox.json: {e}"))?;
    let line = line_of(text, name);
    let lines = match json.pointer("/shell/scripts").and_then(|s| s.get(name)) {
        Some(serde_json::Value::String(s)) => vec![(line, s.clone())],
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .filter_map(|c| c.as_str())
            .map(|c| (line, c.to_owned()))
            .collect(),
        _ => Vec::new(),
    };
    Ok((Vec::new(), lines))
}

/// A task of a Taskfile: the tasks it runs (`deps`, `task:` calls) and the shell it runs itself
/// (`cmds`, `preconditions`, `status`, its `sh:` variables; with `first`, the file's own `sh:`
/// variables too, which go-task evaluates for any task).
fn taskfile_task(
    file_name: &str,
    text: &str,
    name: &str,
    first: bool,
) -> Result<(Vec<String>, Lines), String> {
    use yaml_rust2::Yaml;
    let docs =
        yaml_rust2::YamlLoader::load_from_str(text).map_err(|e| format!("{file_name}: {e}"))?;
    let Some(doc) = docs.first() else {
        return Ok((Vec::new(), Vec::new()));
    };
    let task = &doc["tasks"][name];
    let at = line_of(text, name);
    let mut lines: Lines = Vec::new();
    let mut deps: Vec<String> = Vec::new();
    // The line of a command: the first one holding its first line, from `from` on.
    let line_from = |from: usize, s: &str| {
        let first_line = s.lines().next().unwrap_or(s).trim();
        text.lines()
            .enumerate()
            .skip(from.saturating_sub(1))
            .find(|(_, l)| l.contains(first_line))
            .map_or(from, |(n, _)| n + 1)
    };
    let sh_vars = |vars: &Yaml, from: usize, lines: &mut Lines| {
        for (_, v) in vars.as_hash().into_iter().flatten() {
            if let Some(s) = v["sh"].as_str() {
                lines.push((line_from(from, s), s.to_string()));
            }
        }
    };
    let shell = |s: &str, lines: &mut Lines| lines.push((line_from(at, s), s.to_string()));
    if first {
        sh_vars(&doc["vars"], 1, &mut lines);
    }
    let task_name = |v: &Yaml| v.as_str().or_else(|| v["task"].as_str()).map(str::to_owned);
    let cmds: Vec<&Yaml> = match task {
        Yaml::BadValue => return Ok((Vec::new(), lines)),
        // `NAME: cmd` and `NAME: [cmd, …]`.
        Yaml::String(_) => vec![task],
        Yaml::Array(a) => a.iter().collect(),
        _ => {
            sh_vars(&task["vars"], at, &mut lines);
            deps.extend(
                task["deps"]
                    .as_vec()
                    .into_iter()
                    .flatten()
                    .filter_map(task_name),
            );
            for p in task["preconditions"].as_vec().into_iter().flatten() {
                if let Some(s) = p.as_str().or_else(|| p["sh"].as_str()) {
                    shell(s, &mut lines);
                }
            }
            for s in task["status"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(Yaml::as_str)
            {
                shell(s, &mut lines);
            }
            task["cmds"]
                .as_vec()
                .map(|c| c.iter().collect())
                .unwrap_or_else(|| vec![&task["cmd"]])
        }
    };
    for c in cmds {
        if let Some(s) = c
            .as_str()
            .or_else(|| c["cmd"].as_str())
            .or_else(|| c["defer"].as_str())
        {
            shell(s, &mut lines);
        } else if let Some(t) = c["task"].as_str().or_else(|| c["defer"]["task"].as_str()) {
            deps.push(t.to_string());
        }
    }
    Ok((deps, lines))
}

/// The line where `key` is first defined (`key =`, `"key":`), for reasons; 1 when not found.
fn line_of(text: &str, key: &str) -> usize {
    text.lines()
        .position(|l| {
            let l = l.trim_start().trim_start_matches(['"', '\'']);
            l.strip_prefix(key)
                .map(|r| r.trim_start_matches(['"', '\'']).trim_start())
                .is_some_and(|r| r.starts_with('=') || r.starts_with(':'))
        })
        .map_or(1, |i| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(runner: Runner, names: &[&str], file: &str, text: &str) -> Lines {
        let t = Tasks {
            runner,
            dir: "/w".into(),
            file: None,
            names: names.iter().map(|n| n.to_string()).collect(),
        };
        commands(&t, file, text).unwrap()
    }

    #[test]
    fn targets() {
        let cwd = Path::new("/w");
        let t = target(&argv("just -f ops/justfile deploy prod"), "just", cwd).unwrap();
        assert_eq!(t.file, Some(PathBuf::from("/w/ops/justfile")));
        assert_eq!(t.names, ["deploy", "prod"]);
        assert_eq!(target(&argv("just --list"), "just", cwd), None);
        let t = target(&argv("pixi run -e prod deploy --now"), "pixi", cwd).unwrap();
        assert_eq!(t.names, ["deploy"]);
        assert_eq!(target(&argv("pixi install"), "pixi", cwd), None);
        let t = target(&argv("devbox run -c infra deploy"), "devbox", cwd).unwrap();
        assert_eq!(t.dir, PathBuf::from("/w/infra"));
        let t = target(
            &argv("task -d ops ENV=prod deploy notify -- -v"),
            "task",
            cwd,
        )
        .unwrap();
        assert_eq!(
            (t.dir, t.names),
            (
                PathBuf::from("/w/ops"),
                vec!["deploy".to_string(), "notify".to_string()]
            )
        );
        assert_eq!(target(&argv("task --list-all"), "task", cwd), None);
    }

    #[test]
    fn justfile_recipes_with_dependencies_aliases_and_shebangs() {
        let text = "set shell := [\"bash\", \"-c\"]\nversion := \"1\"\n\n# Build first.\nbuild:\n    cargo build\n\ndeploy env='prod': build\n    @echo deploying {{env}}\n    -kubectl apply -f k8s/\nalias d := deploy\n\npy:\n    #!/usr/bin/env python3\n    import os\n\nsh:\n    #!/usr/bin/env bash\n    git push\n";
        assert_eq!(
            run(Runner::Just, &["d"], "justfile", text),
            [
                (6, "cargo build".to_string()),
                (9, "echo deploying {{env}}".to_string()),
                (10, "kubectl apply -f k8s/".to_string())
            ]
        );
        assert!(run(Runner::Just, &["py"], "justfile", text).is_empty());
        assert_eq!(
            run(Runner::Just, &["sh"], "justfile", text),
            [(19, "git push".to_string())]
        );
        // No recipe named: the first one.
        assert_eq!(
            run(Runner::Just, &[], "justfile", text),
            [(6, "cargo build".to_string())]
        );
    }

    #[test]
    fn toml_and_json_tasks() {
        let pixi = "[tasks]\nbuild = \"cargo build\"\ndeploy = { cmd = \"kubectl apply -f k8s\", depends-on = [\"build\"] }\n";
        assert_eq!(
            run(Runner::Pixi, &["deploy"], "pixi.toml", pixi),
            [
                (2, "cargo build".to_string()),
                (3, "kubectl apply -f k8s".to_string())
            ]
        );
        let hatch = "[tool.hatch.envs.default.scripts]\nrelease = [\"hatch build\", \"twine upload dist/*\"]\n[tool.hatch.envs.ops.scripts]\nship = \"git push\"\n";
        assert_eq!(
            run(Runner::Hatch, &["release"], "pyproject.toml", hatch),
            [
                (2, "hatch build".to_string()),
                (2, "twine upload dist/*".to_string())
            ]
        );
        assert_eq!(
            run(Runner::Hatch, &["ops:ship"], "pyproject.toml", hatch),
            [(4, "git push".to_string())]
        );
        let pdm = "[tool.pdm.scripts]\nmigrate = {shell = \"alembic upgrade head\"}\nall = {composite = [\"migrate\"]}\n";
        assert_eq!(
            run(Runner::Pdm, &["all"], "pyproject.toml", pdm),
            [(2, "alembic upgrade head".to_string())]
        );
        let devbox = "{\"shell\": {\"scripts\": {\"deploy\": [\"terraform apply\", \"echo ok\"]}}}";
        assert_eq!(
            run(Runner::Devbox, &["deploy"], "devbox.json", devbox),
            [
                (1, "terraform apply".to_string()),
                (1, "echo ok".to_string())
            ]
        );
        let taskfile = "version: '3'\nvars:\n  REV:\n    sh: git rev-parse HEAD\ntasks:\n  default:\n    deps: [build]\n  build: go build ./...\n  deploy:\n    deps:\n      - task: build\n    preconditions:\n      - sh: test -f k8s/app.yaml\n    cmds:\n      - kubectl apply -f k8s/\n      - cmd: |\n          helm upgrade app ./chart\n          echo done\n      - task: notify\n  notify:\n    - curl -X POST https://hooks.example.invalid/x\n";
        assert_eq!(
            run(Runner::Task, &["deploy"], "Taskfile.yml", taskfile),
            // Tasks it runs first (`deps`, `task:` calls), then its own lines.
            [
                (8, "go build ./...".to_string()),
                (
                    21,
                    "curl -X POST https://hooks.example.invalid/x".to_string()
                ),
                (4, "git rev-parse HEAD".to_string()),
                (13, "test -f k8s/app.yaml".to_string()),
                (15, "kubectl apply -f k8s/".to_string()),
                (17, "helm upgrade app ./chart\necho done\n".to_string()),
            ]
        );
        // No task named: `default`.
        assert_eq!(
            run(Runner::Task, &[], "Taskfile.yml", taskfile),
            [
                (8, "go build ./...".to_string()),
                (4, "git rev-parse HEAD".to_string())
            ]
        );
        // Not defined: nothing (the runner runs it as a command).
        assert!(run(Runner::Pixi, &["nope"], "pixi.toml", pixi).is_empty());
    }
}
