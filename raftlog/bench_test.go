package raftlog

import (
	"testing"

	"google.golang.org/protobuf/proto"
)

// BenchmarkApplyDecide measures the FSM's apply path for the common case: a
// one-shot keyed COMMIT of two branches (decode, decide, bind, copy result).
func BenchmarkApplyDecide(b *testing.B) {
	f := NewFSM()
	data := make([][]byte, 0, 1024)
	for i := range 1024 {
		id := FormatTxID(Mint{Term: 1, Index: uint64(i + 1), Seq: 0})
		c := decideCmd(id, commit, id, twoBranches(bPrepared, bPrepared)...)
		d, err := EncodeCommand(c)
		if err != nil {
			b.Fatal(err)
		}
		data = append(data, d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%len(data) == 0 && i > 0 {
			b.StopTimer()
			f = NewFSM() // fresh ids again, so every entry decides
			b.StartTimer()
		}
		if r := f.ApplyCommand(1, uint64(i+1), data[i%len(data)]); !r.Decided {
			b.Fatal("not decided")
		}
	}
}

// BenchmarkEncodeCommand measures encoding a two-branch keyed DECIDE.
func BenchmarkEncodeCommand(b *testing.B) {
	c := decideCmd(txid(1, 1), commit, "key", twoBranches(bPrepared, bPrepared)...)
	c.Labels = map[string]string{"app": "payments", "region": "eu"}
	var body proto.Message = c
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := EncodeCommand(body); err != nil {
			b.Fatal(err)
		}
	}
}
