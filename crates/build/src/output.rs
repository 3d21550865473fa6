//! The build's progress as the Engine API streams it: text lines (`Step
//! 1/4 : FROM busybox`, a command's output), pull progress objects, and
//! the `aux` message carrying the new image's id.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};

/// How much of a step's output is kept for its error message.
const TAIL: usize = 2048;

#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `{"stream": ...}`
    Stream(String),
    /// A pull's `{"status": ..., "progressDetail": ...}` object, as is.
    Progress(Value),
    /// `{"aux": ...}`
    Aux(Value),
}

/// Where the build writes its progress. Sending never blocks; a client
/// that went away makes the messages go nowhere, and [`Output::closed`]
/// tells the builder to stop.
#[derive(Debug, Clone)]
pub struct Output {
    tx: UnboundedSender<Message>,
    quiet: bool,
    tail: Option<Arc<Mutex<String>>>,
    /// For a held output: the live channel, to see a client go away.
    live: Option<UnboundedSender<Message>>,
}

impl Output {
    /// `quiet` (`build -q`): only errors and the final id are sent.
    pub fn new(tx: UnboundedSender<Message>, quiet: bool) -> Output {
        Output {
            tx,
            quiet,
            tail: None,
            live: None,
        }
    }

    /// This output, also keeping the last text written through it (a
    /// failed step's error message shows it, quiet or not).
    pub fn keeping_tail(&self) -> (Output, Arc<Mutex<String>>) {
        let tail = Arc::new(Mutex::new(String::new()));
        let mut out = self.clone();
        out.tail = Some(tail.clone());
        (out, tail)
    }

    pub fn is_quiet(&self) -> bool {
        self.quiet
    }

    pub fn text(&self, s: impl Into<String>) {
        let s = s.into();
        if let Some(tail) = &self.tail {
            let mut t = tail.lock().unwrap_or_else(|p| p.into_inner());
            t.push_str(&s);
            if t.len() > 2 * TAIL {
                let cut = t.len() - TAIL;
                let cut = (cut..t.len()).find(|i| t.is_char_boundary(*i)).unwrap_or(0);
                t.drain(..cut);
            }
        }
        if !self.quiet {
            let _ = self.tx.send(Message::Stream(s));
        }
    }

    pub fn progress(&self, v: Value) {
        if !self.quiet {
            let _ = self.tx.send(Message::Progress(v));
        }
    }

    pub fn aux(&self, v: Value) {
        let _ = self.tx.send(Message::Aux(v));
    }

    /// Text sent even when quiet (the final id of `build -q`).
    pub fn always(&self, s: impl Into<String>) {
        let _ = self.tx.send(Message::Stream(s.into()));
    }

    /// Whether the client went away. A held output asks the live one.
    pub fn closed(&self) -> bool {
        self.tx.is_closed() || self.live.as_ref().is_some_and(|l| l.is_closed())
    }

    /// An output whose messages wait in the returned receiver until
    /// [`Output::forward`] sends them on (a stage built alongside another
    /// that prints first).
    pub fn held(&self) -> (Output, UnboundedReceiver<Message>) {
        let (tx, rx) = unbounded_channel();
        let out = Output {
            tx,
            quiet: self.quiet,
            tail: None,
            live: Some(self.tx.clone()),
        };
        (out, rx)
    }

    /// Sends on what a held output kept.
    pub fn forward(&self, mut held: UnboundedReceiver<Message>) {
        while let Ok(m) = held.try_recv() {
            let _ = self.tx.send(m);
        }
    }
}
