//! Faults a test (or a person, through `POST /_sim/faults`) can make the simulator answer
//! with: error statuses, slow answers, bodies that are not the JSON a client expects.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// What goes wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// An error status with a JSON `{"message": ...}` body.
    Status { status: u16, message: String },
    /// A 429 with `Retry-After`.
    RateLimited { retry_after_secs: u64 },
    /// The answer comes this late (then normally, the action taking effect).
    Delay { millis: u64 },
    /// An HTML error page, as a Google front end sends it.
    Html { status: u16 },
    /// A 200 with an empty body.
    Empty,
    /// A 200 whose JSON stops half-way.
    Truncated,
    /// A 200 with a text body.
    NotJson,
}

impl FaultKind {
    pub fn delay(&self) -> Option<Duration> {
        match self {
            FaultKind::Delay { millis } => Some(Duration::from_millis(*millis)),
            _ => None,
        }
    }
}

/// A fault armed for the next `times` requests of one action (or of every action).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// A Tailer action name (`launch_job`, ...); absent: any action.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many requests it hits; then it is gone.
    #[serde(default = "one")]
    pub times: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(action: Option<&str>, kind: FaultKind, times: u32) -> Fault {
        Fault { action: action.map(str::to_owned), kind, times }
    }
}

/// The armed faults, first armed first used.
#[derive(Debug, Default)]
pub struct Faults {
    armed: Vec<Fault>,
}

impl Faults {
    pub fn arm(&mut self, fault: Fault) {
        if fault.times > 0 {
            self.armed.push(fault);
        }
    }

    pub fn clear(&mut self) {
        self.armed.clear();
    }

    /// Takes one use of the first fault that applies to `action`.
    pub fn take(&mut self, action: &str) -> Option<FaultKind> {
        let index = self.armed.iter().position(|f| f.action.as_deref().is_none_or(|a| a == action))?;
        let fault = &mut self.armed[index];
        fault.times -= 1;
        let kind = fault.kind.clone();
        if fault.times == 0 {
            self.armed.remove(index);
        }
        Some(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fault_hits_its_action_as_many_times_as_armed() {
        let mut faults = Faults::default();
        faults.arm(Fault::new(Some("launch_job"), FaultKind::Empty, 2));
        assert_eq!(faults.take("check_run_status"), None);
        assert_eq!(faults.take("launch_job"), Some(FaultKind::Empty));
        assert_eq!(faults.take("launch_job"), Some(FaultKind::Empty));
        assert_eq!(faults.take("launch_job"), None);
    }

    #[test]
    fn faults_arrive_as_json() {
        let fault: Fault =
            serde_json::from_str(r#"{"action": "get_last_status", "kind": "status", "status": 503, "message": "down", "times": 3}"#)
                .unwrap();
        assert_eq!(fault.times, 3);
        assert_eq!(fault.kind, FaultKind::Status { status: 503, message: "down".into() });
    }
}
