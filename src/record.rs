//! The field names of the two records, declared once.
//!
//! A run or an event is the same plain object everywhere in the browser:
//! as IndexedDB stores it, as the JavaScript API takes and returns it, and
//! in the layout's key paths. Every place that reads or writes one names
//! its fields through these constants; the TypeScript declarations, the
//! JavaScript record checks and the layout's key paths in glue.js, which
//! cannot, are held to them by the tests at the end of this file.

// The native build has no browser side to use them.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

/// The fields of a run.
pub(crate) mod run {
    pub(crate) const ID: &str = "id";
    pub(crate) const GOAL: &str = "goal";
    pub(crate) const GRAPH_JSON: &str = "graphJson";
    pub(crate) const STATUS: &str = "status";
    pub(crate) const HITL_MODE: &str = "hitlMode";
    pub(crate) const CONVERSATION_ID: &str = "conversationId";
    pub(crate) const CREATED_AT: &str = "createdAt";
    pub(crate) const UPDATED_AT: &str = "updatedAt";

    /// Every field a run has, in the order the API writes them. (Read by
    /// the tests, which hold the TypeScript and JavaScript to it.)
    #[cfg_attr(all(target_arch = "wasm32", not(test)), allow(dead_code))]
    pub(crate) const ALL: [&str; 8] = [
        ID,
        GOAL,
        GRAPH_JSON,
        STATUS,
        HITL_MODE,
        CONVERSATION_ID,
        CREATED_AT,
        UPDATED_AT,
    ];

    /// What `createRun` takes: `status` and `updatedAt` are the store's.
    pub(crate) const INPUT: [&str; 6] =
        [GOAL, HITL_MODE, CONVERSATION_ID, GRAPH_JSON, ID, CREATED_AT];

    /// Stored only: the instant of `createdAt` as a string that sorts in
    /// time order (the indexes' key). Written by glue.js's `runRecord`;
    /// read by the tests, which hold it and the layout to this name.
    #[cfg_attr(all(target_arch = "wasm32", not(test)), allow(dead_code))]
    pub(crate) const CREATED_KEY: &str = "createdKey";
    /// Stored only: the truncations watchers compare against.
    pub(crate) const REWINDS: &str = "rewinds";
}

/// The fields of an event.
pub(crate) mod event {
    pub(crate) const RUN_ID: &str = "runId";
    pub(crate) const SEQ: &str = "seq";
    pub(crate) const EVENT_JSON: &str = "eventJson";
    pub(crate) const CREATED_AT: &str = "createdAt";
    pub(crate) const WAVE_INDEX: &str = "waveIndex";

    /// Every field an event has; also what `appendEvent` takes.
    pub(crate) const ALL: [&str; 5] = [RUN_ID, SEQ, EVENT_JSON, CREATED_AT, WAVE_INDEX];

    /// What `appendNext` takes: the store adds `runId` and `seq`.
    pub(crate) const NEXT: [&str; 3] = [EVENT_JSON, WAVE_INDEX, CREATED_AT];
}

#[cfg(test)]
mod tests {
    use super::{event, run};

    /// The field names an `interface Name { ... }` of the TypeScript text
    /// declares.
    fn interface_fields(ts: &str, name: &str) -> Vec<String> {
        let start = ts
            .find(&format!("export interface {name} {{"))
            .unwrap_or_else(|| panic!("no interface {name}"));
        let body = &ts[start..];
        let body = &body[body.find('{').unwrap() + 1..body.find("\n}").unwrap()];
        let mut fields: Vec<String> = body
            .lines()
            .map(str::trim)
            .filter(|l| !l.starts_with("/*") && !l.starts_with('*') && !l.is_empty())
            .map(|l| l[..l.find(':').unwrap()].trim_end_matches('?').to_owned())
            .collect();
        fields.sort();
        fields
    }

    fn sorted(names: &[&str]) -> Vec<String> {
        let mut names: Vec<String> = names.iter().map(|n| (*n).to_owned()).collect();
        names.sort();
        names
    }

    const BINDINGS: &str = include_str!("js.rs");
    const GLUE: &str = include_str!("glue.js");

    #[test]
    fn the_typescript_declarations_have_the_declared_fields() {
        assert_eq!(interface_fields(BINDINGS, "CouncilRun"), sorted(&run::ALL));
        assert_eq!(
            interface_fields(BINDINGS, "NewCouncilRun"),
            sorted(&run::INPUT)
        );
        assert_eq!(
            interface_fields(BINDINGS, "CouncilRunEvent"),
            sorted(&event::ALL)
        );
        assert_eq!(
            interface_fields(BINDINGS, "NewCouncilRunEvent"),
            sorted(&event::ALL)
        );
        assert_eq!(
            interface_fields(BINDINGS, "NextCouncilRunEvent"),
            sorted(&event::NEXT)
        );
    }

    /// The text of the exported function `name` of glue.js, up to its end.
    fn glue_function(name: &str) -> &'static str {
        let start = GLUE.find(&format!("export function {name}(")).unwrap();
        let body = &GLUE[start..];
        &body[..body.find("\n}").unwrap()]
    }

    #[test]
    fn the_javascript_event_record_has_every_field() {
        let body = glue_function("eventRecord");
        let made = &body[body.find("return {").unwrap()..];
        for field in event::ALL {
            assert!(made.contains(field), "eventRecord leaves out {field}");
        }
    }

    /// The keys of the object literal that opens with `opener` in `body`,
    /// one per line (`key: value,` or the shorthand `key,`).
    fn literal_keys<'a>(body: &'a str, opener: &str) -> Vec<&'a str> {
        let made = &body[body.find(opener).unwrap()..];
        made.lines()
            .skip(1)
            .map_while(|l| {
                let l = l.trim().trim_end_matches(',');
                (!l.starts_with('}')).then(|| l.split_once(':').map_or(l, |(key, _)| key))
            })
            .collect()
    }

    #[test]
    fn the_javascript_run_record_has_every_field() {
        let body = glue_function("runRecord");
        let fields = literal_keys(body, "const run = {");
        assert_eq!(fields, run::ALL, "runRecord must write the run's fields");
        assert!(body.contains(&format!("run.{} = ", run::CREATED_KEY)));
    }

    #[test]
    fn the_javascript_public_run_has_every_field() {
        let fields = literal_keys(glue_function("publicRuns"), "out[i] = {");
        assert_eq!(
            fields,
            run::ALL,
            "publicRuns must copy exactly the run's fields"
        );
    }

    #[test]
    fn the_javascript_layout_keys_on_the_declared_fields() {
        let start = GLUE.find("const LAYOUT = [").unwrap();
        let layout = &GLUE[start..];
        let layout = &layout[..layout.find("\n];").unwrap() + 3];
        let (id, created, status) = (run::ID, run::CREATED_KEY, run::STATUS);
        let (run_id, seq, wave) = (event::RUN_ID, event::SEQ, event::WAVE_INDEX);
        let expected = format!(
            r#"const LAYOUT = [
  {{
    name: "runs",
    keyPath: "{id}",
    indexes: [
      {{ name: "by_created", keyPath: ["{created}", "{id}"] }},
      {{ name: "by_status", keyPath: ["{status}", "{created}", "{id}"] }},
    ],
  }},
  {{ name: "events", keyPath: ["{run_id}", "{seq}"], indexes: [{{ name: "by_wave", keyPath: ["{run_id}", "{wave}"] }}] }},
];"#
        );
        assert_eq!(layout, expected);
    }

    #[test]
    fn the_javascript_record_checks_read_every_field() {
        let runs = glue_function("firstMalformedRun");
        for field in run::ALL {
            assert!(
                runs.contains(&format!("r.{field}")),
                "firstMalformedRun skips {field}"
            );
        }
        let events = glue_function("firstMalformedEvent");
        for field in event::ALL {
            assert!(
                events.contains(&format!("r.{field}")),
                "firstMalformedEvent skips {field}"
            );
        }
    }
}
