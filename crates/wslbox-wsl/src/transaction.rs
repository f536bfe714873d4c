//! A list of completed steps that are undone, newest first, unless the whole operation
//! commits (the shape of rustup's `dist::component::Transaction`).

use std::cell::RefCell;

use crate::error::{Error, Result};

type Undo<'a> = Box<dyn FnOnce() -> Result<()> + 'a>;

/// Undo actions for completed steps; dropping an uncommitted transaction rolls back.
#[must_use = "a transaction rolls back when dropped without commit()"]
pub struct Transaction<'a> {
    steps: Vec<(String, Undo<'a>)>,
    /// What was done, for the report.
    done: Vec<String>,
    log: &'a UndoLog,
}

/// Where rolled-back transactions note the undo steps that failed, so that the operation's
/// error can carry them ([`Error::Incomplete`]) and the binary decides how to show them.
#[derive(Debug, Default)]
pub struct UndoLog(RefCell<Vec<String>>);

impl UndoLog {
    /// Runs `body` (whose transactions log here) and attaches what could not be undone to
    /// its error.
    pub fn run<T>(body: impl FnOnce(&UndoLog) -> Result<T>) -> Result<T> {
        let log = UndoLog::default();
        let result = body(&log);
        let failures = log.0.into_inner();
        match result {
            Err(error) if !failures.is_empty() => Err(Error::Incomplete {
                error: Box::new(error),
                failures,
            }),
            other => other,
        }
    }
}

impl<'a> Transaction<'a> {
    pub fn new(log: &'a UndoLog) -> Self {
        Transaction {
            steps: Vec::new(),
            done: Vec::new(),
            log,
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

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        while let Some((what, undo)) = self.steps.pop() {
            // Drop cannot return errors; a failed undo must still reach the user.
            if let Err(e) = undo() {
                self.log
                    .0
                    .borrow_mut()
                    .push(format!("could not undo `{what}`: {e}"));
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
        let undo = UndoLog::default();
        {
            let mut tx = Transaction::new(&undo);
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
        let undo = UndoLog::default();
        let mut tx = Transaction::new(&undo);
        tx.done("a", || {
            log.borrow_mut().push("undo a");
            Ok(())
        });
        tx.note("b");
        assert_eq!(tx.commit(), ["a", "b"]);
        assert!(log.borrow().is_empty());
    }

    #[test]
    fn a_failed_undo_is_carried_by_the_error() {
        let result: Result<()> = UndoLog::run(|log| {
            let mut tx = Transaction::new(log);
            tx.done("registered `dev`", || {
                Err(Error::NotFound { name: "dev".into() })
            });
            tx.done("created C:\\d", || Ok(()));
            Err(Error::Running { name: "dev".into() })
        });
        let err = result.unwrap_err();
        let Error::Incomplete { error, failures } = &err else {
            panic!("{err}")
        };
        assert!(matches!(**error, Error::Running { .. }));
        assert_eq!(failures.len(), 1);
        assert!(
            failures[0].starts_with("could not undo `registered `dev``"),
            "{failures:?}"
        );
        let shown = err.to_string();
        assert!(
            shown.contains("is running") && shown.contains("could not undo"),
            "{shown}"
        );

        let fine: Result<u8> = UndoLog::run(|log| {
            let mut tx = Transaction::new(log);
            tx.done("a", || Err(Error::NotFound { name: "a".into() }));
            let _ = tx.commit();
            Ok(1)
        });
        assert_eq!(fine.unwrap(), 1, "a committed transaction undoes nothing");
    }
}
