//! The core end-to-end suite again, with every test server a cluster: three servers sharing one
//! real `redis-server` (`--store redis://…`), each participant and request of a test going to
//! the next server in turn ([`parcours_e2e::server::Mode::Cluster`]; the harness knows this test
//! binary by its name). So every story these files tell must also hold when the people in it are
//! on different servers behind a load balancer.
//!
//! What holds per server (connection limits, a listing's count on one server) is checked on one
//! server even here (`TestServer::start_alone_with`), and the tests that start the server on a
//! data directory of their own (crashes, full disks) run on sled here too. The operator tools
//! and a server's metrics stay in their own files; `redis_store.rs` has the cluster's own stories
//! (crashed servers, Redis killed, paused and restarted, draining, deletion, the bounded stream).

#[path = "access.rs"]
mod access;
#[path = "api.rs"]
mod api;
#[path = "backpressure.rs"]
mod backpressure;
#[path = "collaboration.rs"]
mod collaboration;
#[path = "durability.rs"]
mod durability;
#[path = "history.rs"]
mod history;
#[path = "hostile_input.rs"]
mod hostile_input;
#[path = "interop.rs"]
mod interop;
#[path = "presence.rs"]
mod presence;
#[path = "roles.rs"]
mod roles;
#[path = "sdk.rs"]
mod sdk;

#[test]
fn this_binary_runs_its_servers_as_a_cluster() {
    assert_eq!(
        parcours_e2e::server::mode(),
        parcours_e2e::server::Mode::Cluster
    );
}
