//! The contract suite against `InMemoryCouncilRepository`, natively.
#![cfg(not(target_arch = "wasm32"))]

mod contract;

use council_idb::InMemoryCouncilRepository;

macro_rules! native_cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                let repo = InMemoryCouncilRepository::new();
                futures::executor::block_on(contract::$case(&repo));
            }
        )*
    };
}

for_each_contract_case!(native_cases);

/// The port is usable as a shared trait object across threads.
#[test]
fn port_is_send_and_sync_as_a_trait_object() {
    fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
    let repo: std::sync::Arc<dyn council_idb::CouncilRepositoryPort> =
        std::sync::Arc::new(InMemoryCouncilRepository::new());
    assert_send_sync(&repo);
    let handle = {
        let repo = repo.clone();
        std::thread::spawn(move || {
            futures::executor::block_on(repo.create_run(council_idb::CouncilRun::new(
                "from a thread",
                council_idb::HitlMode::None,
            )))
        })
    };
    handle.join().unwrap().unwrap();
    assert_eq!(
        futures::executor::block_on(repo.list_runs(None))
            .unwrap()
            .len(),
        1
    );
}

/// `RepositoryError::dom_name` on the shared table of messages that
/// `tests/js/errors.test.mjs` runs through glue.js's `councilStoreError`
/// (the JS error's `domName`): both find the same name.
#[test]
fn dom_name_reads_the_shared_table() {
    let table: Vec<serde_json::Value> =
        serde_json::from_str(include_str!("fixtures/dom-names.json")).unwrap();
    assert!(table.len() > 5);
    for row in table {
        let message = row["message"].as_str().unwrap();
        let err = council_idb::RepositoryError::Storage(message.to_owned());
        assert_eq!(err.dom_name(), row["domName"].as_str(), "{message}");
        let not_storage = council_idb::RepositoryError::Constraint(message.to_owned());
        assert_eq!(not_storage.dom_name(), None, "{message}");
    }
}
