package server

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
	"github.com/tmcluster/tmcluster/raftlog"
)

// FuzzValidateExecute feeds arbitrary ExecuteTransactionRequest encodings to
// the validation of the one-shot path. It must never panic, and whatever it
// accepts must respect every limit: only valid input may reach the log.
func FuzzValidateExecute(f *testing.F) {
	seed := func(r *tmv1.ExecuteTransactionRequest) {
		b, _ := proto.Marshal(r)
		f.Add(b)
	}
	seed(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("d", "bank-a", "-1"), branch("c", "bank-a", "+1")}, IdempotencyKey: "k"})
	seed(&tmv1.ExecuteTransactionRequest{Branches: []*tmv1.Branch{branch("d", "nobody", "")}, Timeout: durationpb.New(-time.Second)})
	seed(&tmv1.ExecuteTransactionRequest{Labels: map[string]string{"": ""}})
	f.Add([]byte{0xff, 0x01})

	fsm := raftlog.NewFSM()
	reg, _ := raftlog.EncodeCommand(&tmlogv1.RegisterParticipantCommand{Name: "bank-a", Target: "127.0.0.1:1", TimeUnixNano: 1})
	fsm.ApplyCommand(1, 1, reg)
	s := &Server{cfg: Config{MaxBranches: 4, MaxPayloadBytes: 64}, fsm: fsm}
	s.cfg.setDefaults()

	f.Fuzz(func(t *testing.T, data []byte) {
		req := &tmv1.ExecuteTransactionRequest{}
		if proto.Unmarshal(data, req) != nil {
			return
		}
		r, err := s.validateTxRequest(fingerprintRun, req.GetBranches(), req.GetIdempotencyKey(), req.GetTimeout(), req.GetLabels(), 1)
		if err != nil {
			if reasonOf(err) == "" || metaOf(err)[tmv1.MetaField] == "" {
				t.Fatalf("rejection without reason or field: %v", err)
			}
			return
		}
		if n := len(r.branches); n < 1 || n > s.cfg.MaxBranches {
			t.Fatalf("accepted %d branches", n)
		}
		ids := map[string]bool{}
		for _, b := range r.branches {
			if b.GetBranchId() == "" || ids[b.GetBranchId()] || len(b.GetPayload()) > s.cfg.MaxPayloadBytes || b.GetParticipant() != "bank-a" {
				t.Fatalf("accepted an invalid branch %v", b)
			}
			if b.GetState() != tmv1.BranchState_BRANCH_STATE_ENLISTED || b.GetReason() != "" {
				t.Fatalf("client-set output fields reached the plan: %v", b)
			}
			ids[b.GetBranchId()] = true
		}
		if r.timeout <= 0 || r.timeout > s.cfg.MaxTimeout || len(r.key) > maxKeyLen {
			t.Fatalf("accepted timeout %v key %d bytes", r.timeout, len(r.key))
		}
	})
}
