package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v5"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// policy says where one call goes and whether it may be retried.
type policy struct {
	pinned         string        // ask only this endpoint, once; "" fails over
	once           bool          // a single attempt: the request is not safe to repeat
	keyBorn        time.Time     // when the call's idempotency key was made; zero if unkeyed
	attemptTimeout time.Duration // overrides Config.AttemptTimeout when longer
}

// operation is one attempt of a call on one connection.
type operation func(ctx context.Context, cc *grpc.ClientConn) error

// run is what retrying one call came to.
type run struct {
	err      error  // the last attempt's error; nil on success or before any attempt
	final    bool   // err is final: a reply that retrying cannot change
	stopped  error  // why retrying stopped while err was retryable; nil when it may not retry
	sent     bool   // at least one attempt went out
	answered bool   // some node answered some attempt
	txID     string // tx_id from the ErrorInfo metadata of an attempt
}

// errBudget marks a run stopped by Config.MaxRetryElapsed.
var errBudget = errors.New("tmcluster: retry budget spent")

// retry runs op until it succeeds, fails finally, or retrying must stop:
// the caller's ctx ends, MaxRetryElapsed passes, or the key expires. Each
// attempt has its own AttemptTimeout. After a retryable failure it backs
// off with jitter and moves to the leader_address hint, if any, else to the
// next endpoint.
func (c *Client) retry(ctx context.Context, p policy, op operation) *run {
	r := &run{}
	start := time.Now()
	bo := &backoff.ExponentialBackOff{InitialInterval: 50 * time.Millisecond,
		RandomizationFactor: 0.5, Multiplier: 2, MaxInterval: 2 * time.Second}
	target := p.pinned
	if target == "" {
		target = c.current()
	}
	for {
		if r.stopped = c.mayAttempt(ctx, p); r.stopped != nil {
			return r
		}
		if r.observe(c.attempt(ctx, target, p, op)) {
			if p.pinned == "" && r.err == nil {
				c.answered(target)
			}
			return r
		}
		if ctx.Err() != nil || p.pinned != "" || p.once {
			r.stopped = ctx.Err()
			return r
		}
		wait := bo.NextBackOff()
		if time.Since(start)+wait > c.cfg.MaxRetryElapsed {
			r.stopped = errBudget
			return r
		}
		if r.stopped = sleep(ctx, wait); r.stopped != nil {
			return r
		}
		target = c.next(target, r.err)
	}
}

// mayAttempt returns why no further attempt may be sent, or nil.
func (c *Client) mayAttempt(ctx context.Context, p policy) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.isClosed() {
		return ErrClosed
	}
	if !p.keyBorn.IsZero() && time.Since(p.keyBorn) > c.cfg.KeyRetention {
		return ErrKeyExpired
	}
	return nil
}

// attempt sends one attempt to endpoint, bounded by the attempt timeout.
// Failing to get a connection (the client closed meanwhile, a hint that
// does not parse) counts as a transport failure: the next mayAttempt
// decides whether to go on.
func (c *Client) attempt(ctx context.Context, endpoint string, p policy, op operation) error {
	cc, err := c.conn(endpoint)
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	actx, cancel := context.WithTimeout(ctx, max(c.cfg.AttemptTimeout, p.attemptTimeout))
	defer cancel()
	return op(actx, cc)
}

// observe records one attempt's result and reports whether the run is over
// (success or a final error).
func (r *run) observe(err error) bool {
	r.sent = true
	r.err = err
	if err == nil {
		r.answered = true
		return true
	}
	st, isStatus := status.FromError(err)
	info := errorInfo(st)
	if id := info.GetMetadata()[tmv1.MetaTxID]; id != "" {
		r.txID = id
	}
	if !isStatus || !retryableCode(st.Code()) {
		r.answered, r.final = true, true
		return true
	}
	if info != nil {
		r.answered = true
	}
	return false
}

// retryableCode reports whether a code leaves the outcome unknown (design:
// UNAVAILABLE, DEADLINE_EXCEEDED or CANCELLED); transport failures surface
// as UNAVAILABLE.
func retryableCode(c codes.Code) bool {
	return c == codes.Unavailable || c == codes.DeadlineExceeded || c == codes.Canceled
}

// next picks the endpoint for the attempt after a failure on endpoint.
func (c *Client) next(endpoint string, err error) string {
	if hint := Metadata(err)[tmv1.MetaLeaderAddress]; hint != "" && hint != endpoint {
		return hint
	}
	return c.after(endpoint)
}

// sleep waits d, or returns ctx's error if it ends first.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// keyBirth returns when key was made: the timestamp of a UUIDv7 key, else
// callStart.
func keyBirth(key string, callStart time.Time) time.Time {
	u, err := uuid.Parse(key)
	if err != nil || u.Version() != 7 {
		return callStart
	}
	sec, nsec := u.Time().UnixTime()
	return time.Unix(sec, nsec)
}

// plainErr is the error of a run for a call that changes nothing.
func (r *run) plainErr() error {
	if r.final {
		return sdkErr(r.err)
	}
	if r.err == nil {
		return r.stopped
	}
	last := sdkErr(r.err)
	if !r.answered {
		last = fmt.Errorf("%w: %w", ErrUnreachable, last)
	}
	if r.stopped == nil || r.stopped == errBudget {
		return last
	}
	return fmt.Errorf("%w; last attempt: %w", r.stopped, last)
}

// outcomeErr is the error of a run for a call that may change state: once
// an attempt went out and retrying stopped, the outcome is unknown.
func (r *run) outcomeErr(key, txID string) error {
	err := r.plainErr()
	if err == nil || r.final || !r.sent {
		return err
	}
	if txID == "" {
		txID = r.txID
	}
	return &UnknownOutcomeError{Key: key, TxID: txID, Err: err}
}

// sdkErr decodes a gRPC status error into an *Error; other errors pass
// through.
func sdkErr(err error) error {
	if _, ok := status.FromError(err); !ok {
		return err
	}
	return fromStatus(err)
}
