//! Access-token verification on arbitrary input: it must answer (accept or refuse), never
//! panic. The server's own key is in a throw-away SQLite database.
#![no_main]

use std::sync::OnceLock;
use std::time::Duration;

use gatehouse::auth::TokenService;
use libfuzzer_sys::fuzz_target;

struct Harness {
    runtime: tokio::runtime::Runtime,
    tokens: TokenService,
    _dir: tempfile::TempDir,
}

fn harness() -> &'static Harness {
    static HARNESS: OnceLock<Harness> = OnceLock::new();
    HARNESS.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("fuzz.db").display());
        let tokens = runtime.block_on(async {
            let store = gatehouse::store::connect(&url).await.expect("store");
            TokenService::new(store, "http://fuzz".into(), "gatehouse".into(), Duration::from_secs(900), None)
                .await
                .expect("token service")
        });
        Harness { runtime, tokens, _dir: dir }
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let h = harness();
    // No forged input may verify: the fuzzer cannot sign with the server's key.
    assert!(h.runtime.block_on(h.tokens.verify(token)).is_err());
});
