package raftlog

import (
	"testing"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// A participant's certificate identity is stored with its registration,
// replaced by a re-registration, kept with a removal, and carried through a
// snapshot.
func TestParticipantIdentity(t *testing.T) {
	h := newHarness(t)
	reg := func(name, target, identity string) {
		t.Helper()
		if r := h.apply(&tmlogv1.RegisterParticipantCommand{Name: name, Target: target, TimeUnixNano: 1, Identity: identity}); r.Err != nil {
			t.Fatalf("register %s: %v", name, r.Err)
		}
	}
	reg("bank-a", "127.0.0.1:1", "bank-a")
	reg("bank-b", "127.0.0.1:2", "")

	check := func(f *FSM, name, want string, wantKnown bool) {
		t.Helper()
		if got, known := f.ParticipantIdentity(name); got != want || known != wantKnown {
			t.Fatalf("ParticipantIdentity(%s) = %q, %v; want %q, %v", name, got, known, want, wantKnown)
		}
	}
	check(h.f, "bank-a", "bank-a", true)
	check(h.f, "bank-b", "", true)
	check(h.f, "bank-c", "", false)
	if p, _ := h.f.Participant("bank-a"); p.GetIdentity() != "bank-a" {
		t.Fatalf("Participant(bank-a).identity = %q", p.GetIdentity())
	}
	if !h.f.IsParticipantIdentity("bank-a") || h.f.IsParticipantIdentity("bank-b") || h.f.IsParticipantIdentity("") {
		t.Fatal("IsParticipantIdentity: wrong set")
	}

	reg("bank-b", "127.0.0.1:3", "bank-b-new") // re-target replaces the identity
	check(h.f, "bank-b", "bank-b-new", true)
	reg("bank-b", "127.0.0.1:3", "") // and an empty one clears it
	check(h.f, "bank-b", "", true)

	if r := h.apply(&tmlogv1.RemoveParticipantCommand{Name: "bank-a", TimeUnixNano: 2}); r.Err != nil {
		t.Fatalf("remove: %v", r.Err)
	}
	check(h.f, "bank-a", "bank-a", true) // remembered while removed
	if h.f.IsParticipantIdentity("bank-a") {
		t.Fatal("a removed participant's identity still counts as registered")
	}

	restored := snapshotRestore(t, h.f)
	check(restored, "bank-a", "bank-a", true)
	reg("bank-c", "127.0.0.1:4", "bank-c")
	restored = snapshotRestore(t, h.f)
	check(restored, "bank-c", "bank-c", true)
}
