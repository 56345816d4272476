package raftlog

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// applyRecovering applies data and returns what it panicked with, if it did.
func applyRecovering(f *FSM, index uint64, data []byte) (r Result, panicked any) {
	defer func() { panicked = recover() }()
	return f.ApplyCommand(1, index, data), nil
}

// FuzzApply: whatever the bytes, ApplyCommand either applies them, the same
// way on two replicas, leaving an encodable state, or panics with an error
// wrapping ErrCorruptCommand; never anything else.
func FuzzApply(f *testing.F) {
	for _, body := range sampleBodies() {
		data, err := EncodeCommand(body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("not a command"))
	f.Fuzz(func(t *testing.T, data []byte) {
		a, b := populated(t), populated(t)
		ra, pa := applyRecovering(a.f, a.index+1, data)
		rb, pb := applyRecovering(b.f, b.index+1, data)
		if pa != nil {
			err, ok := pa.(error)
			if !ok || !errors.Is(err, ErrCorruptCommand) {
				t.Fatalf("panic with %v (%T), want an error wrapping ErrCorruptCommand", pa, pa)
			}
			if pb == nil {
				t.Fatal("one replica panicked, the other did not")
			}
			return
		}
		if pb != nil || !sameResult(ra, rb) {
			t.Fatalf("replicas disagree: %v / %v, panics %v / %v", ra, rb, pa, pb)
		}
		if _, err := a.f.MarshalState(); err != nil {
			t.Fatalf("state no longer encodes: %v", err)
		}
		assertSameState(t, a.f, b.f)
	})
}

// The panic of a corrupt entry names the entry and wraps ErrCorruptCommand.
func TestApplyCorruptEntryPanics(t *testing.T) {
	_, p := applyRecovering(NewFSM(), 7, []byte{0xff})
	err, ok := p.(error)
	if !ok || !errors.Is(err, ErrCorruptCommand) {
		t.Fatalf("panic %v, want ErrCorruptCommand", p)
	}
	if got := fmt.Sprint(err); !strings.Contains(got, "entry 7") {
		t.Errorf("panic %q does not name the entry", got)
	}
}

// An unknown command marked ignorable (from a newer version) changes nothing;
// one not so marked stops the replica.
func TestApplyUnknownCommandTypes(t *testing.T) {
	h := populated(t)
	before := h.f.Digest()
	data, _ := proto.Marshal(&tmlogv1.Command{Type: 999, Body: []byte("future"), Ignorable: true})
	r, p := applyRecovering(h.f, 100, data)
	if p != nil || r.Err != nil || r.Tx != nil || r.Index != 100 || h.f.Digest() != before || h.f.AppliedIndex() != 100 {
		t.Errorf("ignorable: result %v panic %v", r, p)
	}
	data, _ = proto.Marshal(&tmlogv1.Command{Type: 999, Body: []byte("future")})
	if _, p := applyRecovering(h.f, 101, data); p == nil {
		t.Error("unknown non-ignorable command applied")
	}
	if h.f.Digest() != before {
		t.Error("state changed")
	}
}
