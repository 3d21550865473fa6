//! The engine's event stream (`docker events`): every change to an object
//! is published here; subscribers get it live, and the last events are kept
//! for `since` as dockerd keeps them.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde::Serialize;
use tokio::sync::broadcast;

const KEEP: usize = 1024;

#[derive(Debug, Clone, Serialize)]
pub struct Actor {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Attributes")]
    pub attributes: BTreeMap<String, String>,
}

/// One event in moby's shape (with the legacy status/id/from fields).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub status: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub from: String,
    #[serde(rename = "Type")]
    pub kind: String,
    #[serde(rename = "Action")]
    pub action: String,
    #[serde(rename = "Actor")]
    pub actor: Actor,
    pub scope: String,
    pub time: i64,
    #[serde(rename = "timeNano")]
    pub time_nano: i64,
}

impl Event {
    /// An event of `kind` about the actor `id`, stamped now.
    pub(crate) fn new(
        kind: &str,
        action: &str,
        id: &str,
        attributes: BTreeMap<String, String>,
    ) -> Event {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        Event {
            status: String::new(),
            id: String::new(),
            from: String::new(),
            kind: kind.into(),
            action: action.into(),
            actor: Actor {
                id: id.into(),
                attributes,
            },
            scope: "local".into(),
            time: now.as_secs() as i64,
            time_nano: now.as_nanos() as i64,
        }
    }
}

pub struct Events {
    tx: broadcast::Sender<Event>,
    recent: Mutex<VecDeque<Event>>,
}

impl Default for Events {
    fn default() -> Self {
        Events {
            tx: broadcast::channel(KEEP).0,
            recent: Mutex::new(VecDeque::new()),
        }
    }
}

impl Events {
    /// Publishes a container event; `attrs` adds to name and image.
    pub fn container(
        &self,
        action: &str,
        id: &str,
        name: &str,
        image: &str,
        labels: Option<&BTreeMap<String, String>>,
        attrs: &[(&str, String)],
    ) {
        let mut attributes: BTreeMap<String, String> = labels.cloned().unwrap_or_default();
        attributes.insert("name".into(), name.into());
        attributes.insert("image".into(), image.into());
        for (k, v) in attrs {
            attributes.insert((*k).into(), v.clone());
        }
        let mut event = Event::new("container", action, id, attributes);
        // The legacy fields dockerd still sends for containers.
        event.status = action.into();
        event.id = id.into();
        event.from = image.into();
        self.publish(event);
    }

    /// Publishes a volume event (create, destroy, mount, unmount).
    pub fn volume(&self, action: &str, name: &str, driver: &str) {
        let attributes = [("driver".to_string(), driver.to_string())].into();
        self.publish(Event::new("volume", action, name, attributes));
    }

    /// A volume prune ran (dockerd's "prune" event, no actor id).
    pub fn publish_volume_prune(&self, reclaimed: u64) {
        let attributes = [("reclaimed".to_string(), reclaimed.to_string())].into();
        self.publish(Event::new("volume", "prune", "", attributes));
    }

    pub fn publish(&self, event: Event) {
        let mut recent = self.recent.lock().expect("events lock");
        if recent.len() == KEEP {
            recent.pop_front();
        }
        recent.push_back(event.clone());
        let _ = self.tx.send(event);
    }

    /// The kept events, and a receiver for what comes after them.
    pub fn subscribe(&self) -> (Vec<Event>, broadcast::Receiver<Event>) {
        let recent = self.recent.lock().expect("events lock");
        (recent.iter().cloned().collect(), self.tx.subscribe())
    }
}
