// Package client is the Go coordinator SDK for tmcluster: what a payment
// service links to run two-phase-commit transactions through a cluster.
//
// A Client talks gRPC to any node of the cluster (followers forward to the
// leader), fails over between the configured endpoints, follows the
// leader_address hint the nodes attach to their errors, and retries every
// request whose outcome is unknown — UNAVAILABLE (including NO_LEADER and
// OUTCOME_UNKNOWN), DEADLINE_EXCEEDED or CANCELLED of one attempt, and
// connection failures — with exponential backoff and jitter.
//
// What it guarantees:
//
//   - Execute and Begin always carry an idempotency key (a UUIDv7 minted by
//     the SDK when the caller gives none) and every retry of one call sends
//     the same key, so a retry can never create a second transaction.
//     Commit, Abort and Enlist are retried with the same transaction id; the
//     cluster makes them idempotent.
//   - The outcome of a transaction, COMMITTED or ABORTED with its reason, is
//     data: a *Result with a nil error. An error never means "aborted".
//   - When the caller's context ends, or the retry budget is spent, while the
//     outcome is still unknown, the error satisfies
//     errors.Is(err, ErrOutcomeUnknown) and is an *UnknownOutcomeError that
//     carries the key (and the tx id when known): retry later with that key.
//   - Every other gRPC error is final and maps to an *Error that matches one
//     of the sentinel errors below with errors.Is and still exposes the gRPC
//     status (GRPCStatus) and the ErrorInfo reason and metadata.
//
// What it never does:
//
//   - It never turns an error into an outcome: GetTransaction's NOT_FOUND is
//     ErrNotFound, not "aborted" (a one-shot transaction is unrecorded until
//     it is decided).
//   - It never retries a key older than Config.KeyRetention, because the
//     cluster may have forgotten the key's binding by then and a retry could
//     pay twice.
//   - It never imports the server or the replicated state: a payment service
//     that links it pulls in gRPC and the generated code, nothing else.
package client
