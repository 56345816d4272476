package tmv1

// Error reasons and metadata keys of the google.rpc.ErrorInfo details that
// tmcluster attaches to its gRPC errors. They are part of the wire contract:
// clients in any language match on them. Hand-written, not generated.

// ErrorDomain is the ErrorInfo domain of every tmcluster error.
const ErrorDomain = "tmcluster.io"

// ErrorInfo reasons.
const (
	ReasonInvalidArgument      = "INVALID_ARGUMENT"
	ReasonTxNotFound           = "TX_NOT_FOUND"
	ReasonUnknownParticipant   = "UNKNOWN_PARTICIPANT"
	ReasonIdempotencyKeyReused = "IDEMPOTENCY_KEY_REUSED"
	ReasonIdempotencyKeyBound  = "IDEMPOTENCY_KEY_BOUND"
	ReasonOutcomeUnknown       = "OUTCOME_UNKNOWN"
	ReasonNoLeader             = "NO_LEADER"
	ReasonTxTooOld             = "TX_TOO_OLD"
	ReasonTxForgotten          = "TX_FORGOTTEN"
	ReasonStaleTerm            = "STALE_TERM"
	ReasonUnknownBranch        = "UNKNOWN_BRANCH"
	ReasonBranchAborted        = "BRANCH_ABORTED"
	ReasonBranchCommitted      = "BRANCH_COMMITTED"
	ReasonPayloadMismatch      = "PAYLOAD_MISMATCH"
	ReasonTxNotActive          = "TX_NOT_ACTIVE"
	ReasonTxCommitted          = "TX_COMMITTED"
	ReasonParticipantBusy      = "PARTICIPANT_BUSY"
	ReasonNotLeader            = "NOT_LEADER"
	ReasonLimitExceeded        = "LIMIT_EXCEEDED"
	ReasonClusterMismatch      = "CLUSTER_MISMATCH"
)

// ErrorInfo metadata keys.
const (
	MetaTxID          = "tx_id"
	MetaState         = "state"
	MetaLeaderID      = "leader_id"
	MetaLeaderAddress = "leader_address"
	MetaField         = "field"
)

// ErrorInfo reasons and metadata key of authorization under mutual TLS.
// identity is the caller's certificate Subject CommonName.
const (
	ReasonUnauthenticated  = "UNAUTHENTICATED"   // no client certificate where one is needed
	ReasonNotAdmin         = "NOT_ADMIN"         // a ClusterService change by a non-admin identity
	ReasonIdentityMismatch = "IDENTITY_MISMATCH" // ResolveTransaction from another participant's identity
	MetaIdentity           = "identity"
)
