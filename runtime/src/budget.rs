//! The checkpoint-size budget — the seed's "if a single checkpoint exceeds 50KB, something
//! belongs in an external store", measured for the user. After each step of a run with a
//! checkpointer, the state is weighed; over the budget, a `tracing` warning names the thread,
//! the step, the total and the largest fields — once per thread and field, not every step —
//! or, in strict mode, the step fails with [`GraphError::OverBudget`](crate::GraphError::OverBudget)
//! before its checkpoint is written.
//!
//! Weighing is cheap when the state is small: the bytes the checkpoint chains already hold
//! bound the state's size from above, so the fields are encoded to be measured exactly only
//! when that bound is over the budget. Over it, a strict budget weighs every step; a warning
//! budget weighs again once the steps since the last weighing wrote an eighth of what the state
//! then weighed, so a large state costs a constant per byte written, not its size every step.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::ids::ThreadId;
use crate::state::State;

/// How large a step's state may grow: [`SizeBudget::default`] warns above 50 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeBudget {
    bytes: Option<usize>,
    strict: bool,
}

impl Default for SizeBudget {
    fn default() -> Self {
        Self::warn(Self::DEFAULT_BYTES)
    }
}

impl SizeBudget {
    /// The budget unless set otherwise: 50 KiB.
    pub const DEFAULT_BYTES: usize = 50 * 1024;

    /// Warns (once per thread and field) when a step's state is larger than `bytes`.
    pub fn warn(bytes: usize) -> Self {
        Self {
            bytes: Some(bytes),
            strict: false,
        }
    }

    /// Fails a step whose state is larger than `bytes` with
    /// [`GraphError::OverBudget`](crate::GraphError::OverBudget), before its checkpoint is
    /// written: the thread stays at its last checkpoint.
    pub fn strict(bytes: usize) -> Self {
        Self {
            bytes: Some(bytes),
            strict: true,
        }
    }

    /// No budget.
    pub fn off() -> Self {
        Self {
            bytes: None,
            strict: false,
        }
    }

    /// The budget in bytes, if there is one.
    pub fn bytes(&self) -> Option<usize> {
        self.bytes
    }

    /// Whether going over it is an error.
    pub fn is_strict(&self) -> bool {
        self.strict
    }
}

/// A state's size: each field's JSON encoding, largest first, and their total.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateSize {
    /// The sum of the fields' sizes, in bytes.
    pub total: usize,
    /// Each field and its size in bytes, largest first.
    pub fields: Vec<(&'static str, usize)>,
}

impl StateSize {
    /// Weighs `state`, field by field.
    pub fn of<S: State>(state: &S) -> Self {
        let mut fields: Vec<(&'static str, usize)> = S::CHANNELS
            .iter()
            .enumerate()
            .map(|(i, spec)| (spec.name, state.encode_channel(i).map_or(0, |b| b.len())))
            .collect();
        fields.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        Self {
            total: fields.iter().map(|(_, n)| n).sum(),
            fields,
        }
    }

    /// The `n` largest fields, as `name (bytes)`, for a message.
    pub fn largest(&self, n: usize) -> String {
        self.fields
            .iter()
            .take(n)
            .map(|(name, bytes)| format!("{name} ({bytes} B)"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// When a run weighed its state last, for a warning budget's spacing of weighings.
#[derive(Debug, Default)]
pub(crate) struct Weighing {
    /// The state's size at the last weighing, if the run weighed it.
    last: Option<usize>,
    /// The bytes the steps since then wrote.
    written: usize,
}

impl Weighing {
    /// Records that the state was weighed at `total` bytes.
    pub(crate) fn weighed(&mut self, total: usize) {
        self.last = Some(total);
        self.written = 0;
    }
}

/// A graph's budget, with the fields it has warned about, by thread.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    pub(crate) limit: SizeBudget,
    warned: Mutex<HashSet<(ThreadId, String, &'static str)>>,
}

/// The most (thread, namespace, field) triples remembered as warned about; then the memory
/// starts over.
const MAX_WARNED: usize = 10_000;

impl Budget {
    pub(crate) fn new(limit: SizeBudget) -> Self {
        Self {
            limit,
            warned: Mutex::default(),
        }
    }

    /// Whether an upper bound of `bound` bytes may be over the budget (then weigh exactly).
    fn may_exceed(&self, bound: usize) -> bool {
        self.limit.bytes.is_some_and(|limit| bound > limit)
    }

    /// Whether a step that wrote `written` bytes, with its state's size bounded by `bound`,
    /// weighs the state: only when the bound is over the budget, and then every step for a
    /// strict budget, or once an eighth of the last weighed size was written since for a
    /// warning one.
    pub(crate) fn due(&self, weighing: &mut Weighing, bound: usize, written: usize) -> bool {
        weighing.written = weighing.written.saturating_add(written);
        if !self.may_exceed(bound) {
            return false;
        }
        match weighing.last {
            Some(last) if !self.limit.strict => weighing.written > last / 8,
            _ => true,
        }
    }

    /// Checks a weighed state of `thread_id` at `step` in namespace `ns` (a subgraph's, or
    /// `""`): over the budget, warns about the largest fields not warned about yet for that
    /// thread and namespace, or returns the error in strict mode.
    pub(crate) fn check(
        &self,
        thread_id: &ThreadId,
        ns: &str,
        step: i64,
        size: &StateSize,
    ) -> Result<(), crate::GraphError> {
        let Some(limit) = self.limit.bytes.filter(|&limit| size.total > limit) else {
            return Ok(());
        };
        if self.limit.strict {
            return Err(crate::GraphError::OverBudget {
                thread_id: thread_id.clone(),
                step,
                total: size.total,
                budget: limit,
                largest: size.largest(3),
            });
        }
        let mut warned = self.warned.lock().unwrap_or_else(|p| p.into_inner());
        if warned.len() > MAX_WARNED {
            warned.clear();
        }
        // The fields that make up most of the state, not warned about yet for this thread.
        let new: Vec<&(&'static str, usize)> = size
            .fields
            .iter()
            .take(3)
            .filter(|(field, bytes)| {
                *bytes > 0 && warned.insert((thread_id.clone(), ns.to_owned(), field))
            })
            .collect();
        if !new.is_empty() {
            tracing::warn!(
                thread = %thread_id,
                ns,
                step,
                total = size.total,
                budget = limit,
                largest = %size.largest(3),
                "the state is larger than its checkpoint budget: keep large content in a store and its id in state"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_under_the_bound_is_never_weighed() {
        let budget = Budget::new(SizeBudget::warn(100));
        let mut weighing = Weighing::default();
        assert!(!budget.due(&mut weighing, 100, 10));
        assert!(!Budget::new(SizeBudget::off()).due(&mut weighing, usize::MAX, 10));
    }

    #[test]
    fn a_strict_budget_weighs_every_step_over_the_bound() {
        let budget = Budget::new(SizeBudget::strict(100));
        let mut weighing = Weighing::default();
        for _ in 0..3 {
            assert!(budget.due(&mut weighing, 1_000, 1));
            weighing.weighed(900);
        }
    }

    #[test]
    fn a_warning_budget_weighs_again_after_an_eighth_of_the_state_was_written() {
        let budget = Budget::new(SizeBudget::warn(100));
        let mut weighing = Weighing::default();
        assert!(
            budget.due(&mut weighing, 1_000, 10),
            "the first step over the bound"
        );
        weighing.weighed(800);
        // 100 bytes (an eighth of 800) may be written before the next weighing.
        for _ in 0..10 {
            assert!(!budget.due(&mut weighing, 1_000, 10));
        }
        assert!(budget.due(&mut weighing, 1_000, 10));
        weighing.weighed(900);
        assert!(!budget.due(&mut weighing, 1_000, 100));
    }
}
