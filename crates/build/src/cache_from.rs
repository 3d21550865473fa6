//! `--cache-from`: a step is taken from an image that was built by the same
//! steps, as the classic builder does it, by history: the image's history
//! and layers begin with the stage's so far, and its next history entry is
//! this step (the same `created_by`, a layer or not alike). This works for
//! images that came from elsewhere (pulled, loaded), which carry no build
//! cache of ours. The images named are trusted to be what they say.

use serde_json::Value;

use crate::backend::Image;
use crate::builder::Step;

/// A step found in a `--cache-from` image.
pub struct Hit {
    pub source: Image,
    /// The source's layer the step made, when it made one.
    pub layer: Option<usize>,
    /// The step's history entry in the source.
    pub history: Value,
}

fn history(config: &Value) -> &[Value] {
    config["history"].as_array().map_or(&[], Vec::as_slice)
}

fn diff_ids(config: &Value) -> &[Value] {
    config["rootfs"]["diff_ids"]
        .as_array()
        .map_or(&[], Vec::as_slice)
}

fn empty(h: &Value) -> bool {
    h["empty_layer"].as_bool() == Some(true)
}

fn same_entry(a: &Value, b: &Value) -> bool {
    a["created_by"] == b["created_by"] && empty(a) == empty(b)
}

/// Whether `image` is `source` or one of the images it was built on:
/// its history (entries equal, timestamps included) and layers begin
/// `source`'s. With `--cache-from`, dockerd takes a step from its own
/// cache only when the cached image is in a source's chain of parents.
pub fn is_in_chain_of(image: &Image, source: &Image) -> bool {
    let (h, sh) = (history(&image.config), history(&source.config));
    let (d, sd) = (diff_ids(&image.config), diff_ids(&source.config));
    image.id == source.id || (!h.is_empty() && sh.starts_with(h) && sd.starts_with(d))
}

/// The step `step` on a stage whose config is `current`, in `sources`.
pub fn find(sources: &[Image], current: &Value, step: &Step) -> Option<Hit> {
    let (hist, ids) = (history(current), diff_ids(current));
    sources.iter().find_map(|source| {
        let (shist, sids) = (history(&source.config), diff_ids(&source.config));
        let next = shist.get(hist.len())?;
        let prefix = shist.len() > hist.len()
            && hist.iter().zip(shist).all(|(a, b)| same_entry(a, b))
            && sids.len() >= ids.len()
            && sids[..ids.len()] == *ids;
        if !prefix
            || next["created_by"].as_str() != Some(step.created_by)
            || empty(next) == step.layer
        {
            return None;
        }
        let layer = if step.layer {
            (sids.len() > ids.len()).then_some(ids.len())?.into()
        } else {
            None
        };
        Some(Hit {
            source: source.clone(),
            layer,
            history: next.clone(),
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn image(history: Value, ids: Value) -> Image {
        Image {
            id: "sha256:x".into(),
            config: json!({"history": history, "rootfs": {"diff_ids": ids}}),
        }
    }

    #[test]
    fn a_step_matches_after_the_same_history_and_layers() {
        let source = image(
            json!([{"created_by": "base"}, {"created_by": "ENV", "empty_layer": true}, {"created_by": "RUN x"}]),
            json!(["sha256:a", "sha256:b"]),
        );
        let base =
            json!({"history": [{"created_by": "base"}], "rootfs": {"diff_ids": ["sha256:a"]}});
        let env = Step {
            created_by: "ENV",
            layer: false,
        };
        let hit = find(std::slice::from_ref(&source), &base, &env).unwrap();
        assert_eq!(hit.layer, None);
        let after_env = json!({"history": [{"created_by": "base"}, {"created_by": "ENV", "empty_layer": true}], "rootfs": {"diff_ids": ["sha256:a"]}});
        let run = Step {
            created_by: "RUN x",
            layer: true,
        };
        assert_eq!(
            find(std::slice::from_ref(&source), &after_env, &run)
                .unwrap()
                .layer,
            Some(1)
        );
        // Another command, another base layer, or a layer where there was
        // none: no match.
        let other = Step {
            created_by: "RUN y",
            layer: true,
        };
        assert!(find(std::slice::from_ref(&source), &after_env, &other).is_none());
        let other_base =
            json!({"history": [{"created_by": "base"}], "rootfs": {"diff_ids": ["sha256:z"]}});
        assert!(find(std::slice::from_ref(&source), &other_base, &env).is_none());
        let env_as_layer = Step {
            created_by: "ENV",
            layer: true,
        };
        assert!(find(std::slice::from_ref(&source), &base, &env_as_layer).is_none());
    }
}
