package client_test

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/tmcluster/tmcluster/client"
	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

const (
	committed = tmv1.TransactionState_TRANSACTION_STATE_COMMITTED
	aborted   = tmv1.TransactionState_TRANSACTION_STATE_ABORTED
	preparing = tmv1.TransactionState_TRANSACTION_STATE_PREPARING
)

var payment = client.ExecuteRequest{Branches: []client.Branch{
	{ID: "debit", Participant: "bank-a", Payload: []byte(`{"amount":-5}`)},
	{ID: "credit", Participant: "bank-b", Payload: []byte(`{"amount":5}`)},
}}

func TestExecuteMintsKeyAndReusesItAcrossRetries(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute",
		step{err: rpcErr(codes.Unavailable, tmv1.ReasonOutcomeUnknown, map[string]string{tmv1.MetaTxID: "tx-1"})},
		step{tx: txIn("tx-1", committed, "")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	res, err := c.Execute(testCtx(t, 5*time.Second), payment)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Outcome != client.OutcomeCommitted || res.TxID != "tx-1" {
		t.Fatalf("result = %+v, want committed tx-1", res)
	}
	if u, err := uuid.Parse(res.Key); err != nil || u.Version() != 7 {
		t.Fatalf("Result.Key %q is not a UUIDv7 (%v)", res.Key, err)
	}
	calls := f.calls("Execute")
	if len(calls) != 2 {
		t.Fatalf("attempts = %d, want 2", len(calls))
	}
	for i, cl := range calls {
		if cl.key != res.Key {
			t.Errorf("attempt %d sent key %q, want %q", i, cl.key, res.Key)
		}
	}
}

func TestExecuteKeepsCallersKey(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{err: rpcErr(codes.Unavailable, tmv1.ReasonNoLeader, nil)}, step{tx: txIn("tx-1", committed, "")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	req := payment
	req.IdempotencyKey = "order-42"
	res, err := c.Execute(testCtx(t, 5*time.Second), req)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Key != "order-42" {
		t.Errorf("Result.Key = %q, want order-42", res.Key)
	}
	for i, cl := range f.calls("Execute") {
		if cl.key != "order-42" {
			t.Errorf("attempt %d sent key %q", i, cl.key)
		}
	}
}

func TestExecuteAbortedIsAResultNotAnError(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{tx: txIn("tx-2", aborted, "bank-a voted NO: insufficient funds")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	res, err := c.Execute(testCtx(t, 5*time.Second), payment)
	if err != nil {
		t.Fatalf("Execute: %v", err)
	}
	if res.Outcome != client.OutcomeAborted || res.AbortReason != "bank-a voted NO: insufficient funds" {
		t.Fatalf("result = %+v, want aborted with the reason", res)
	}
}

func TestKeyReusedIsFinal(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	meta := map[string]string{tmv1.MetaTxID: "tx-old", tmv1.MetaState: "COMMITTED"}
	f.on("Execute", step{err: rpcErr(codes.InvalidArgument, tmv1.ReasonIdempotencyKeyReused, meta)})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	_, err := c.Execute(testCtx(t, 5*time.Second), payment)
	if !errors.Is(err, client.ErrKeyReused) {
		t.Fatalf("err = %v, want ErrKeyReused", err)
	}
	if errors.Is(err, client.ErrOutcomeUnknown) {
		t.Errorf("a final error must not match ErrOutcomeUnknown")
	}
	if n := len(f.calls("Execute")); n != 1 {
		t.Errorf("attempts = %d, want 1 (never retried)", n)
	}
	if got := client.Metadata(err)[tmv1.MetaTxID]; got != "tx-old" {
		t.Errorf("metadata tx_id = %q, want tx-old", got)
	}
	if status.Code(err) != codes.InvalidArgument {
		t.Errorf("status code = %v, want InvalidArgument", status.Code(err))
	}
}

func TestUndecidedReplyIsAProtocolError(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{tx: txIn("tx-3", preparing, "")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	if _, err := c.Execute(testCtx(t, 5*time.Second), payment); !errors.Is(err, client.ErrProtocol) {
		t.Fatalf("err = %v, want ErrProtocol", err)
	}
}

func TestUnknownOutcomeWhenContextEnds(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{err: rpcErr(codes.Unavailable, tmv1.ReasonOutcomeUnknown, map[string]string{tmv1.MetaTxID: "tx-9"})})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})

	_, err := c.Execute(testCtx(t, 400*time.Millisecond), payment)
	if !errors.Is(err, client.ErrOutcomeUnknown) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want ErrOutcomeUnknown and context.DeadlineExceeded", err)
	}
	var u *client.UnknownOutcomeError
	if !errors.As(err, &u) {
		t.Fatalf("err = %T, want *UnknownOutcomeError", err)
	}
	calls := f.calls("Execute")
	if len(calls) < 2 {
		t.Fatalf("attempts = %d, want retries", len(calls))
	}
	if u.Key == "" || u.Key != calls[0].key || u.TxID != "tx-9" {
		t.Errorf("UnknownOutcomeError{Key %q, TxID %q}, want key %q and tx-9", u.Key, u.TxID, calls[0].key)
	}
}

func TestCancelledBeforeSendingIsNotUnknown(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	c := newClient(t, client.Config{Endpoints: []string{f.addr}})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()

	_, err := c.Execute(ctx, payment)
	if !errors.Is(err, context.Canceled) || errors.Is(err, client.ErrOutcomeUnknown) {
		t.Fatalf("err = %v, want context.Canceled only", err)
	}
	if n := len(f.calls("Execute")); n != 0 {
		t.Errorf("attempts = %d, want 0", n)
	}
}

func TestKeyOlderThanRetentionIsNeverSent(t *testing.T) {
	t.Parallel()
	f := startFake(t)
	f.on("Execute", step{tx: txIn("tx-4", committed, "")})
	c := newClient(t, client.Config{Endpoints: []string{f.addr}, KeyRetention: time.Hour})

	req := payment
	req.IdempotencyKey = uuidV7At(time.Now().Add(-2 * time.Hour)).String()
	_, err := c.Execute(testCtx(t, 5*time.Second), req)
	if !errors.Is(err, client.ErrKeyExpired) {
		t.Fatalf("err = %v, want ErrKeyExpired", err)
	}
	if n := len(f.calls("Execute")); n != 0 {
		t.Errorf("attempts = %d, want 0", n)
	}
}

// uuidV7At returns a UUIDv7 whose timestamp is at.
func uuidV7At(at time.Time) uuid.UUID {
	u := uuid.Must(uuid.NewV7())
	var ms [8]byte
	binary.BigEndian.PutUint64(ms[:], uint64(at.UnixMilli()))
	copy(u[0:6], ms[2:8])
	return u
}
