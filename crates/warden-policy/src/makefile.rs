//! A reader of Makefiles for lookahead: rules, recipes and plain variables, enough to list the
//! commands `make GOAL` would run, without running make (whose `$(shell …)` executes while
//! the Makefile is read). Conditionals are read as if every branch were taken; functions other
//! than `$(shell …)` expand to a run-time value; `$(shell CMD)` is reported as the command CMD.

/// A parsed Makefile.
pub(crate) struct Makefile {
    vars: Vec<(String, String)>,
    overrides: Vec<(String, String)>,
    rules: Vec<Rule>,
    /// `$(shell …)` outside recipes: run while make reads the file.
    parse_time: Vec<(usize, String)>,
    first_goal: Option<String>,
}

struct Rule {
    targets: Vec<String>,
    prereqs: Vec<String>,
    recipe: Vec<(usize, String)>,
}

/// Most targets visited for one goal list.
const MAX_TARGETS: usize = 256;
/// Most nested variable expansions.
const MAX_EXPANSION: usize = 16;

fn logical_lines(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    let mut pending: Option<(usize, String)> = None;
    for (n, raw) in text.lines().enumerate() {
        let line = raw.strip_suffix('\r').unwrap_or(raw);
        let (start, mut cur) = match pending.take() {
            Some((s, mut c)) => {
                c.push(' ');
                c.push_str(line.trim_start());
                (s, c)
            }
            None => (n + 1, line.to_string()),
        };
        let backslashes = cur.len() - cur.trim_end_matches('\\').len();
        if backslashes % 2 == 1 {
            cur.pop();
            pending = Some((start, cur));
        } else {
            out.push((start, cur));
        }
    }
    if let Some(p) = pending {
        out.push(p);
    }
    out
}

fn strip_comment(s: &str) -> &str {
    let b = s.as_bytes();
    for (i, &c) in b.iter().enumerate() {
        if c == b'#' && (i == 0 || b[i - 1] != b'\\') {
            return &s[..i];
        }
    }
    s
}

/// The operator of a variable assignment and its position, unless a rule's `:` comes first.
fn assignment(s: &str) -> Option<(usize, &'static str)> {
    let eq = s.find('=')?;
    let before = &s[..eq];
    for (op, len) in [
        ("::=", 3usize),
        (":::=", 4),
        (":=", 2),
        ("?=", 2),
        ("+=", 2),
        ("!=", 2),
    ] {
        if eq + 1 >= len && s[..eq + 1].ends_with(op) {
            let at = eq + 1 - len;
            if !s[..at].contains(':') {
                return Some((at, op));
            }
        }
    }
    if !before.contains(':') {
        return Some((eq, "="));
    }
    None
}

impl Makefile {
    pub(crate) fn parse(text: &str, overrides: &[(String, String)]) -> Makefile {
        let mut mk = Makefile {
            vars: Vec::new(),
            overrides: overrides.to_vec(),
            rules: Vec::new(),
            parse_time: Vec::new(),
            first_goal: None,
        };
        let mut current: Vec<usize> = Vec::new();
        let mut in_define = false;
        for (n, line) in logical_lines(text) {
            if in_define {
                if line.trim() == "endef" {
                    in_define = false;
                }
                continue;
            }
            if let Some(recipe) = line.strip_prefix('\t')
                && !current.is_empty()
            {
                for &r in &current {
                    mk.rules[r].recipe.push((n, recipe.to_string()));
                }
                continue;
            }
            let t = strip_comment(&line).trim();
            if t.is_empty() {
                continue;
            }
            let first = t.split_whitespace().next().unwrap_or("");
            if matches!(first, "define") {
                in_define = true;
                continue;
            }
            if matches!(
                first,
                "ifeq"
                    | "ifneq"
                    | "ifdef"
                    | "ifndef"
                    | "else"
                    | "endif"
                    | "include"
                    | "-include"
                    | "sinclude"
                    | "vpath"
                    | "unexport"
            ) {
                continue;
            }
            let t = t
                .strip_prefix("export ")
                .or_else(|| t.strip_prefix("override "))
                .unwrap_or(t)
                .trim();
            if t.contains("$(shell ") || t.contains("${shell ") {
                for cmd in shell_calls(t) {
                    mk.parse_time.push((n, cmd));
                }
            }
            if let Some((at, op)) = assignment(t) {
                let name = t[..at].trim().to_string();
                let value = t[at + op.len()..].trim().to_string();
                current.clear();
                if op == "!=" {
                    // `VAR != cmd`: the shell runs cmd while the file is read.
                    mk.parse_time.push((n, value.clone()));
                    continue;
                }
                mk.assign(name, value, op);
                continue;
            }
            let Some(colon) = t.find(':') else {
                continue;
            };
            let targets: Vec<String> = t[..colon].split_whitespace().map(String::from).collect();
            let rest = t[colon + 1..].trim_start_matches(':');
            if let Some((at, op)) = assignment(rest) {
                // A target-specific variable: read as a global one (an over-approximation).
                let name = rest[..at].trim().to_string();
                let value = rest[at + op.len()..].trim().to_string();
                mk.assign(name, value, op);
                continue;
            }
            let (prereqs, inline) = match rest.split_once(';') {
                Some((p, r)) => (p, Some(r.trim().to_string())),
                None => (rest, None),
            };
            let prereqs: Vec<String> = prereqs
                .split_whitespace()
                .filter(|p| *p != "|")
                .map(String::from)
                .collect();
            if mk.first_goal.is_none()
                && let Some(g) = targets
                    .iter()
                    .find(|g| !g.starts_with('.') && !g.contains('%'))
            {
                mk.first_goal = Some(g.clone());
            }
            current.clear();
            current.push(mk.rules.len());
            mk.rules.push(Rule {
                targets,
                prereqs,
                recipe: inline.map(|r| vec![(n, r)]).unwrap_or_default(),
            });
        }
        mk
    }

    fn assign(&mut self, name: String, value: String, op: &str) {
        if self.overrides.iter().any(|(k, _)| *k == name) {
            return;
        }
        match op {
            "?=" if self.vars.iter().any(|(k, _)| *k == name) => {}
            "+=" => match self.vars.iter_mut().rev().find(|(k, _)| *k == name) {
                Some((_, v)) => {
                    v.push(' ');
                    v.push_str(&value);
                }
                None => self.vars.push((name, value)),
            },
            _ => self.vars.push((name, value)),
        }
    }

    fn var(&self, name: &str) -> Option<String> {
        if let Some((_, v)) = self.overrides.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        if let Some((_, v)) = self.vars.iter().rev().find(|(k, _)| k == name) {
            return Some(v.clone());
        }
        // make's built-in defaults for the common ones.
        let builtin = match name {
            "MAKE" => "make",
            "CC" => "cc",
            "CXX" => "g++",
            "CPP" => "cc -E",
            "AR" => "ar",
            "AS" => "as",
            "LD" => "ld",
            "RM" => "rm -f",
            "SHELL" => "/bin/sh",
            "INSTALL" => "install",
            _ => return None,
        };
        Some(builtin.to_string())
    }

    /// The commands (line, shell text) `make GOALS` runs: parse-time `$(shell …)` first, then
    /// for each goal the recipes of its prerequisites and its own. With `dry_run`, only lines
    /// make runs anyway (`+` lines and those naming `$(MAKE)`).
    pub(crate) fn commands(&self, goals: &[String], dry_run: bool) -> Vec<(usize, String)> {
        let mut out = self.parse_time.clone();
        let goals: Vec<String> = if goals.is_empty() {
            self.first_goal.iter().cloned().collect()
        } else {
            goals.to_vec()
        };
        let mut seen: Vec<String> = Vec::new();
        for g in &goals {
            self.visit(g, dry_run, &mut seen, &mut out);
        }
        out
    }

    fn visit(
        &self,
        goal: &str,
        dry_run: bool,
        seen: &mut Vec<String>,
        out: &mut Vec<(usize, String)>,
    ) {
        if seen.len() >= MAX_TARGETS || seen.iter().any(|s| s == goal) {
            return;
        }
        seen.push(goal.to_string());
        let explicit: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| r.targets.iter().any(|t| t == goal))
            .collect();
        let (rules, stem): (Vec<&Rule>, String) = if explicit.iter().any(|r| !r.recipe.is_empty())
            || self
                .rules
                .iter()
                .all(|r| r.targets.iter().all(|t| !t.contains('%')))
        {
            (explicit, String::new())
        } else {
            // A pattern rule (`%.o: %.c`) supplies the recipe.
            let mut found = None;
            for r in &self.rules {
                for t in &r.targets {
                    if let Some(stem) = pattern_stem(t, goal) {
                        found = Some((r, stem));
                        break;
                    }
                }
                if found.is_some() {
                    break;
                }
            }
            let mut rules = explicit;
            let stem = match found {
                Some((r, s)) => {
                    rules.push(r);
                    s
                }
                None => String::new(),
            };
            (rules, stem)
        };
        let prereqs: Vec<String> = rules
            .iter()
            .flat_map(|r| r.prereqs.iter())
            .map(|p| p.replace('%', &stem))
            .map(|p| self.expand(&p, goal, &[], &stem, 0, &mut Vec::new()))
            .flat_map(|p| p.split_whitespace().map(String::from).collect::<Vec<_>>())
            .collect();
        for p in &prereqs {
            self.visit(p, dry_run, seen, out);
        }
        for r in rules {
            for (n, line) in &r.recipe {
                let trimmed = line.trim_start();
                let flags: String = trimmed
                    .chars()
                    .take_while(|c| "@-+ \t".contains(*c))
                    .collect();
                let body = &trimmed[flags.len()..];
                if dry_run
                    && !flags.contains('+')
                    && !body.contains("$(MAKE)")
                    && !body.contains("${MAKE}")
                {
                    for cmd in shell_calls(body) {
                        out.push((*n, cmd));
                    }
                    continue;
                }
                let mut calls = Vec::new();
                let text = self.expand(body, goal, &prereqs, &stem, 0, &mut calls);
                out.extend(calls.into_iter().map(|c| (*n, c)));
                if !text.trim().is_empty() {
                    out.push((*n, text));
                }
            }
        }
    }

    /// Expands make references in `s` for shell text: variables by value, automatic variables
    /// by the target, `$$` to `$`; `$(shell CMD)` is collected in `calls` and, like other
    /// functions and unknown variables, becomes a run-time shell value `${MAKE_…}`.
    fn expand(
        &self,
        s: &str,
        target: &str,
        prereqs: &[String],
        stem: &str,
        depth: usize,
        calls: &mut Vec<String>,
    ) -> String {
        let b = s.as_bytes();
        let mut out = String::with_capacity(s.len());
        let mut i = 0;
        while i < b.len() {
            if b[i] != b'$' || i + 1 >= b.len() {
                let c = s[i..].chars().next().unwrap_or(' ');
                out.push(c);
                i += c.len_utf8();
                continue;
            }
            let c = b[i + 1];
            match c {
                b'$' => {
                    out.push('$');
                    i += 2;
                }
                b'(' | b'{' => {
                    let close = if c == b'(' { b')' } else { b'}' };
                    let mut level = 0usize;
                    let mut j = i + 1;
                    while j < b.len() {
                        if b[j] == c {
                            level += 1;
                        } else if b[j] == close {
                            level -= 1;
                            if level == 0 {
                                break;
                            }
                        }
                        j += 1;
                    }
                    let inner = &s[i + 2..j.min(s.len())];
                    i = (j + 1).min(b.len());
                    out.push_str(&self.reference(inner, target, prereqs, stem, depth, calls));
                }
                b'@' => {
                    out.push_str(target);
                    i += 2;
                }
                b'<' => {
                    out.push_str(prereqs.first().map_or("", String::as_str));
                    i += 2;
                }
                b'^' | b'+' | b'?' => {
                    out.push_str(&prereqs.join(" "));
                    i += 2;
                }
                b'*' => {
                    out.push_str(stem);
                    i += 2;
                }
                _ => {
                    let name = (c as char).to_string();
                    out.push_str(&self.reference(&name, target, prereqs, stem, depth, calls));
                    i += 2;
                }
            }
        }
        out
    }

    fn reference(
        &self,
        inner: &str,
        target: &str,
        prereqs: &[String],
        stem: &str,
        depth: usize,
        calls: &mut Vec<String>,
    ) -> String {
        let sanitize = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() {
                        c.to_ascii_uppercase()
                    } else {
                        '_'
                    }
                })
                .collect()
        };
        if depth >= MAX_EXPANSION {
            return "${MAKE_EXPANSION}".into();
        }
        if let Some(cmd) = inner.strip_prefix("shell ") {
            let cmd = self.expand(cmd, target, prereqs, stem, depth + 1, calls);
            calls.push(cmd);
            return "${MAKE_SHELL_OUTPUT}".into();
        }
        if inner.contains([' ', ',', ':']) {
            // A function (`wildcard`, `patsubst`, …) or a substitution reference.
            let f = inner.split([' ', ',', ':']).next().unwrap_or("");
            return format!("${{MAKE_{}}}", sanitize(f));
        }
        match self.var(inner) {
            Some(v) => self.expand(&v, target, prereqs, stem, depth + 1, calls),
            None => format!("${{MAKE_{}}}", sanitize(inner)),
        }
    }
}

/// The stem when `target` matches the pattern `pattern` (`%.o` and `main.o` → `main`).
fn pattern_stem(pattern: &str, target: &str) -> Option<String> {
    let (pre, post) = pattern.split_once('%')?;
    let rest = target.strip_prefix(pre)?.strip_suffix(post)?;
    (!rest.is_empty()).then(|| rest.to_string())
}

/// The commands of `$(shell …)` calls in `s`.
fn shell_calls(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    for open in ["$(shell ", "${shell "] {
        let mut from = 0;
        while let Some(p) = s[from..].find(open) {
            let start = from + p + open.len();
            let close = if open.starts_with("$(") { ')' } else { '}' };
            let opener = if close == ')' { '(' } else { '{' };
            let mut level = 1usize;
            let mut end = s.len();
            for (k, ch) in s[start..].char_indices() {
                if ch == opener {
                    level += 1;
                } else if ch == close {
                    level -= 1;
                    if level == 0 {
                        end = start + k;
                        break;
                    }
                }
            }
            out.push(s[start..end].to_string());
            from = end.min(s.len());
            if from >= s.len() {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MK: &str = "\
TF = terraform
DIR := infra
VERSION != git describe

.PHONY: deploy build

all: build

build: gen
\t@echo building $@
\tcargo build --release

gen:
\t-./gen.sh $(DIR)

deploy: build
\tcd $(DIR) && $(TF) apply -auto-approve
\t$(MAKE) notify TAG=$(shell git rev-parse HEAD)

%.o: %.c
\t$(CC) -c $< -o $@
";

    #[test]
    fn recipes_of_a_goal_and_its_prerequisites() {
        let mk = Makefile::parse(MK, &[]);
        let cmds = mk.commands(&["deploy".into()], false);
        let texts: Vec<&str> = cmds.iter().map(|(_, t)| t.as_str()).collect();
        assert_eq!(
            texts,
            vec![
                "git describe",
                "./gen.sh infra",
                "echo building build",
                "cargo build --release",
                "cd infra && terraform apply -auto-approve",
                "git rev-parse HEAD",
                "make notify TAG=${MAKE_SHELL_OUTPUT}",
            ]
        );
        assert_eq!(cmds[4].0, 17);
    }

    #[test]
    fn default_goal_patterns_overrides_and_dry_runs() {
        let mk = Makefile::parse(MK, &[("TF".into(), "echo".into())]);
        let all: Vec<String> = mk
            .commands(&[], false)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(all.contains(&"cargo build --release".to_string()));
        assert!(!all.iter().any(|t| t.contains("apply")));
        let d: Vec<String> = mk
            .commands(&["deploy".into()], false)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(d.contains(&"cd infra && echo apply -auto-approve".to_string()));
        let o: Vec<String> = mk
            .commands(&["main.o".into()], false)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert_eq!(o.last().map(String::as_str), Some("cc -c main.c -o main.o"));
        let n: Vec<String> = mk
            .commands(&["deploy".into()], true)
            .into_iter()
            .map(|(_, t)| t)
            .collect();
        assert!(n.iter().any(|t| t.starts_with("make notify")));
        assert!(!n.iter().any(|t| t.contains("apply")));
    }
}
