//! The state store in S3 against moto's conditional writes: two writers never overwrite each other, a
//! document another program wrote is refused by name, and a lease has one holder at a time with a
//! takeover after its expiry.

use std::time::Duration;

use s3logsbeat::state::lease::{Lease, Taken};
use s3logsbeat::state::s3::S3Store;
use s3logsbeat::state::{StateError, Store};
use serde_json::json;

use crate::common::Moto;

#[tokio::test]
async fn s3_writes_are_conditional_and_foreign_objects_are_refused() {
    let moto = Moto::start().await;
    moto.create_bucket("state").await;
    let store = Store::S3(S3Store::new(moto.s3(), "state", "s3logsbeat/state.json"));
    assert_eq!(store.read("", "checkpoints").await.unwrap(), None);

    let v1 = store
        .write("", "checkpoints", &json!({"g": 1}), None)
        .await
        .unwrap();
    // A second instance that also saw no object cannot create it over the first one's.
    let e = store
        .write("", "checkpoints", &json!({"g": 99}), None)
        .await
        .unwrap_err();
    assert_eq!(
        e,
        StateError::Conflict {
            what: "s3://state/s3logsbeat/state.json".into()
        }
    );
    let read = store.read("", "checkpoints").await.unwrap().unwrap();
    assert_eq!((read.data, &read.version), (json!({"g": 1}), &v1));

    let v2 = store
        .write("", "checkpoints", &json!({"g": 2}), Some(&v1))
        .await
        .unwrap();
    assert_ne!(v1, v2);
    // A writer holding the old ETag is refused: S3 answered 412 to If-Match.
    let e = store
        .write("", "checkpoints", &json!({"g": 3}), Some(&v1))
        .await
        .unwrap_err();
    assert!(matches!(e, StateError::Conflict { .. }), "{e}");
    assert_eq!(
        store.read("", "checkpoints").await.unwrap().unwrap().data,
        json!({"g": 2})
    );

    // Another program's object where the state should be: an error that names it, not "no state".
    moto.put("state", "other.json", br#"{"offsets": [1, 2]}"#.to_vec())
        .await;
    let other = Store::S3(S3Store::new(moto.s3(), "state", "other.json"));
    let e = other.read("", "checkpoints").await.unwrap_err();
    assert!(matches!(e, StateError::Foreign { .. }), "{e}");
    assert!(e.to_string().starts_with("s3://state/other.json: "), "{e}");

    // A bucket that does not exist is an I/O error naming the object.
    let missing = Store::S3(S3Store::new(moto.s3(), "no-such-bucket", "k"));
    let e = missing.read("", "checkpoints").await.unwrap_err();
    assert!(
        matches!(&e, StateError::Io { what, .. } if what == "s3://no-such-bucket/k"),
        "{e}"
    );
}

#[tokio::test]
async fn an_s3_lease_has_one_holder_and_passes_on_after_its_expiry() {
    let moto = Moto::start().await;
    moto.create_bucket("state").await;
    let store = Store::S3(S3Store::new(moto.s3(), "state", "fleet/state.json"));
    let ttl = Duration::from_secs(30);
    let mut a = Lease::new(store.clone(), "cloudwatch-0", "host-a/1/aa", ttl);
    let mut b = Lease::new(store.clone(), "cloudwatch-0", "host-b/2/bb", ttl);
    assert_eq!(
        a.describe(),
        "s3://state/fleet/state.json.lease.cloudwatch-0"
    );

    // Both try at the same moment: exactly one holds it.
    let t0 = 5_000_000;
    let (ra, rb) = tokio::join!(a.try_take(t0), b.try_take(t0));
    let (ra, rb) = (ra.unwrap(), rb.unwrap());
    let held = [&ra, &rb]
        .iter()
        .filter(|t| matches!(t, Taken::Held { .. }))
        .count();
    assert_eq!(held, 1, "{ra:?} {rb:?}");
    let (holder, other) = if a.is_held() {
        (&mut a, &mut b)
    } else {
        (&mut b, &mut a)
    };
    assert!(holder.renew(t0 + 10_000).await.unwrap());
    match other.try_take(t0 + 20_000).await.unwrap() {
        Taken::Busy { until_ms, .. } => assert_eq!(until_ms, t0 + 40_000),
        t => panic!("{t:?}"),
    }
    // The holder dies (stops renewing); after the expiry the other takes over, and the old holder's
    // renewal then fails, so it would stop reading.
    assert!(matches!(
        other.try_take(t0 + 40_000).await.unwrap(),
        Taken::Held { .. }
    ));
    assert!(!holder.renew(t0 + 41_000).await.unwrap());
}
