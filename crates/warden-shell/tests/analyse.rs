//! Behavioural tests of the analyser: every construct the policy relies on, plus adversarial
//! spellings that try to hide a command from it.

mod common;

use common::{argvs, check_invariants, cmds, find, has, only};
use warden_shell::{MAX_DEPTH, analyse_argv, analyse_shell};

fn v(xs: &[&str]) -> Vec<String> {
    xs.iter().map(|s| s.to_string()).collect()
}

// ---------------------------------------------------------------- words and spelling

#[test]
fn plain_command_and_span() {
    let a = analyse_shell("git push origin main");
    assert_eq!(argvs(&a), vec![v(&["git", "push", "origin", "main"])]);
    let c = &a.commands[0];
    assert_eq!((c.span.start, c.span.end), (0, 20));
    assert!(c.wrappers.is_empty() && !c.dynamic && !c.elevated && c.cwd.is_none());
    assert!(a.opaque.is_empty());
}

#[test]
fn quoting_tricks_resolve_to_git() {
    for s in [
        "\\git push",
        "g\"i\"t push",
        "g'i't push",
        "\"g\"\"it\" push",
        "gi\\t push",
        "$'\\x67it' push",
        "$'\\147it' push",
        "$'\\u0067it' push",
        "$\"git\" push",
        "'git' 'push'",
    ] {
        assert_eq!(cmds(s), vec![v(&["git", "push"])], "{s}");
    }
}

#[test]
fn ansi_c_escapes_decoded() {
    let c = only(r"echo $'a\047b\nc\u00e9\x41'", &["echo", "a'b\ncéA"]);
    assert!(!c.dynamic);
}

#[test]
fn absolute_and_relative_program_paths_kept() {
    assert_eq!(
        cmds("/usr/bin/git push"),
        vec![v(&["/usr/bin/git", "push"])]
    );
    assert_eq!(
        cmds("./node_modules/.bin/eslint ."),
        vec![v(&["./node_modules/.bin/eslint", "."])]
    );
}

#[test]
fn globs_and_tilde_stay_literal_home_becomes_tilde() {
    let c = only(
        "ls *.txt ~/x ~ $HOME/y ${HOME}/z \"$HOME\"",
        &["ls", "*.txt", "~/x", "~", "~/y", "~/z", "~"],
    );
    assert!(!c.dynamic);
}

#[test]
fn variables_are_dynamic_and_keep_source() {
    let c = only("rm -rf $DIR/${SUB}", &["rm", "-rf", "$DIR/${SUB}"]);
    assert!(c.dynamic);
    // HOME not at the start of a word is not rewritten.
    let c = only("echo x$HOME", &["echo", "x$HOME"]);
    assert!(c.dynamic);
}

#[test]
fn brace_expansion_small_expands_large_is_dynamic() {
    let c = only("rm a{b,c}.txt", &["rm", "ab.txt", "ac.txt"]);
    assert!(!c.dynamic);
    assert!(has(
        &analyse_shell("touch f{1..3}"),
        &["touch", "f1", "f2", "f3"]
    ));
    let a = analyse_shell("touch f{1..100000}");
    assert!(a.commands[0].dynamic);
    // Quoted braces are not expanded.
    assert_eq!(cmds("echo '{a,b}'"), vec![v(&["echo", "{a,b}"])]);
}

#[test]
fn dynamic_program_name_is_opaque() {
    for s in [
        "$CMD push",
        "$(echo git) push",
        "`echo git` push",
        "${X} push",
        "\"$C\"",
    ] {
        let a = analyse_shell(s);
        assert!(!a.opaque.is_empty(), "{s}: {a:#?}");
        assert!(!has(&a, &["git", "push"]), "{s}");
    }
    // The substitution in the name still runs and is reported.
    assert!(has(&analyse_shell("$(echo git) push"), &["echo", "git"]));
}

// ---------------------------------------------------------------- compounds

#[test]
fn lists_pipelines_and_background() {
    assert_eq!(
        cmds("a && b || c; d | e & f; ! g"),
        vec![
            v(&["a"]),
            v(&["b"]),
            v(&["c"]),
            v(&["d"]),
            v(&["e"]),
            v(&["f"]),
            v(&["g"])
        ]
    );
}

#[test]
fn subshells_groups_and_control_flow() {
    let a = analyse_shell(
        "(a; b) && { c; d; }; if e; then f; elif g; then h; else i; fi; \
         while j; do k; done; until l; do m; done; for x in 1 2; do n $x; done; \
         case $y in p) o;; *) q;; esac; for ((i=0;i<3;i++)); do r; done",
    );
    for name in [
        "a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k", "l", "m", "o", "q", "r",
    ] {
        assert!(has(&a, &[name]), "{name} missing: {a:#?}");
    }
    assert!(find(&a, &["n", "$x"]).dynamic);
}

#[test]
fn function_bodies_are_analysed() {
    let a = analyse_shell("deploy() { git push --force; }; deploy");
    assert!(has(&a, &["git", "push", "--force"]));
    let a = analyse_shell("function f { rm -rf /; }");
    assert!(has(&a, &["rm", "-rf", "/"]));
}

#[test]
fn command_substitutions_everywhere() {
    let cases: &[(&str, &[&str])] = &[
        ("echo $(git push)", &["git", "push"]),
        ("echo `git push`", &["git", "push"]),
        ("echo \"x $(git push) y\"", &["git", "push"]),
        ("X=$(git push)", &["git", "push"]),
        ("export X=$(git push)", &["git", "push"]),
        ("local X=`git push`", &["git", "push"]),
        ("cat > $(git push)", &["git", "push"]),
        ("diff <(git push) >(wc)", &["git", "push"]),
        ("echo $((1 + $(git push)))", &["git", "push"]),
        ("[[ $(git push) == x ]]", &["git", "push"]),
        ("test -n \"$(git push)\"", &["git", "push"]),
        ("echo ${X:-$(git push)}", &["git", "push"]),
        ("for f in $(git push); do :; done", &["git", "push"]),
        ("case $(git push) in *) ;; esac", &["git", "push"]),
        ("echo $(echo $(git push))", &["git", "push"]),
        ("echo `echo \\`git push\\``", &["git", "push"]),
    ];
    for (s, want) in cases {
        let a = analyse_shell(s);
        assert!(has(&a, want), "{s}: {a:#?}");
        check_invariants(s, &a);
    }
}

#[test]
fn substitution_result_makes_argument_dynamic() {
    let c = only("rm $(cat list)", &["rm", "$(cat list)"]);
    assert!(c.dynamic);
}

// ---------------------------------------------------------------- redirections

#[test]
fn redirections_to_files() {
    let c = only(
        "cmd > a >> b >| c &> d &>> e 2> f 3> g < h 2>&1 >&2 > /dev/null 2>/dev/stderr",
        &["cmd"],
    );
    assert_eq!(c.writes, v(&["a", "b", "c", "d", "e", "f", "g"]));
    assert_eq!(c.reads, v(&["h"]));
}

#[test]
fn redirect_targets_kept_as_written() {
    let c = only("echo x > ~/.bashrc", &["echo", "x"]);
    assert_eq!(c.writes, v(&["~/.bashrc"]));
    let c = only("echo x > \"$HOME/.ssh/authorized_keys\"", &["echo", "x"]);
    assert_eq!(c.writes, v(&["~/.ssh/authorized_keys"]));
}

#[test]
fn redirect_before_command_and_args_after_redirect() {
    let c = only(">out cmd a 2>err b", &["cmd", "a", "b"]);
    assert_eq!(c.writes, v(&["out", "err"]));
}

#[test]
fn redirect_in_list_applies_to_last_command() {
    let a = analyse_shell("a && b > f");
    assert!(find(&a, &["a"]).writes.is_empty());
    assert_eq!(find(&a, &["b"]).writes, v(&["f"]));
}

#[test]
fn redirect_on_group_applies_to_all() {
    let a = analyse_shell("{ a; b; } > f");
    assert_eq!(find(&a, &["a"]).writes, v(&["f"]));
    assert_eq!(find(&a, &["b"]).writes, v(&["f"]));
}

#[test]
fn bare_redirection_is_reported() {
    let a = analyse_shell("> /etc/passwd");
    assert_eq!(a.commands.len(), 1);
    assert_eq!(a.commands[0].writes, v(&["/etc/passwd"]));
}

#[test]
fn tee_writes() {
    let a = analyse_shell("echo x | tee -a log.txt ~/.profile /dev/null");
    assert_eq!(
        find(&a, &["tee", "-a", "log.txt", "~/.profile", "/dev/null"]).writes,
        v(&["log.txt", "~/.profile"])
    );
    let a = analyse_shell("echo x | sudo tee /etc/hosts");
    let c = find(&a, &["tee", "/etc/hosts"]);
    assert_eq!(c.writes, v(&["/etc/hosts"]));
    assert!(c.elevated);
}

/// `! bash -c 2>&1 push`: the negation and the redirection before the script do not hide the
/// command the script runs (the property test's own reading of the tree once missed it).
#[test]
fn negated_shell_with_a_redirection_before_its_script() {
    let a = analyse_shell("! bash -c 2>&1 'git push'");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["bash -c"]));
}

/// `rg --pre PROG` and `--hostname-bin PROG` run PROG (for every file searched): it is reported
/// as a command of its own, labelled by its carrier, in both spellings.
#[test]
fn ripgrep_preprocessor_is_a_command() {
    for s in [
        "rg --pre ./decode.sh TODO src",
        "rg --pre=./decode.sh TODO src",
    ] {
        let a = analyse_shell(s);
        let c = find(&a, &["./decode.sh"]);
        assert_eq!(c.wrappers, v(&["rg --pre"]), "{s}");
    }
    let a = analyse_shell("rg --hostname-bin /usr/local/bin/host x");
    assert_eq!(
        find(&a, &["/usr/local/bin/host"]).wrappers,
        v(&["rg --hostname-bin"])
    );
    check_invariants("rg --pre", &analyse_shell("rg --pre"));
}

// ---------------------------------------------------------------- cd

#[test]
fn cd_sets_cwd_for_following_commands() {
    let a = analyse_shell("cd a && cd b && git push; (cd c; x); y");
    assert_eq!(find(&a, &["git", "push"]).cwd.as_deref(), Some("a/b"));
    assert_eq!(find(&a, &["x"]).cwd.as_deref(), Some("a/b/c"));
    assert_eq!(find(&a, &["y"]).cwd.as_deref(), Some("a/b"));
    assert!(!has(&a, &["cd", "a"]));
}

#[test]
fn cd_absolute_parent_and_pushd() {
    let a = analyse_shell("cd /srv/app; cd ../other; x; pushd sub; y; popd; z");
    assert_eq!(find(&a, &["x"]).cwd.as_deref(), Some("/srv/other"));
    assert_eq!(find(&a, &["y"]).cwd.as_deref(), Some("/srv/other/sub"));
    assert_eq!(find(&a, &["z"]).cwd.as_deref(), Some("/srv/other"));
}

#[test]
fn cd_in_pipeline_or_nested_shell_does_not_leak() {
    let a = analyse_shell("cd a | true; x; bash -c 'cd b'; y");
    assert_eq!(find(&a, &["x"]).cwd, None);
    assert_eq!(find(&a, &["y"]).cwd, None);
    // but eval runs in the current shell
    let a = analyse_shell("eval 'cd e'; z");
    assert_eq!(find(&a, &["z"]).cwd.as_deref(), Some("e"));
}

#[test]
fn env_chdir_sets_cwd() {
    let c = only("env -C /tmp git push", &["git", "push"]);
    assert_eq!(c.cwd.as_deref(), Some("/tmp"));
}

// ---------------------------------------------------------------- wrappers

#[test]
fn shell_dash_c_variants() {
    for (s, w) in [
        ("bash -c 'git push'", "bash -c"),
        ("sh -c 'git push'", "sh -c"),
        ("bash -lc 'git push'", "bash -c"),
        ("bash -ec 'git push'", "bash -c"),
        ("sh -xc 'git push'", "sh -c"),
        ("bash -e -u -c 'git push'", "bash -c"),
        ("bash --login -c 'git push'", "bash -c"),
        ("bash -o pipefail -c 'git push'", "bash -c"),
        ("zsh -c 'git push'", "zsh -c"),
        ("dash -c 'git push'", "dash -c"),
        ("ksh -c 'git push'", "ksh -c"),
        ("fish -c 'git push'", "fish -c"),
        ("/bin/bash -c 'git push' name arg", "bash -c"),
    ] {
        let a = analyse_shell(s);
        assert_eq!(argvs(&a), vec![v(&["git", "push"])], "{s}");
        assert_eq!(a.commands[0].wrappers, v(&[w]), "{s}");
    }
}

#[test]
fn shell_string_span_points_into_original() {
    let s = "bash -c 'git push'";
    let a = analyse_shell(s);
    let sp = a.commands[0].span;
    assert_eq!(&s[sp.start..sp.end], "git push");
}

#[test]
fn nested_shells() {
    let a = analyse_shell("bash -c \"sh -c 'git push'\"");
    let c = find(&a, &["git", "push"]);
    assert_eq!(c.wrappers, v(&["bash -c", "sh -c"]));
}

#[test]
fn dynamic_shell_string_is_opaque() {
    for s in [
        "sh -c \"$(echo git push)\"",
        "sh -c \"$X\"",
        "bash -c \"git $X\"",
        "eval \"$CMD\"",
        "eval $(echo git push)",
    ] {
        let a = analyse_shell(s);
        assert!(!a.opaque.is_empty(), "{s}: {a:#?}");
        assert!(!has(&a, &["git", "push"]), "{s}");
    }
}

#[test]
fn shell_script_file_is_a_command() {
    let a = analyse_shell("bash script.sh arg");
    assert_eq!(argvs(&a), vec![v(&["bash", "script.sh", "arg"])]);
    assert!(a.opaque.is_empty());
}

#[test]
fn eval_strings() {
    let a = analyse_shell("eval \"git push\"");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["eval"]));
    assert!(has(
        &analyse_shell("eval git push --force"),
        &["git", "push", "--force"]
    ));
}

#[test]
fn env_sudo_and_friends() {
    let cases: &[(&str, &[&str], bool)] = &[
        ("env git push", &["env"], false),
        ("env -i -u HOME -- X=1 git push", &["env"], false),
        ("X=1 Y=2 git push", &[], false),
        ("sudo git push", &["sudo"], true),
        ("sudo -u deploy -E -n -- git push", &["sudo"], true),
        ("sudo -g grp -H git push", &["sudo"], true),
        ("sudo --user=root git push", &["sudo"], true),
        ("doas -u root git push", &["doas"], true),
        ("timeout 5 git push", &["timeout"], false),
        ("timeout -s KILL -k 5 30s git push", &["timeout"], false),
        ("timeout --signal=TERM 5 git push", &["timeout"], false),
        ("nice git push", &["nice"], false),
        ("nice -n 10 git push", &["nice"], false),
        ("nohup git push", &["nohup"], false),
        ("stdbuf -oL -eL git push", &["stdbuf"], false),
        ("time git push", &["time"], false),
        ("time -p git push", &["time"], false),
        ("command git push", &["command"], false),
        ("command -p git push", &["command"], false),
        ("builtin git push", &["builtin"], false),
        ("exec git push", &["exec"], false),
        ("exec -a name git push", &["exec"], false),
        ("chroot /mnt git push", &["chroot"], false),
        ("unshare -r -n git push", &["unshare"], false),
        ("nsenter -t 1 -m -u git push", &["nsenter"], false),
        ("setsid -f git push", &["setsid"], false),
        ("ionice -c 3 git push", &["ionice"], false),
        ("chrt -f 10 git push", &["chrt"], false),
        ("taskset 0x3 git push", &["taskset"], false),
        ("taskset -c 1,2 git push", &["taskset"], false),
        ("caffeinate -i git push", &["caffeinate"], false),
        (
            "sudo env X=1 timeout 10 nice -n 5 nohup git push",
            &["sudo", "env", "timeout", "nice", "nohup"],
            true,
        ),
    ];
    for (s, wrappers, elevated) in cases {
        let a = analyse_shell(s);
        assert_eq!(argvs(&a), vec![v(&["git", "push"])], "{s}");
        let c = &a.commands[0];
        assert_eq!(c.wrappers, v(wrappers), "{s}");
        assert_eq!(c.elevated, *elevated, "{s}");
        assert!(a.opaque.is_empty(), "{s}");
    }
}

#[test]
fn runners_run_their_command_only_under_their_subcommand() {
    // (script, the tool as reported, the wrapper name of the command it runs)
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "poetry run git push",
            &["poetry", "run", "git", "push"],
            "poetry",
        ),
        (
            "poetry -C sub run -- git push",
            &["poetry", "-C", "sub", "run", "--", "git", "push"],
            "poetry",
        ),
        (
            "uv run --with requests --python 3.12 git push",
            &[
                "uv", "run", "--with", "requests", "--python", "3.12", "git", "push",
            ],
            "uv",
        ),
        (
            "pipenv run git push",
            &["pipenv", "run", "git", "push"],
            "pipenv",
        ),
        (
            "conda run -n build git push",
            &["conda", "run", "-n", "build", "git", "push"],
            "conda",
        ),
        (
            "bundle exec git push",
            &["bundle", "exec", "git", "push"],
            "bundle",
        ),
        (
            "direnv exec . git push",
            &["direnv", "exec", ".", "git", "push"],
            "direnv",
        ),
        (
            "aws-vault exec prod -- git push",
            &["aws-vault", "exec", "prod", "--", "git", "push"],
            "aws-vault",
        ),
        (
            "mise exec node@20 python@3.12 -- git push",
            &[
                "mise",
                "exec",
                "node@20",
                "python@3.12",
                "--",
                "git",
                "push",
            ],
            "mise",
        ),
        (
            "op run --env-file .env -- git push",
            &["op", "run", "--env-file", ".env", "--", "git", "push"],
            "op",
        ),
    ];
    for (s, tool, wrapper) in cases {
        let a = analyse_shell(s);
        assert_eq!(argvs(&a), vec![v(tool), v(&["git", "push"])], "{s}");
        assert_eq!(a.commands[1].wrappers, v(&[wrapper]), "{s}");
        assert!(a.opaque.is_empty(), "{s}");
    }
    // Under another subcommand the tool runs nothing given to it.
    for s in [
        "poetry add git",
        "uv pip install push",
        "bundle install",
        "conda install git",
        "mise install node@20",
        "poetry run",
    ] {
        assert_eq!(cmds(s).len(), 1, "{s}");
    }
    // Prefix runners, and python-dotenv's `dotenv run`.
    for s in [
        "systemd-run --user -p Nice=5 --unit=x git push",
        "ssh-agent -t 60 git push",
        "firejail --net=none git push",
        "valgrind -q --leak-check=full git push",
        "proot -r /srv/root -b /dev git push",
        "cross-env NODE_ENV=production git push",
        "dotenv -e .env.test -- git push",
        "dotenv -c production -- git push",
        "dotenv run -- git push",
    ] {
        assert_eq!(argvs(&analyse_shell(s)), vec![v(&["git", "push"])], "{s}");
    }
}

#[test]
fn runners_of_shell_text_and_argv_are_looked_into() {
    // (script, the wrapper label of the `git push` found inside)
    let cases: &[(&str, &str)] = &[
        ("nix-shell -p git --run 'git push'", "nix-shell --run"),
        ("nix develop .#ci -c git push", "nix develop -c"),
        ("nix shell nixpkgs#git --command git push", "nix shell -c"),
        ("npx -c 'git push'", "npx -c"),
        ("npm exec -c 'git push'", "npm exec"),
        ("npm exec -- git push", "npm"),
        ("pnpm exec git push", "pnpm"),
        ("nodemon --exec 'git push'", "nodemon --exec"),
        ("pwsh -Command 'git push'", "pwsh -Command"),
        ("sg docker 'git push'", "sg"),
        ("sg - docker -c 'git push'", "sg"),
        ("tmux new -d 'git push'", "tmux new"),
        (
            "tmux -L s new-session -d -s work -c /w git push",
            "tmux new",
        ),
        ("tmux send-keys -t work 'git push' Enter", "tmux send-keys"),
        ("screen -dmS work git push", "screen"),
        ("screen -S work -X stuff 'git push\\n'", "screen -X stuff"),
        ("hyperfine --warmup 3 'git push'", "hyperfine"),
        ("hyperfine -p 'git push' 'make -j2'", "hyperfine"),
        ("doppler run --command 'git push'", "doppler run"),
        ("watchexec -e rs -w src -- git push", "watchexec"),
        (
            "watchexec --debounce 500ms 'cargo test && git push'",
            "watchexec",
        ),
        ("ls *.rs | entr -r git push", "entr"),
        ("ls *.rs | entr -cs 'cargo test; git push'", "entr -s"),
        (
            "cross-env-shell NODE_ENV=ci 'npm test && git push'",
            "cross-env-shell",
        ),
        ("perf stat -r 3 -e cycles git push", "perf"),
        ("perf record -g -o out.data -- git push", "perf"),
        ("perf stat --pre 'git push' true", "perf stat --pre"),
        ("gdb -q --args git push", "gdb --args"),
        ("gdb -batch -ex 'shell git push' ./a.out", "gdb -ex shell"),
        ("gdb --eval-command='!git push' ./a.out", "gdb -ex shell"),
        (
            "gdb -ex 'pipe info locals | git push' ./a.out",
            "gdb -ex shell",
        ),
        ("concurrently -n a,b 'npm test' 'git push'", "concurrently"),
        (
            "concurrently --teardown 'git push' 'npm test'",
            "concurrently",
        ),
        ("npx concurrently@8 -k 'git push'", "concurrently"),
        ("runuser -u bob -- git push", "runuser"),
        ("heaptrack git push", "heaptrack"),
        ("catchsegv git push", "catchsegv"),
    ];
    for (s, label) in cases {
        let a = analyse_shell(s);
        let push = a
            .commands
            .iter()
            .find(|c| c.argv == v(&["git", "push"]))
            .unwrap_or_else(|| panic!("{s}: no `git push` in {:?}", argvs(&a)));
        assert_eq!(
            push.wrappers.last().map(String::as_str),
            Some(*label),
            "{s}"
        );
    }
    // A `--` of the command's own is not dotenv's.
    assert_eq!(
        cmds("dotenv git push -- origin"),
        vec![v(&["git", "push", "--", "origin"])]
    );
    // `npm-run-all`/`run-s`/`run-p` run package.json scripts by name (their content is read by
    // the lookahead, as for `npm run NAME`).
    for s in [
        "npm-run-all -p build push",
        "run-s push",
        "run-p -l build push",
    ] {
        assert!(
            argvs(&analyse_shell(s)).contains(&v(&["npm", "run", "push"])),
            "{s}"
        );
    }
    // `runuser`'s command runs as another user, like sudo's.
    let a = analyse_shell("runuser -u bob -- git push");
    assert!(
        a.commands
            .iter()
            .any(|c| c.argv == v(&["git", "push"]) && c.elevated)
    );
    // Options of the program npx runs are its own (`-c` is eslint's config file here).
    assert_eq!(cmds("npx eslint -c .eslintrc.js src").len(), 1);
    // Their other commands start nothing given to them.
    for s in [
        "tmux ls",
        "tmux attach -t work",
        "screen -ls",
        "nix build .#app",
        "npx prettier -c .",
        "perf report -i perf.data",
        "gdb -ex run ./a.out",
        "gdb -ex 'info shell' ./a.out",
        "concurrently -c git 'npm test'",
        "npm-run-all --max-parallel 2 build 'lint:*' -- --fix",
    ] {
        assert!(
            argvs(&analyse_shell(s))
                .iter()
                .all(|a| a.first().map(String::as_str) != Some("git")),
            "{s}"
        );
    }
}

#[test]
fn wrapper_without_command_is_itself() {
    assert_eq!(cmds("sudo -l"), vec![v(&["sudo", "-l"])]);
    assert_eq!(cmds("env"), vec![v(&["env"])]);
    assert_eq!(cmds("command -v git"), vec![v(&["command", "-v", "git"])]);
    assert!(only("sudo -i", &["sudo", "-i"]).elevated);
}

#[test]
fn su_and_script_and_watch_and_flock() {
    let c = only("su -c 'rm -rf /' root", &["rm", "-rf", "/"]);
    assert!(c.elevated);
    assert_eq!(c.wrappers, v(&["su -c"]));
    let c = only("su root -c 'git push'", &["git", "push"]);
    assert!(c.elevated);
    assert_eq!(
        only("script -q -c 'git push' /dev/null", &["git", "push"]).wrappers,
        v(&["script -c"])
    );
    assert_eq!(
        only("watch -n 5 git push", &["git", "push"]).wrappers,
        v(&["watch"])
    );
    assert_eq!(
        only("watch 'git push && rm x'", &["rm", "x"]).wrappers,
        v(&["watch"])
    );
    assert_eq!(
        only("flock /tmp/l -c 'git push'", &["git", "push"]).wrappers,
        v(&["flock"])
    );
    assert_eq!(
        only("flock -n -w 3 /tmp/l git push", &["git", "push"]).wrappers,
        v(&["flock"])
    );
}

#[test]
fn xargs_parallel_find_are_dynamic() {
    let c = only("ls | xargs rm -rf", &["rm", "-rf"]);
    assert!(c.dynamic);
    assert_eq!(c.wrappers, v(&["xargs"]));
    let c = only(
        "xargs -0 -n 1 -I{} -P 4 git push {}",
        &["git", "push", "{}"],
    );
    assert!(c.dynamic);
    let c = only("xargs sh -c 'git push'", &["git", "push"]);
    assert_eq!(c.wrappers, v(&["xargs", "sh -c"]));
    assert!(c.dynamic);
    assert!(only("xargs", &["echo"]).dynamic);
    // Issue 16: values written after `:::` form the commands that run (they were a dynamic
    // `rm` before).
    let a = analyse_shell("parallel -j4 rm ::: a b");
    assert!(!find(&a, &["rm", "a"]).dynamic && !find(&a, &["rm", "b"]).dynamic);
    let c = only("ls | parallel -j4 rm", &["rm", "{}"]);
    assert!(c.dynamic);
    let a = analyse_shell("parallel ::: 'git push' 'rm x'");
    assert!(has(&a, &["git", "push"]) && has(&a, &["rm", "x"]));

    let a = analyse_shell("find . -name '*.o' -exec rm {} +");
    let f = find(&a, &["find", ".", "-name", "*.o", "-exec", "rm", "{}", "+"]);
    assert!(f.wrappers.is_empty());
    let r = find(&a, &["rm", "{}"]);
    assert!(r.dynamic);
    assert_eq!(r.wrappers, v(&["find -exec"]));
    let a = analyse_shell("find . -execdir sh -c 'git push' \\; -ok rm {} \\;");
    assert!(has(&a, &["git", "push"]) && has(&a, &["rm", "{}"]));
    let a = analyse_shell("find . -delete");
    assert_eq!(argvs(&a), vec![v(&["find", ".", "-delete"])]);
    let a = analyse_shell("find / -fprint /etc/x");
    assert_eq!(a.commands[0].writes, v(&["/etc/x"]));
}

#[test]
fn ssh_reports_itself_and_its_remote_command() {
    // Issue 16: the remote command was not analysed before (ssh was reported alone); it runs
    // on another machine, so it is reported with `remote` set.
    assert_eq!(
        cmds("ssh host git push"),
        vec![v(&["ssh", "host", "git", "push"]), v(&["git", "push"])]
    );
    let a = analyse_shell("ssh host git push");
    assert_eq!(a.commands[0].remote, None);
    assert_eq!(a.commands[1].remote.as_deref(), Some("ssh host"));
}

#[test]
fn wrapper_redirects_reach_inner_commands() {
    let c = only("sudo git push > out < in", &["git", "push"]);
    assert_eq!(
        (c.writes.clone(), c.reads.clone()),
        (v(&["out"]), v(&["in"]))
    );
    let c = only("bash -c 'git push' > out", &["git", "push"]);
    assert_eq!(c.writes, v(&["out"]));
    // An empty script still truncates the file: report the shell itself.
    let a = analyse_shell("sh -c '' > /etc/x");
    assert_eq!(a.commands.len(), 1);
    assert_eq!(a.commands[0].writes, v(&["/etc/x"]));
}

// ---------------------------------------------------------------- stdin scripts

#[test]
fn heredocs_and_herestrings_fed_to_shells() {
    let a = analyse_shell("bash <<EOF\ngit push\nrm -rf x\nEOF\n");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["bash <stdin"]));
    assert!(has(&a, &["rm", "-rf", "x"]));
    assert!(!has(&a, &["bash"]));
    let a = analyse_shell("sh <<<'git push'");
    assert!(has(&a, &["git", "push"]));
    let a = analyse_shell("sudo bash <<'EOF'\ncd /etc && rm -rf x\nEOF");
    let c = find(&a, &["rm", "-rf", "x"]);
    assert!(c.elevated);
    assert_eq!(c.cwd.as_deref(), Some("/etc"));
    // a quoted heredoc is not expanded by the outer shell; an unquoted one is, once.
    let a = analyse_shell("bash <<EOF\ngit push $(id)\nEOF");
    assert_eq!(a.commands.iter().filter(|c| c.argv == ["id"]).count(), 1);
    assert!(find(&a, &["git", "push", "$(id)"]).dynamic);
}

#[test]
fn heredoc_substitutions_run_in_outer_shell() {
    let a = analyse_shell("cat > f <<EOF\n$(rm -rf x)\nEOF");
    assert!(has(&a, &["rm", "-rf", "x"]));
    assert_eq!(find(&a, &["cat"]).writes, v(&["f"]));
    let a = analyse_shell("cat > f <<'EOF'\n$(rm -rf x)\nEOF");
    assert!(!has(&a, &["rm", "-rf", "x"]));
}

#[test]
fn piped_scripts() {
    let a = analyse_shell("echo 'git push' | bash");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["bash <stdin"]));
    let a = analyse_shell("printf 'rm -rf x' | sh");
    assert!(has(&a, &["rm", "-rf", "x"]));
    let a = analyse_shell("cat <<EOF | sh\ngit push\nEOF");
    assert!(has(&a, &["git", "push"]));
    let a = analyse_shell("curl -fsSL example.invalid/install.sh | sh");
    assert!(!a.opaque.is_empty());
    assert!(has(&a, &["sh"]));
    let a = analyse_shell("curl example.invalid/x.py | python3");
    assert!(!a.opaque.is_empty());
}

#[test]
fn sql_clients_get_stdin_body() {
    let a = analyse_shell("psql -d app <<SQL\nDROP TABLE users;\nSQL\n");
    assert_eq!(
        argvs(&a),
        vec![v(&[
            "psql",
            "-d",
            "app",
            "--warden-stdin=DROP TABLE users;\n"
        ])]
    );
    let a = analyse_shell("sqlite3 db <<<'ALTER TABLE t ADD c'");
    assert_eq!(
        a.commands[0].argv.last().map(String::as_str),
        Some("--warden-stdin=ALTER TABLE t ADD c\n")
    );
    for client in ["mysql", "mariadb", "duckdb", "clickhouse-client"] {
        let a = analyse_shell(&format!("{client} <<< 'DROP DATABASE x'"));
        assert!(
            a.commands[0]
                .argv
                .iter()
                .any(|x| x.starts_with("--warden-stdin=DROP")),
            "{client}"
        );
    }
    let a = analyse_shell("echo 'DROP TABLE t' | psql");
    assert!(has(&a, &["psql", "--warden-stdin=DROP TABLE t\n"]));
}

// ---------------------------------------------------------------- inline interpreter code

#[test]
fn python_inline() {
    let a = analyse_shell("python3 -c 'import os; os.system(\"git push\")'");
    assert!(has(
        &a,
        &["python3", "-c", "import os; os.system(\"git push\")"]
    ));
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["python3 -c"]));
    let cases: &[(&str, &[&str])] = &[
        (
            "python -c 'import subprocess; subprocess.run([\"git\", \"push\"])'",
            &["git", "push"],
        ),
        (
            "python3 -c 'import subprocess as s; s.check_call(\"rm -rf x\", shell=True)'",
            &["rm", "-rf", "x"],
        ),
        ("python3 -c 'import os; os.popen(\"id\").read()'", &["id"]),
        (
            "python2 -c 'import os; os.execvp(\"git\", [\"git\", \"push\"])'",
            &["git", "push"],
        ),
        ("python3 -c 'import pty; pty.spawn(\"bash\")'", &["bash"]),
        (
            "python3 -c 'exec(\"import os; os.system(\\\"git push\\\")\")'",
            &["git", "push"],
        ),
        (
            "python3 -u -c 'import os; os.system(\"git push\")'",
            &["git", "push"],
        ),
        (
            "python3.12 -c '__import__(\"os\").system(\"git push\")'",
            &["git", "push"],
        ),
    ];
    for (s, want) in cases {
        let a = analyse_shell(s);
        assert!(has(&a, want), "{s}: {a:#?}");
    }
}

#[test]
fn python_non_literal_is_opaque() {
    for s in [
        "python3 -c 'import os; os.system(cmd)'",
        "python3 -c 'import os; os.system(f\"git {x}\")'",
        "python3 -c 'import os; os.system(\"git \" + x)'",
        "python3 -c 'import subprocess; subprocess.run(args)'",
        "python3 -c \"$CODE\"",
    ] {
        let a = analyse_shell(s);
        assert!(!a.opaque.is_empty(), "{s}: {a:#?}");
    }
    // Code without process starts is not opaque.
    let a = analyse_shell("python3 -c 'print(1 + 2)'");
    assert!(a.opaque.is_empty());
}

#[test]
fn node_and_friends_inline() {
    let cases: &[(&str, &[&str], &str)] = &[
        (
            "node -e 'require(\"child_process\").execSync(\"git push --force\")'",
            &["git", "push", "--force"],
            "node -e",
        ),
        (
            "node --eval 'require(\"child_process\").spawn(\"git\", [\"push\"])'",
            &["git", "push"],
            "node --eval",
        ),
        (
            "node -p 'require(\"child_process\").execFileSync(\"rm\", [\"-rf\", \"x\"])'",
            &["rm", "-rf", "x"],
            "node -p",
        ),
        (
            "bun -e 'Bun.spawn([\"git\", \"push\"])'",
            &["git", "push"],
            "bun -e",
        ),
        (
            "deno eval 'new Deno.Command(\"git\", {args: [\"push\"]})'",
            &["git"],
            "deno eval",
        ),
        (
            "perl -e 'system(\"git push\")'",
            &["git", "push"],
            "perl -e",
        ),
        (
            "perl -e 'system(\"git\", \"push\")'",
            &["git", "push"],
            "perl -e",
        ),
        ("perl -ne 'print qx{id}'", &["id"], "perl -e"),
        ("perl -E 'exec \"git push\"'", &["git", "push"], "perl -E"),
        ("ruby -e '`rm -rf x`'", &["rm", "-rf", "x"], "ruby -e"),
        (
            "ruby -e 'system(\"git push\")'",
            &["git", "push"],
            "ruby -e",
        ),
        ("ruby -e '%x(git push)'", &["git", "push"], "ruby -e"),
        (
            "php -r 'shell_exec(\"git push\");'",
            &["git", "push"],
            "php -r",
        ),
        (
            "php -r 'passthru(\"git push\");'",
            &["git", "push"],
            "php -r",
        ),
        (
            "lua -e 'os.execute(\"git push\")'",
            &["git", "push"],
            "lua -e",
        ),
        (
            "awk 'BEGIN { system(\"git push\") }'",
            &["git", "push"],
            "awk",
        ),
    ];
    for (s, want, wrapper) in cases {
        let a = analyse_shell(s);
        let c = find(&a, want);
        assert_eq!(c.wrappers, v(&[wrapper]), "{s}");
    }
    for s in [
        "node -e 'require(\"child_process\").execSync(cmd)'",
        "node -e 'require(\"child_\" + \"process\")'",
        "node -e 'require(\"child_process\").execSync(`git ${x}`)'",
        "perl -e 'system(\"git $x\")'",
        "ruby -e 'system(\"git #{x}\")'",
    ] {
        assert!(!analyse_shell(s).opaque.is_empty(), "{s}");
    }
}

#[test]
fn interpreter_heredocs() {
    let a =
        analyse_shell("python3 <<EOF\nimport subprocess\nsubprocess.run(['git','push'])\nEOF\n");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["python3 <stdin"]));
    let a = analyse_shell("node <<<'require(\"child_process\").execSync(\"rm -rf x\")'");
    assert!(has(&a, &["rm", "-rf", "x"]));
    // A script file is not inline code.
    let a = analyse_shell("python3 manage.py migrate");
    assert_eq!(argvs(&a), vec![v(&["python3", "manage.py", "migrate"])]);
}

#[test]
fn interpreter_inside_wrappers() {
    let a = analyse_shell("sudo bash -c \"python3 -c 'import os; os.system(\\\"git push\\\")'\"");
    let c = find(&a, &["git", "push"]);
    assert_eq!(c.wrappers, v(&["sudo", "bash -c", "python3 -c"]));
    assert!(c.elevated);
}

// ---------------------------------------------------------------- errors and bounds

#[test]
fn parse_errors_are_opaque_but_visible_commands_reported() {
    let a = analyse_shell("git push; if then fi )");
    assert!(!a.opaque.is_empty());
    assert!(has(&a, &["git", "push"]));
    let a = analyse_shell("echo \"unterminated");
    assert!(!a.opaque.is_empty());
}

#[test]
fn depth_bound() {
    let s = "eval ".repeat(MAX_DEPTH + 4) + "git push";
    let a = analyse_shell(&s);
    assert!(
        a.opaque.iter().any(|o| o.reason.contains("deeper")),
        "{a:#?}"
    );
    assert!(!has(&a, &["git", "push"]));
    check_invariants(&s, &a);
    let long_chain = "nice ".repeat(MAX_DEPTH + 2) + "git push";
    assert!(!analyse_shell(&long_chain).opaque.is_empty());
}

#[test]
fn oversized_input_is_opaque() {
    let s = "a".repeat(warden_shell::MAX_INPUT + 1);
    let a = analyse_shell(&s);
    assert!(a.commands.is_empty());
    assert_eq!(a.opaque.len(), 1);
}

#[test]
fn deep_syntax_nesting_terminates() {
    let s = "(".repeat(5000) + "git push" + &")".repeat(5000);
    let a = analyse_shell(&s);
    check_invariants(&s, &a);
    assert!(!a.opaque.is_empty());
    let s = "$(".repeat(3000) + "x" + &")".repeat(3000);
    let a = analyse_shell(&s);
    check_invariants(&s, &a);
}

// ---------------------------------------------------------------- argv entry point

#[test]
fn argv_entry_point_peels() {
    let a = analyse_argv(&v(&["bash", "-c", "git push"]));
    assert_eq!(argvs(&a), vec![v(&["git", "push"])]);
    assert_eq!(a.commands[0].wrappers, v(&["bash -c"]));
    let sp = a.commands[0].span;
    assert_eq!(&"bash -c git push"[sp.start..sp.end], "git push");

    let a = analyse_argv(&v(&["sudo", "env", "X=1", "git", "push"]));
    assert_eq!(argvs(&a), vec![v(&["git", "push"])]);
    assert!(a.commands[0].elevated);

    // Words are literal: no expansion, no unquoting.
    let a = analyse_argv(&v(&["echo", "$HOME", "'q'", "*"]));
    assert_eq!(argvs(&a), vec![v(&["echo", "$HOME", "'q'", "*"])]);
    assert!(!a.commands[0].dynamic);

    let a = analyse_argv(&v(&["python3", "-c", "import os; os.system('rm -rf x')"]));
    assert!(has(&a, &["rm", "-rf", "x"]));
    let a = analyse_argv(&v(&["find", ".", "-exec", "rm", "{}", ";"]));
    assert!(find(&a, &["rm", "{}"]).dynamic);
    assert!(analyse_argv(&[]).commands.is_empty());
}

#[test]
fn non_ascii_after_brace_does_not_crash_the_parser() {
    // tree-sitter-bash 0.25's scanner calls isdigit() on the code point after `{`; found by
    // the property tests (SIGSEGV). The analyser must shield the parser from it.
    for s in [
        "echo {\u{10FFFF}",
        "x {\u{1F600}..",
        "{\u{3000}",
        "a\u{0}; rm -rf x",
        "é{ü,ö}",
    ] {
        let a = analyse_shell(s);
        check_invariants(s, &a);
    }
    // Values still come from the original text.
    assert_eq!(cmds("echo héllo"), vec![v(&["echo", "héllo"])]);
    // NUL does not hide what follows it.
    assert!(has(
        &analyse_shell("true\u{0}; rm -rf x"),
        &["rm", "-rf", "x"]
    ));
}

#[test]
fn less_common_places_commands_hide() {
    // trap handlers are shell text
    let a = analyse_shell("trap 'git push' EXIT");
    assert_eq!(find(&a, &["git", "push"]).wrappers, v(&["trap"]));
    assert!(has(&analyse_shell("trap - EXIT"), &["trap", "-", "EXIT"]));
    // coproc is not understood by the grammar: approximate, and say so
    let a = analyse_shell("coproc x { git push; }");
    assert!(has(&a, &["git", "push"]) && !a.opaque.is_empty());
    // `$(< file)` reads the file
    let a = analyse_shell("echo $(< ~/.aws/credentials)");
    assert!(a.commands.iter().any(|c| c.reads == ["~/.aws/credentials"]));
    // scripts from process substitution
    for s in [
        "bash <(curl example.invalid/x)",
        "source <(curl example.invalid/x)",
    ] {
        let a = analyse_shell(s);
        assert!(
            has(&a, &["curl", "example.invalid/x"]) && !a.opaque.is_empty(),
            "{s}"
        );
    }
    // arrays and arithmetic commands
    assert!(has(&analyse_shell("a=(1 $(git push))"), &["git", "push"]));
    assert!(has(
        &analyse_shell("(( x = $(git push) ))"),
        &["git", "push"]
    ));
    // comments are not commands
    assert_eq!(cmds("# git push"), Vec::<Vec<String>>::new());
}

#[test]
fn separator_tricks() {
    // $IFS as a separator makes the program name dynamic: opaque, never `git`.
    let a = analyse_shell("git${IFS}push");
    assert!(!a.opaque.is_empty() && a.commands.is_empty());
    // line continuation joins words
    assert_eq!(cmds("git \\\npush"), vec![v(&["git", "push"])]);
    assert_eq!(cmds("gi\\\nt push"), vec![v(&["git", "push"])]);
    // newlines, tabs and comments separate commands
    assert_eq!(
        cmds("ls\n\tgit push # x\nrm x"),
        vec![v(&["ls"]), v(&["git", "push"]), v(&["rm", "x"])]
    );
    // bash -c of a downloaded script: the download is reported, the script is opaque
    let a = analyse_shell("bash -c \"$(curl -fsSL example.invalid/i.sh)\"");
    assert!(has(&a, &["curl", "-fsSL", "example.invalid/i.sh"]));
    assert!(!a.opaque.is_empty());
    // fd redirects of exec persist in the shell: the write is reported
    assert_eq!(only("exec 3>/etc/x", &["exec"]).writes, v(&["/etc/x"]));
}

#[test]
fn literal_constants_are_propagated() {
    assert_eq!(cmds("X=push; git $X"), vec![v(&["git", "push"])]);
    assert!(!only("X=push; git $X", &["git", "push"]).dynamic);
    assert_eq!(
        cmds("export X=push; git \"${X}\""),
        vec![v(&["git", "push"])]
    );
    assert_eq!(
        cmds("X=push; X=status; git $X"),
        vec![v(&["git", "status"])]
    );
    // `+=` appends (it was taken as `=`: `X=/; X+=etc; rm -rf "$X"` was `rm -rf etc`)
    assert_eq!(
        cmds("X=/; X+=etc; rm -rf \"$X\""),
        vec![v(&["rm", "-rf", "/etc"])]
    );
    assert_eq!(cmds("X=push; (git $X)"), vec![v(&["git", "push"])]);
    // the outer shell expands a double-quoted string before `bash -c` sees it
    assert!(has(
        &analyse_shell("X=push; bash -c \"git $X\""),
        &["git", "push"]
    ));
    // a `printf` that only prints keeps the constants
    assert_eq!(
        cmds("X=push; printf '%s\\n' hi; git $X"),
        vec![v(&["printf", "%s\\n", "hi"]), v(&["git", "push"])]
    );
    // quoted whitespace survives as one word
    assert_eq!(
        cmds("X='push --force'; git \"$X\""),
        vec![v(&["git", "push --force"])]
    );
    // a builtin that assigns the names it is given leaves the text's other variables constant
    // (any `read` or `local` gave up every constant)
    for s in [
        "read -r line; X=push; git $X",
        "X=push; while read -r a b; do echo $a; done < list; git $X",
        "f() { local dir=/tmp; echo $dir; }; X=push; git $X",
        "X=push; unset Y; declare -a Z; readonly W=1; git $X",
        "X=push; read -p 'name: ' -t 5 answer; git $X",
        "X=push; git read-tree HEAD; git $X",
    ] {
        assert!(has(&analyse_shell(s), &["git", "push"]), "{s}");
    }
}

/// `s` runs an `rm` whose arguments are known only at run time.
fn assert_rm_of_unknown(s: &str) {
    let a = analyse_shell(s);
    let unknown = a
        .commands
        .iter()
        .any(|c| c.argv.first().is_some_and(|p| p == "rm") && c.dynamic);
    assert!(unknown, "{s}: {a:#?}");
}

/// `ip netns exec NAME CMD` runs CMD; a pager option runs its command (`bat --pager CMD`).
#[test]
fn ip_netns_exec_and_pagers_run_their_commands() {
    assert!(has(
        &analyse_shell("ip netns exec ns1 git push origin main"),
        &["git", "push", "origin", "main"]
    ));
    assert_eq!(
        cmds("ip netns add ns1"),
        vec![v(&["ip", "netns", "add", "ns1"])]
    );
    for s in [
        "bat --pager 'git push' README.md",
        "ag --pager='git push' TODO",
        "ack --pager 'git push' TODO",
        "delta --pager 'git push'",
    ] {
        assert!(has(&analyse_shell(s), &["git", "push"]), "{s}");
    }
}

/// `sort --compress-program=PROG` runs PROG to compress its temporary files.
#[test]
fn sort_compress_program_is_a_command() {
    let a = analyse_shell("sort -S 1M --compress-program=./pack.sh big.txt");
    assert!(has(&a, &["./pack.sh"]), "{a:#?}");
    let a = analyse_shell("sort --compress-program gzip big.txt");
    assert!(has(&a, &["gzip"]), "{a:#?}");
}

/// `fd … -x CMD` / `-X CMD` runs CMD (the rest of the words, up to a `;`) on what fd finds.
#[test]
fn fd_exec_runs_its_command() {
    let a = analyse_shell("fd -e tmp -x rm -f {} ';' -E node_modules");
    assert!(has(&a, &["rm", "-f", "{}"]), "{a:#?}");
    assert!(
        a.commands
            .iter()
            .any(|c| c.argv.first().is_some_and(|p| p == "rm") && c.dynamic),
        "{a:#?}"
    );
    // Without a placeholder fd gives the path as the last word.
    assert!(has(
        &analyse_shell("fdfind . --exec-batch git add"),
        &["git", "add", "{}"]
    ));
    assert!(has(
        &analyse_shell("fd -t f -X sh -c 'git push' sh"),
        &["git", "push"]
    ));
    assert_eq!(cmds("fd -e rs src"), vec![v(&["fd", "-e", "rs", "src"])]);
    // The option may hold the command's first word (`--exec=CMD`, as fd's parser takes it).
    assert!(has(&analyse_shell("fd . /srv --exec=rm"), &["rm", "{}"]));
    assert!(has(
        &analyse_shell("fd . --exec-batch=git push"),
        &["git", "push", "{}"]
    ));
}

/// `find … | xargs CMD` is `find … -exec CMD {} +`; literal words piped to xargs are the
/// arguments it adds.
#[test]
fn xargs_fed_by_find_or_literal_words() {
    let a = analyse_shell("find /srv -name '*.log' | xargs rm -f");
    assert!(has(
        &a,
        &[
            "find", "/srv", "-name", "*.log", "-exec", "rm", "-f", "{}", "+"
        ]
    ));
    // Only when find prints paths and nothing else.
    for s in [
        "find . -printf '%f\\n' | xargs rm",
        "find . -exec echo {} \\; | xargs rm",
        "find \"$D\" | xargs rm",
        "find . | xargs -I{} rm {}",
    ] {
        assert_rm_of_unknown(s);
    }
    assert_eq!(
        cmds("echo a.txt b.txt | xargs rm"),
        vec![v(&["echo", "a.txt", "b.txt"]), v(&["rm", "a.txt", "b.txt"])]
    );
    for s in [
        "echo \"a 'b c'\" | xargs rm",
        "echo a | xargs -0 rm",
        "echo \"$X\" | xargs rm",
        "echo a | xargs -a list rm",
    ] {
        assert_rm_of_unknown(s);
    }
}

#[test]
fn loop_words_and_assignment_lists_are_constants() {
    // `X=a Y=b` with no command sets both.
    assert_eq!(
        cmds("X=a.txt Y=/srv; rm \"$X\" \"$Y\""),
        vec![v(&["rm", "a.txt", "/srv"])]
    );
    // A loop over words the text spells out: its body once per word.
    assert_eq!(
        cmds("for f in a.txt 'b c'; do rm \"$f\"; done"),
        vec![v(&["rm", "a.txt"]), v(&["rm", "b c"])]
    );
    assert_eq!(
        cmds("for r in main dev; do git push origin $r; done"),
        vec![
            v(&["git", "push", "origin", "main"]),
            v(&["git", "push", "origin", "dev"])
        ]
    );
    // A glob is what it expands to, quoted; the variable holds the last word after the loop.
    assert_eq!(
        cmds("for f in *.log; do gzip \"$f\"; done; rm \"$f\""),
        vec![v(&["gzip", "*.log"]), v(&["rm", "*.log"])]
    );
    assert_eq!(
        cmds("for i in 1 2; do for j in a; do rm \"$i$j\"; done; done"),
        vec![v(&["rm", "1a"]), v(&["rm", "2a"])]
    );
    // In a child shell's text, and in a subshell.
    assert!(has(
        &analyse_shell("bash -c 'for r in main; do git push origin \"$r\"; done'"),
        &["git", "push", "origin", "main"]
    ));
    assert!(has(
        &analyse_shell("bash -c 'D=/; rm -rf \"$D\"'"),
        &["rm", "-rf", "/"]
    ));
    assert!(has(
        &analyse_shell("(for r in main; do git push origin \"$r\"; done)"),
        &["git", "push", "origin", "main"]
    ));
}

/// A name is assigned only where it may be: `tail -f` does not make `f` unknown; and the
/// variables the shell sets itself are never constants (`cd` sets `PWD`).
#[test]
fn which_occurrences_may_assign() {
    let a = analyse_shell("tail -f x.log && for f in a.txt; do rm \"$f\"; done");
    assert!(has(&a, &["rm", "a.txt"]));
    assert!(!a.commands.iter().any(|c| c.dynamic), "{a:#?}");
    for s in [
        "PWD=build; cd ~; rm -rf \"$PWD\"",
        "_=build; ls; rm -rf \"$_\"",
        "X=build; a[X=5]=1; rm -rf \"$X\"",
        "X=build; : $((X++)); rm -rf \"$X\"",
        "X=build; : ${X:=/}; rm -rf \"$X\"",
        "X=build; exec {X}>f; rm -rf \"$X\"",
    ] {
        let a = analyse_shell(s);
        assert!(!has(&a, &["rm", "-rf", "build"]), "{s}: {a:#?}");
    }
}

#[test]
fn loop_words_are_not_trusted_when_they_could_change() {
    // The words still count when the variable may change: a read they name is seen.
    assert!(has(
        &analyse_shell("eval x; for f in ~/.ssh/id_rsa; do cat \"$f\"; done"),
        &["cat", "~/.ssh/id_rsa"]
    ));
    for s in [
        // expanded at run time, or from the arguments
        "for f in $(ls); do rm \"$f\"; done",
        "for f in \"$@\"; do rm \"$f\"; done",
        "for f; do rm \"$f\"; done",
        "for f in `ls`; do rm \"$f\"; done",
        "for f in <(ls); do rm \"$f\"; done",
        // assigned in the body, or read
        "for f in a.txt; do f=/etc; rm \"$f\"; done",
        "for f in a.txt; do read f; rm \"$f\"; done",
        "g() { f=/etc; }; for f in a.txt; do g; rm \"$f\"; done",
        // unquoted, a glob word is split and globbed again
        "for f in *.txt; do rm $f; done",
        // more words than are analysed one by one
        "for f in a b c d e f g h i j k l m n o p q; do rm \"$f\"; done",
    ] {
        // (Analysed with the words as well when they are spelled out: only adds.)
        assert_rm_of_unknown(s);
    }
}

#[test]
fn constants_are_not_trusted_when_they_could_change() {
    for s in [
        // assigned in a branch, a function, or a read
        "X=status; if c; then X=push; fi; git $X",
        "X=status; f() { X=push; }; f; git $X",
        "X=status; read X; git $X",
        "X=status; read -r A X; git $X",
        "X=status; read -a X; git $X",
        "X=status; read \"X\"; git $X",
        "X=status; \"read\" X; git $X",
        "X=status; read \"$N\"; git $X",
        "X=status; f() { local X=push; }; git $X",
        "X=status; unset X; git $X",
        "X=status; declare -n R=X; R=push; git $X",
        "X=status; local -rn R=X; R=push; git $X",
        "X=status; mapfile -C f Y < list; git $X",
        "X=status; read \\\nX; git $X",
        // a builtin spelled so that the text's scan does not see it (these were `git status`)
        "X=status; rea\\d X <<< push; git $X",
        "X=status; 're'ad X <<< push; git $X",
        "X=status; r\"\"ead X <<< push; git $X",
        "X=status; r=read; $r X <<< push; git $X",
        "X=status; r=rea; ${r}d X <<< push; git $X",
        "X=status; ev'a'l X=push; git $X",
        "X=status; pri'ntf' -v X push; git $X",
        "X=status; f() { loc\\al X=push; git $X; }; f",
        "X=status; for X in push; do :; done; git $X",
        "X=status; : ${X:=push}; git $X",
        "X=status; declare \"$(printf X)=push\"; git $X",
        "X=status; . ./env.sh; git $X",
        "X=status; source ./env.sh; git $X",
        "X=status; eval \"$Y\"; git $X",
        "X=status; printf -v X push; git $X",
        "X=status; printf '%s' x; printf -v X push; git $X",
        "X=status; printf -- -vX push; git $X",
        "X=status; f() { sleep 1; }; f & wait -p X; git $X",
        "X=status; (( X = 1 )); git $X",
        // used before it is assigned
        "git $X; X=status",
        // a child shell does not see unexported variables
        "X=status; bash -c 'git $X'",
        // unquoted values are split and globbed
        "X='push --force'; git $X",
        "X='*'; rm $X",
        "IFS=u; X=status; git $X",
        // not a literal
        "X=$(id); git $X",
        // appended to a value from the environment
        "X+=status; git $X",
    ] {
        let a = analyse_shell(s);
        assert!(
            !has(&a, &["git", "status"]) && !has(&a, &["rm", "*"]),
            "{s}: {a:#?}"
        );
    }
}

/// tree-sitter-bash drops a lone `-` before a numbered redirect (the bytes are in no node);
/// bash passes it. Found by the bash oracle: `make - 2>/dev/null x` was `make x`, and
/// `- 2>/dev/null x` was a command named `x`.
#[test]
fn words_the_parser_skips_are_recovered() {
    assert_eq!(cmds("make - 2>/dev/null x"), vec![v(&["make", "-", "x"])]);
    assert_eq!(cmds("make - 2>&1 x"), vec![v(&["make", "-", "x"])]);
    assert_eq!(
        cmds("make a - 2>/dev/null x - 10>&1 y"),
        vec![v(&["make", "a", "-", "x", "-", "y"])]
    );
    assert_eq!(cmds("- 2>/dev/null x"), vec![v(&["-", "x"])]);
    assert_eq!(cmds("X=1 - 2>/dev/null x"), vec![v(&["-", "x"])]);
    assert_eq!(cmds("a | - 2>/dev/null x"), vec![v(&["a"]), v(&["-", "x"])]);
    assert_eq!(
        cmds("bash -c 'cat - 2>/dev/null a'"),
        vec![v(&["cat", "-", "a"])]
    );
    // Words after a bare redirection are a command (bash runs `x y`).
    assert_eq!(cmds(">f x y"), vec![v(&["x", "y"])]);
    let a = analyse_shell("make - 2>/dev/null x");
    check_invariants("make - 2>/dev/null x", &a);
    assert!(a.opaque.is_empty());
}

/// Found by the bash oracle (fresh seeds): shell text piped or fed by heredoc into a shell
/// that tree-sitter nests oddly. `a | b | c && d` is parsed as `a | (b | c && d)`, and the
/// old analyser gave `b` no piped input, so `echo 'git push' | bash | cat && x` never showed
/// the push (nor was `curl … | sh | cat && x` opaque); `! bash <<EOF` lost its heredoc.
#[test]
fn piped_and_heredoc_scripts_reach_the_shell_through_lists_and_negation() {
    for line in [
        "echo 'git push' | bash | cat && echo x",
        "echo 'git push' | bash | cat || echo x; echo y",
        "! bash <<'EOF'\ngit push\nEOF",
        "while ! bash <<'EOF'\ngit push\nEOF\ndo x; done",
        "echo 'git push' | ! bash",
    ] {
        let a = analyse_shell(line);
        assert!(has(&a, &["git", "push"]), "{line}: {:?}", argvs(&a));
        check_invariants(line, &a);
    }
    assert!(
        !analyse_shell("curl x | sh | cat && echo y")
            .opaque
            .is_empty()
    );
}

/// A heredoc cat'ed into a word (agents' commit messages) is that text, not a run-time value;
/// one whose body expands something stays dynamic.
#[test]
fn a_heredoc_catted_into_a_word_is_its_text() {
    let a = analyse_shell("git commit -m \"$(cat <<'EOF'\nFix it\n\nBody: $x\nEOF\n)\"");
    let commit = a
        .commands
        .iter()
        .find(|c| c.argv.first().is_some_and(|p| p == "git"))
        .expect("git");
    assert_eq!(
        commit.argv,
        v(&["git", "commit", "-m", "Fix it\n\nBody: $x"])
    );
    assert!(!commit.dynamic, "{commit:?}");
    let a = analyse_shell("git commit -m \"$(cat <<EOF\nhome $HOME\nEOF\n)\"");
    let commit = a
        .commands
        .iter()
        .find(|c| c.argv.first().is_some_and(|p| p == "git"))
        .expect("git");
    assert!(commit.dynamic, "{commit:?}");
}

/// Variables assigned for a command reach it and what it runs (`X=1 cmd`, `env X=1 cmd`, a
/// shell started with them), not the next command of the line: a hook manager's switch
/// (`HUSKY=0 git commit`) is judged with the commit.
#[test]
fn assignments_for_a_command_are_reported_with_it() {
    assert_eq!(
        only("HUSKY=0 git commit -m x", &["git", "commit", "-m", "x"]).env,
        v(&["HUSKY=0"])
    );
    assert_eq!(
        only("env SKIP=flake8 git commit", &["git", "commit"]).env,
        v(&["SKIP=flake8"])
    );
    assert_eq!(
        only("A='x y' B=2 sh -c 'git push'", &["git", "push"]).env,
        v(&["A=x y", "B=2"])
    );
    let a = analyse_shell("HUSKY=0 npm test && git commit -m y");
    assert_eq!(find(&a, &["npm", "test"]).env, v(&["HUSKY=0"]));
    assert!(find(&a, &["git", "commit", "-m", "y"]).env.is_empty());
}

/// Variables exported by an earlier statement reach every later command, child shells
/// included (`export HUSKY=0; git commit` is judged as `HUSKY=0 git commit`); a plain
/// assignment does not export, and commands before the export do not see it.
#[test]
fn exported_variables_reach_the_later_commands() {
    let a = analyse_shell("git status; export HUSKY=0; git commit -m x");
    assert!(find(&a, &["git", "status"]).env.is_empty());
    assert_eq!(find(&a, &["git", "commit", "-m", "x"]).env, v(&["HUSKY=0"]));
    let a = analyse_shell("export LEFTHOOK=0 X=1\nif true; then bash -c 'git push'; fi");
    assert_eq!(find(&a, &["git", "push"]).env, v(&["LEFTHOOK=0", "X=1"]));
    let a = analyse_shell("declare -x SKIP=lint; git commit");
    assert_eq!(find(&a, &["git", "commit"]).env, v(&["SKIP=lint"]));
    let a = analyse_shell("HUSKY=0; export HUSKY; git commit");
    assert_eq!(find(&a, &["git", "commit"]).env, v(&["HUSKY=0"]));
    // Not exported: the commit's hooks do not see it.
    let a = analyse_shell("HUSKY=0; git commit");
    assert!(find(&a, &["git", "commit"]).env.is_empty());
    let a = analyse_shell("declare HUSKY=0; git commit");
    assert!(find(&a, &["git", "commit"]).env.is_empty());
    // Inside `sh -c`, exported for the commands after it there.
    let a = analyse_shell("sh -c 'export HUSKY=0; git commit'; git push");
    assert_eq!(find(&a, &["git", "commit"]).env, v(&["HUSKY=0"]));
    assert!(find(&a, &["git", "push"]).env.is_empty());
}

/// An alias's value is the command a later use of its name runs; a script read from the
/// command's own input (`source /dev/stdin`, `bash /dev/stdin`) is that input.
#[test]
fn alias_values_and_scripts_on_stdin_are_analysed() {
    let a = analyse_shell("alias gp='git push origin main'\ngp");
    find(&a, &["git", "push", "origin", "main"]);
    let a = analyse_shell("alias ll='ls -la'");
    find(&a, &["ls", "-la"]);
    for text in [
        "source /dev/stdin <<< 'git push'",
        ". /dev/stdin <<< 'git push'",
        "echo 'git push' | source /dev/stdin",
        "bash /dev/stdin <<< 'git push'",
        "sh /proc/self/fd/0 <<'EOF'\ngit push\nEOF",
    ] {
        let a = analyse_shell(text);
        find(&a, &["git", "push"]);
        assert!(a.opaque.is_empty(), "{text}: {:?}", a.opaque);
    }
    // Input known only at run time is opaque.
    let a = analyse_shell("curl -s https://example.invalid/x | source /dev/stdin");
    assert!(!a.opaque.is_empty());
}

/// `docker run IMAGE CMD` and `docker compose run SERVICE CMD` start CMD in a new container
/// with the service's network and credentials: CMD is judged (`compose run web rails db:drop`
/// was judged as `docker` alone).
#[test]
fn the_command_docker_run_starts_is_analysed() {
    let a = analyse_shell("docker compose run --rm -e RAILS_ENV=test web rails db:drop");
    let drop = find(&a, &["rails", "db:drop"]);
    assert!(drop.remote.is_none(), "{drop:?}");
    let a = analyse_shell("docker run --rm -v /src:/w -w /w --name x node:20 npm publish");
    find(&a, &["npm", "publish"]);
    let a = analyse_shell("podman run --rm --entrypoint psql postgres:16 -c 'DROP TABLE t'");
    find(&a, &["psql", "-c", "DROP TABLE t"]);
    let a = analyse_shell("docker container run --rm alpine sh -c 'git push'");
    find(&a, &["git", "push"]);
    // No command: the image's own.
    let a = analyse_shell("docker run -d -p 8080:80 nginx");
    assert_eq!(a.commands.len(), 1, "{:?}", a.commands);
}

/// Commands behind options that were read as operands or not looked into: npm's `-w NAME`,
/// pnpm's `-F SELECTOR`, `yarn workspace NAME exec`, `expect -c 'spawn CMD'`, `less +!CMD`.
#[test]
fn commands_behind_workspace_options_expect_and_less_are_analysed() {
    for text in [
        "npm exec -w packages/a -- git push",
        "npm -w packages/a exec git push",
        "pnpm -F a exec git push",
        "yarn workspace a exec git push",
        "expect -c 'set timeout 5; spawn -noecho git push; interact'",
        "less '+!git push' README.md",
    ] {
        let a = analyse_shell(text);
        find(&a, &["git", "push"]);
    }
    let a = analyse_shell("less +G README.md");
    assert_eq!(a.commands.len(), 1, "{:?}", a.commands);
}

/// What a command writes to its one file, when the text says it (lookahead reads a script
/// written and run in the same text as written).
#[test]
fn the_content_written_to_a_file_is_known_when_the_text_says_it() {
    let content = |s: &str| -> Vec<Option<String>> {
        analyse_shell(s)
            .commands
            .into_iter()
            .map(|c| c.content)
            .collect()
    };
    let one = |t: &str| vec![Some(t.to_owned())];
    assert_eq!(
        content("cat <<'EOF' > a.sh\ngit push\nEOF\n"),
        one("git push\n")
    );
    assert_eq!(
        content("cat > a.sh <<EOF\ngit push $B\nEOF\n"),
        one("git push $B\n")
    );
    assert_eq!(content("cat - <<< 'git push' > a.sh"), one("git push\n"));
    assert_eq!(content("echo git push > a.sh"), one("git push\n"));
    assert_eq!(content("tee a.sh <<< 'git push'"), one("git push\n"));
    assert_eq!(
        content("printf '#!/bin/sh\\ngit push\\t--tags # 100%%\\n' > a.sh"),
        one("#!/bin/sh\ngit push\t--tags # 100%\n")
    );
    for s in [
        "cat <<'EOF' >> a.sh\ngit push\nEOF\n",
        "cat b.sh <<'EOF' > a.sh\ngit push\nEOF\n",
        "cat <<'EOF' > a.sh 2> err.log\ngit push\nEOF\n",
        "cat <<'EOF' > \"$F\"\ngit push\nEOF\n",
        "echo -e 'git push' > a.sh",
        "tee -a a.sh <<< 'git push'",
        "printf '%s\\n' 'git push' > a.sh",
        "printf 'git push\\c' > a.sh",
        "cat a.sh > b.sh",
    ] {
        assert_eq!(content(s), vec![None], "{s}");
    }
}

/// tree-sitter-bash can join the lines after a pipeline continued over lines into one command
/// (`git status git push ls`): a `git push` hidden as an argument of `git status`, `auto`.
/// Such a command is opaque; the same lines parsed right, and continued lines, are not.
#[test]
fn a_command_the_parser_joined_across_lines_is_opaque() {
    for s in [
        "X=1\nls |\nls |\ngit status\ngit push --force\nls &&\ntrue",
        "ls |\nls |\ngit status\ngit push\ncat <<EOF\nx\nEOF",
        "X=1\nls |\nls |\nexport A\ngit push\nls &&\ntrue",
        "X=1\nls |\nls |\nunset A\ngit push\nls &&\ntrue",
        "Y=1\n\\git push",
        "export A=1\n\\git push",
    ] {
        let a = analyse_shell(s);
        assert!(
            a.opaque
                .iter()
                .any(|o| o.reason.contains("joined lines") && o.text.contains("git push")),
            "{s:?}: {a:?}"
        );
        assert!(
            !a.commands
                .iter()
                .any(|c| c.argv.len() > 2 && c.argv[..2] == ["git", "status"]),
            "{s:?}: {a:?}"
        );
    }
    for (s, want) in [
        ("X=1\ncat f |\n  grep x |\n  sort\necho done", 4),
        ("X=1\necho a \\\n  b \\\n  c\nls", 2),
        ("X=1\ncat <<EOF > out\nbody\nEOF\nls", 2),
        ("ls |\nls |\ngit status\ngit push\nls", 5),
        (
            "X=1\ndeclare -a arr=(\n a\n b\n)\nexport A=1 \\\n  B=2\nls",
            1,
        ),
    ] {
        let a = analyse_shell(s);
        assert!(a.opaque.is_empty(), "{s:?}: {a:?}");
        assert_eq!(a.commands.len(), want, "{s:?}: {a:?}");
    }
}
