//! The runtime layers' answers: every program a governed action runs inside its sandbox
//! (seccomp user notification, `warden-sandbox`) and every request it sends through the egress
//! proxy (`warden-proxy`'s [`Judge`]) is put to [`Governor::nested`] in the running action's
//! context and granted tier, and the refused ones are kept for the action's verdict, so the
//! caller can report them after the command ends (DESIGN.md, "Runtime enforcement").

use crate::{Governor, NestedAnswer, NestedLayer, RunningAction, action_text};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock, Weak};
use warden_policy::{Action, Decision, Tier};
use warden_proxy::{Judge, JudgeFuture, Judgement, NetRequest};
use warden_sandbox::{ExecDecider, ExecEvent, ExecGovernance, ExecVerdict, PendingExec};

/// The rule and tier a nested operation was judged by.
type Judged = (String, Tier);

/// A nested operation the runtime layers refused (or held and then refused) inside an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedRefusal {
    /// Which layer saw it.
    pub layer: NestedLayer,
    /// The operation as a person reads it.
    pub text: String,
    /// `Refuse` (async: a request to re-run the action was filed) or `Deny`.
    pub answer: NestedAnswer,
    /// Why, one line.
    pub reason: String,
    /// The request filed to re-run the action at the higher tier (async).
    pub ticket: Option<String>,
    /// Its reason already reached the caller's stderr (the supervisor's line inside the
    /// command passed through `warden run`'s streamed output): report it without repeating it.
    pub shown: bool,
}

/// The nested decisions of one running action: which action (set once it is cleared and its
/// intent is durable, before its command starts) and what was refused.
pub(crate) struct NestedGate {
    governor: Governor,
    /// The environment the action's command started with: a variable that carries code with
    /// the same value there was part of what was cleared (see [`NestedGate::environment_floor`]).
    started_with: Vec<(String, String)>,
    /// The variables of [`rule_variables`].
    switches: Vec<String>,
    running: OnceLock<RunningAction>,
    refused: Mutex<Vec<NestedRefusal>>,
    /// Classifications of execs that read no file ahead, by argv and working directory (see
    /// [`ExecMemo`]).
    memo: Mutex<ExecMemo>,
    /// Itself, for the proxy's judge to hand to a blocking thread.
    me: Weak<NestedGate>,
}

impl NestedGate {
    pub(crate) fn new(governor: Governor, started_with: Vec<(String, String)>) -> Arc<Self> {
        let switches = rule_variables(governor.policy());
        Arc::new_cyclic(|me| Self {
            governor,
            started_with,
            switches,
            running: OnceLock::new(),
            refused: Mutex::new(Vec::new()),
            memo: Mutex::new(ExecMemo::default()),
            me: me.clone(),
        })
    }

    /// The action the nested operations belong to (first call wins).
    pub(crate) fn set_running(&self, running: RunningAction) {
        let _ = self.running.set(running);
    }

    /// Is `name` one of the variables the rules look for ([`rule_variables`])?
    fn is_switch(&self, name: &str) -> bool {
        self.switches.iter().any(|s| s == name)
    }

    /// The exec governance for the sandbox of this action.
    pub(crate) fn exec_governance(self: &Arc<Self>) -> ExecGovernance {
        let mut g = ExecGovernance::new(Arc::clone(self) as Arc<dyn ExecDecider>);
        g.env_of_interest.extend(self.switches.iter().cloned());
        g
    }

    /// What was refused so far.
    pub(crate) fn refused(&self) -> Vec<NestedRefusal> {
        self.refused.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// The judge for the egress proxy of this action.
    pub(crate) fn net_judge(self: &Arc<Self>) -> Arc<dyn Judge> {
        Arc::clone(self) as Arc<dyn Judge>
    }

    /// Decide `nested` as `layer` saw it: `Ok(rule, tier)` to proceed, else the one-line reason
    /// (with the rule and tier). `floor`: the least tier it counts as (a credential it carries).
    pub(crate) fn decide(
        &self,
        layer: NestedLayer,
        nested: &Action,
        floor: Option<(Tier, String)>,
    ) -> std::result::Result<Judged, (String, Option<Judged>)> {
        // Only a refusal needs the operation's text (not made for the thousands that proceed).
        let text = || action_text(nested);
        let Some(running) = self.running.get() else {
            // Cannot happen through `start` (the command is gated until the action is set);
            // refusing is the safe answer if it ever did.
            return Err(("the action is not cleared yet".into(), None));
        };
        let decision = self.classify(running, nested);
        let (refusal, judged) = match self
            .governor
            .nested_classified(running, layer, nested, decision, floor)
        {
            Ok(v) if v.answer == NestedAnswer::Proceed => {
                return Ok((v.decision.rule, v.decision.tier));
            }
            Ok(v) => (
                NestedRefusal {
                    layer,
                    text: text(),
                    answer: v.answer,
                    reason: v.reason,
                    ticket: v.ticket,
                    shown: false,
                },
                Some((v.decision.rule, v.decision.tier)),
            ),
            Err(e) => (
                NestedRefusal {
                    layer,
                    text: text(),
                    answer: NestedAnswer::Deny,
                    reason: format!("the decision could not be recorded: {e}"),
                    ticket: None,
                    shown: false,
                },
                None,
            ),
        };
        let line = refusal.why();
        if let Ok(mut v) = self.refused.lock() {
            v.push(refusal);
        }
        Err((line, judged))
    }
}

impl NestedGate {
    /// How many exec classifications the memo holds.
    #[cfg(test)]
    pub(crate) fn memoized(&self) -> usize {
        self.memo.lock().map(|m| m.0.len()).unwrap_or(0)
    }

    /// The classification of `nested` in `running`'s context: an exec's from the memo when
    /// the same argv ran in the same directory before and its classification read no file.
    fn classify(&self, running: &RunningAction, nested: &Action) -> Decision {
        let Action::Exec {
            argv,
            cwd: Some(cwd),
        } = nested
        else {
            return self.governor.classify(nested, &running.context);
        };
        let key = (argv.clone(), cwd.clone());
        if let Some(d) = self.memo.lock().ok().and_then(|m| m.get(&key)) {
            return d;
        }
        let (decision, read) = crate::lookahead::classify_noting_reads(
            self.governor.policy(),
            nested,
            &running.context,
        );
        if !read && let Ok(mut m) = self.memo.lock() {
            m.put(key, decision.clone());
        }
        decision
    }
}

/// Classifications of the execs of one action that asked lookahead for no file, by argv and
/// working directory. The policy is pure and reads files only through lookahead, so such a
/// classification is the same the next time: an exec storm (a shell loop running one program, a
/// test suite running `git status` after each case) classifies each command line once. Every
/// exec is still judged against the granted tier and recorded. Bounded: emptied when full.
#[derive(Default)]
struct ExecMemo(HashMap<(Vec<String>, PathBuf), Decision>);

impl ExecMemo {
    /// At most this many command lines are kept (a build's are mostly all different).
    const MAX: usize = 512;

    fn get(&self, key: &(Vec<String>, PathBuf)) -> Option<Decision> {
        self.0.get(key).cloned()
    }

    fn put(&mut self, key: (Vec<String>, PathBuf), decision: Decision) {
        if self.0.len() >= Self::MAX {
            self.0.clear();
        }
        self.0.insert(key, decision);
    }
}

impl NestedRefusal {
    /// Why, with the ticket filed: `why (re-run request filed: ticket T)`.
    pub fn why(&self) -> String {
        match &self.ticket {
            Some(t) => format!("{} (re-run request filed: ticket {t})", self.reason),
            None => self.reason.clone(),
        }
    }

    /// One line for the person after the command ended: `refused `git push`: why …`; when the
    /// reason was already shown, `refused `git push` (why: above[; ticket T])`, so it is printed
    /// once.
    pub fn line(&self) -> String {
        if self.shown {
            let ticket = self
                .ticket
                .as_ref()
                .map(|t| format!("; re-run request filed: ticket {t}"))
                .unwrap_or_default();
            format!("refused `{}` (why: above{ticket})", self.text)
        } else {
            format!("refused `{}`: {}", self.text, self.why())
        }
    }
}

impl ExecDecider for NestedGate {
    fn decide(&self, exec: &ExecEvent, _pending: &PendingExec<'_>) -> ExecVerdict {
        if exec.truncated {
            return ExecVerdict::Refuse {
                reason: "its arguments are too large to judge".into(),
            };
        }
        let action = Action::Exec {
            argv: exec.argv.clone(),
            cwd: Some(exec.cwd.clone()),
        };
        let floor = self.environment_floor(exec);
        match self.decide(NestedLayer::Exec, &action, floor) {
            Ok(_) => ExecVerdict::Proceed,
            Err((reason, _)) => ExecVerdict::Refuse { reason },
        }
    }
}

/// Variables that load code into a program without any exec of its own (a library into every
/// dynamically linked program): judged with each exec that carries them, see
/// [`NestedGate::environment_floor`]. The other variables that carry code name a command the
/// program runs (`GIT_SSH_COMMAND`, `PAGER`, `EDITOR`, …), and that exec is judged when it
/// happens; `NODE_OPTIONS` and `GIT_CONFIG_PARAMETERS` are set for their children by ordinary
/// tools (coverage runners, `tsx`, `git -c`), so judging them here would refuse everyday runs.
const LOADERS: &[&str] = &["LD_PRELOAD", "LD_AUDIT"];

/// The variables the governance file's rules look for (`any_env = ["HUSKY=0"]`), but none whose
/// name says it holds a secret (`*TOKEN*`, …): switches that
/// change what the program they are set for does without naming any code (`HUSKY=0 git commit`
/// skips the team's hooks). The supervisor reads them from every exec, and one the action's
/// programs set is judged with the exec's own command line, as the same assignment typed before
/// it would be.
pub(crate) fn rule_variables(policy: &warden_policy::Policy) -> Vec<String> {
    let mut names: Vec<String> = policy
        .config()
        .rules
        .iter()
        .flat_map(|r| &r.any_env)
        .filter_map(|pattern| pattern.split_once('=').map(|(name, _)| name))
        .filter(|name| !name.is_empty() && !name.contains(['*', '?', '[']))
        // Never a secret's value into a decision (the list the sandbox scrubs by name).
        .filter(|name| {
            !warden_sandbox::BUILTIN_ENV_SCRUB
                .iter()
                .any(|p| warden_sandbox::env_name_matches(p, name))
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

impl NestedGate {
    /// The tier an exec's environment asks for: a variable of [`LOADERS`] or [`rule_variables`] that
    /// the action's programs set themselves — absent from, or different in, the environment the
    /// command started with — is judged as the same assignment typed before the command would
    /// be (`LD_PRELOAD=./x.so ls`, `HUSKY=0 git commit` are `sync`), so a script cannot load
    /// code or switch checks off past its tier by exporting a variable. `None` when there is
    /// none or it is `auto`.
    pub(crate) fn environment_floor(&self, exec: &ExecEvent) -> Option<(Tier, String)> {
        let set: Vec<&(String, String)> = exec
            .env
            .iter()
            .filter(|(k, v)| {
                // (An empty value loads nothing: a script clearing a preload is not judged.)
                (LOADERS.contains(&k.as_str()) || self.is_switch(k))
                    && !v.trim().is_empty()
                    && !self.started_with.iter().any(|(sk, sv)| sk == k && sv == v)
            })
            .collect();
        if set.is_empty() {
            return None;
        }
        let running = self.running.get()?;
        let assignments: Vec<String> = set
            .iter()
            .map(|(k, v)| format!("{k}={}", warden_policy::display::quote_word(v)))
            .collect();
        // A preload is judged alone (whatever the program); a switch with the command it is for.
        let command = if set.iter().any(|(k, _)| self.is_switch(k)) {
            exec.argv
                .iter()
                .map(|a| warden_policy::display::quote_word(a))
                .collect::<Vec<_>>()
                .join(" ")
        } else {
            "true".to_owned()
        };
        let typed = Action::Shell {
            script: format!("{} {command}", assignments.join(" ")),
            cwd: Some(exec.cwd.clone()),
        };
        let decision = self.governor.classify(&typed, &running.context);
        let names: Vec<&str> = set.iter().map(|(k, _)| k.as_str()).collect();
        (decision.tier > Tier::Auto).then(|| {
            let why = decision.reasons.first().cloned().unwrap_or_default();
            (
                decision.tier,
                format!(
                    "its environment sets {} (rule {}, tier {}): {why}",
                    names.join(", "),
                    decision.rule,
                    decision.tier
                ),
            )
        })
    }
}

impl Judge for NestedGate {
    fn judge<'a>(&'a self, request: &'a NetRequest) -> JudgeFuture<'a> {
        let action = Action::Net {
            host: request.host.clone(),
            port: Some(request.port),
            method: request.method.clone(),
            path: request.path.clone(),
            service: request.service.clone(),
        };
        // A brokered credential may be released only at its own tier or above.
        let floor = request.credential_tier.map(|t| {
            (
                t,
                format!(
                    "carries the credential {} (tier {t})",
                    request.credentials.join(", ")
                ),
            )
        });
        Box::pin(async move {
            // The decision writes a durable record and may wait for a person: off the proxy's
            // async workers. The gate lives as long as the proxy (an `Arc` in the judge).
            let judged = match (tokio::runtime::Handle::try_current(), self.me.upgrade()) {
                (Ok(_), Some(gate)) => tokio::task::spawn_blocking(move || {
                    gate.decide(NestedLayer::Net, &action, floor)
                })
                .await
                .unwrap_or_else(|_| Err(("the decision failed".into(), None))),
                _ => self.decide(NestedLayer::Net, &action, floor),
            };
            match judged {
                Ok((rule, tier)) => Judgement::Proceed {
                    rule,
                    tier: Some(tier),
                },
                Err((reason, judged)) => {
                    let (rule, tier) = match judged {
                        Some((r, t)) => (r, Some(t)),
                        None => (String::new(), None),
                    };
                    Judgement::Refuse {
                        rule,
                        tier,
                        reason: format!("warden: refused: {reason}"),
                    }
                }
            }
        })
    }
}
