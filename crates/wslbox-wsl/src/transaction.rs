//! A list of completed steps that are undone, newest first, unless the whole operation
//! commits (the shape of rustup's `dist::component::Transaction`).

use crate::error::Result;

type Undo<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

/// Undo actions for completed steps; dropping an uncommitted transaction rolls back.
#[must_use = "a transaction rolls back when dropped without commit()"]
pub struct Transaction<'a> {
    steps: Vec<(String, Undo<'a>)>,
    /// What was done, for the report.
    done: Vec<String>,
}

impl<'a> Transaction<'a> {
    pub fn new() -> Self {
        Transaction {
            steps: Vec::new(),
            done: Vec::new(),
        }
    }

    /// Records a completed step and how to undo it.
    pub fn done(&mut self, what: impl Into<String>, undo: impl FnOnce() -> Result<()> + 'a) {
        let what = what.into();
        self.done.push(what.clone());
        self.steps.push((what, Box::new(undo)));
    }

    /// Records a completed step that needs no undo (or cannot be undone).
    pub fn note(&mut self, what: impl Into<String>) {
        self.done.push(what.into());
    }

    /// Keeps every step; returns what was done.
    pub fn commit(mut self) -> Vec<String> {
        self.steps.clear();
        std::mem::take(&mut self.done)
    }
}

impl Default for Transaction<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        while let Some((what, undo)) = self.steps.pop() {
            // Drop cannot return errors; a failed undo must still be visible to the user.
            if let Err(e) = undo() {
                eprintln!("warning: could not undo `{what}`: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn dropped_transaction_undoes_newest_first() {
        let log = RefCell::new(Vec::new());
        {
            let mut tx = Transaction::new();
            tx.done("a", || {
                log.borrow_mut().push("undo a");
                Ok(())
            });
            tx.done("b", || {
                log.borrow_mut().push("undo b");
                Ok(())
            });
        }
        assert_eq!(*log.borrow(), ["undo b", "undo a"]);
    }

    #[test]
    fn committed_transaction_keeps_steps() {
        let log = RefCell::new(Vec::<&str>::new());
        let mut tx = Transaction::new();
        tx.done("a", || {
            log.borrow_mut().push("undo a");
            Ok(())
        });
        tx.note("b");
        assert_eq!(tx.commit(), ["a", "b"]);
        assert!(log.borrow().is_empty());
    }
}
