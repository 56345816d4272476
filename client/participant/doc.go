// Package participant is the participant kit: it makes any Go service a
// correct tmcluster 2PC participant.
//
// The kit owns one bbolt file. In it, beside the service's own buckets, it
// keeps a record per branch (tx id, branch id, payload, participant name,
// coordinator endpoints, cluster id, vote and end state), the highest Raft
// term seen per cluster id, and tombstones for branches aborted before they
// were prepared. It serves tm.v1.ParticipantService over that state and calls
// the service's Hooks inside the same bbolt write transaction that records the
// vote or the end state, so staging and bookkeeping are durable together
// (fsync) before any answer leaves the process. A background resolver asks the
// coordinators (ResolveTransaction) about branches that voted YES and heard
// no decision, and a purger drops ended records after the retention window.
//
// What the kit must never do:
//   - abort a branch that voted YES on its own: it aborts only when told
//     (an Abort RPC, or ResolveTransaction answering ABORTED);
//   - answer before the state it reports is durable;
//   - run a service hook twice with effect for one branch, or a Commit or
//     Abort hook for a branch that did not vote YES;
//   - compare the coordinator's clock with its own: every in-doubt timer runs
//     on the local monotonic clock from the Prepare's arrival;
//   - import the coordinator's server or raftlog packages: it speaks to the
//     cluster only through the generated tm.v1 API.
package participant
