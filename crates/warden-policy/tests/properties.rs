//! Property tests: wrapping a command never lowers its tier, and a compound's tier is the
//! strictest of its parts.

use proptest::prelude::*;
use std::path::PathBuf;
use std::sync::OnceLock;
use warden_policy::{Action, Context, Policy, Tier};

fn policy() -> &'static Policy {
    static P: OnceLock<Policy> = OnceLock::new();
    P.get_or_init(Policy::builtin)
}

fn ctx() -> Context {
    Context {
        workspace: PathBuf::from("/work/ws"),
        cwd: PathBuf::from("/work/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    }
}

fn tier(script: &str) -> Tier {
    policy()
        .classify(
            &Action::Shell {
                script: script.to_owned(),
                cwd: None,
            },
            &ctx(),
        )
        .tier
}

/// Single-line commands from the corpus that compose cleanly (no directory changes, no exported
/// variables — both carry into the next command — no trailing background operator, no heredocs,
/// no comments).
fn pool() -> &'static Vec<String> {
    static POOL: OnceLock<Vec<String>> = OnceLock::new();
    POOL.get_or_init(|| {
        include_str!("data/corpus.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .filter_map(|l| l.split_once('\t'))
            .filter(|(t, _)| !t.ends_with('!'))
            .map(|(_, s)| s.to_owned())
            .filter(|s| {
                !s.contains('⏎')
                    && !s.contains("cd ")
                    && !s.contains("pushd")
                    && !s.contains("export ")
                    && !s.contains("declare -x")
                    && !s.trim_end().ends_with('&')
                    && !s.contains('#')
                    && !s.contains(";;")
            })
            .collect()
    })
}

fn single_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[derive(Debug, Clone, Copy)]
enum Wrapper {
    BashC,
    ShLc,
    Env,
    Sudo,
    Timeout,
    Nice,
    AndTrue,
    Subshell,
    Group,
}

fn wrap(w: Wrapper, cmd: &str) -> String {
    match w {
        Wrapper::BashC => format!("bash -c {}", single_quote(cmd)),
        Wrapper::ShLc => format!("sh -lc {}", single_quote(cmd)),
        Wrapper::Env => format!("env X=1 {cmd}"),
        Wrapper::Sudo => format!("sudo {cmd}"),
        Wrapper::Timeout => format!("timeout 5 {cmd}"),
        Wrapper::Nice => format!("nice -n 5 {cmd}"),
        Wrapper::AndTrue => format!("{cmd} && true"),
        Wrapper::Subshell => format!("( {cmd} )"),
        Wrapper::Group => format!("{{ {cmd}; }}"),
    }
}

fn wrapper() -> impl Strategy<Value = Wrapper> {
    prop_oneof![
        Just(Wrapper::BashC),
        Just(Wrapper::ShLc),
        Just(Wrapper::Env),
        Just(Wrapper::Sudo),
        Just(Wrapper::Timeout),
        Just(Wrapper::Nice),
        Just(Wrapper::AndTrue),
        Just(Wrapper::Subshell),
        Just(Wrapper::Group),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn wrapping_never_lowers_the_tier(i in any::<prop::sample::Index>(), ws in prop::collection::vec(wrapper(), 1..4)) {
        let cmd = i.get(pool()).clone();
        let base = tier(&cmd);
        let mut wrapped = cmd.clone();
        for w in &ws {
            // `env`, `sudo`, `timeout` and `nice` prefix a simple command; a compound goes in a group.
            // `timeout` and `nice` run their first word as the program, so leading `VAR=x`
            // assignments also need a shell in between.
            let compound = wrapped.contains("&&") || wrapped.contains("||") || wrapped.contains(';') || wrapped.contains('|');
            let assigns = wrapped.split_whitespace().next().is_some_and(|w| w.contains('=') && !w.starts_with('='));
            let inner = if (matches!(w, Wrapper::Env | Wrapper::Sudo | Wrapper::Timeout | Wrapper::Nice) && compound)
                || (matches!(w, Wrapper::Timeout | Wrapper::Nice) && assigns)
            {
                format!("bash -c {}", single_quote(&wrapped))
            } else {
                wrapped.clone()
            };
            wrapped = wrap(*w, &inner);
        }
        let t = tier(&wrapped);
        prop_assert!(t >= base, "{cmd:?} is {base} but {wrapped:?} is {t}");
    }

    #[test]
    fn and_is_the_max_of_its_parts(a in any::<prop::sample::Index>(), b in any::<prop::sample::Index>()) {
        let a = a.get(pool()).clone();
        let b = b.get(pool()).clone();
        let (ta, tb) = (tier(&a), tier(&b));
        let both = format!("{a} && {b}");
        let t = tier(&both);
        prop_assert_eq!(t, ta.max(tb), "{:?}: {} && {} gave {}", both, ta, tb, t);
    }
}

#[test]
fn the_pool_is_large_and_varied() {
    let tiers: std::collections::BTreeSet<Tier> = pool().iter().map(|c| tier(c)).collect();
    assert!(pool().len() > 300, "pool has {}", pool().len());
    assert_eq!(
        tiers.len(),
        4,
        "the pool should cover every tier: {tiers:?}"
    );
}
