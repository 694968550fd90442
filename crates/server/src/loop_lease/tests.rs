//! Loop leases: one holder at a time, handed over only when the lease expires.

use super::*;

#[tokio::test]
async fn one_replica_holds_a_loop_until_its_lease_expires() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let store = &state.store;
    assert!(hold(store, "webhooks", "a", 1_000).await.unwrap());
    // Another replica is refused while the lease lasts; the holder renews it.
    assert!(!hold(store, "webhooks", "b", 1_000 + LEASE_MS - 1).await.unwrap());
    assert!(hold(store, "webhooks", "a", 2_000).await.unwrap());
    assert!(!hold(store, "webhooks", "b", 2_000 + LEASE_MS - 1).await.unwrap());
    // Other loops are independent.
    assert!(hold(store, "mirrors", "b", 2_000).await.unwrap());
    // Once it expires (its holder died) the other takes it, and the first no longer has it.
    assert!(hold(store, "webhooks", "b", 2_000 + LEASE_MS).await.unwrap());
    assert!(!hold(store, "webhooks", "a", 2_000 + LEASE_MS + 1).await.unwrap());
}

#[tokio::test]
async fn of_racing_claims_exactly_one_wins() {
    let (state, _dir) = crate::test_state("us-east-1").await;
    let claims = (0..8).map(|n| {
        let store = state.store.clone();
        tokio::spawn(async move { hold(&store, "triggers", &format!("r{n}"), 5_000).await })
    });
    let mut won = 0;
    for claim in claims {
        if claim.await.unwrap().unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 1);
}
