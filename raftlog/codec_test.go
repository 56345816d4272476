package raftlog

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// sampleBodies is one populated body of every command type.
func sampleBodies() []proto.Message {
	id := txid(7, 1)
	return []proto.Message{
		&tmlogv1.BarrierCommand{},
		beginCmd(id, "key-1", twoBranches(0, 0)...),
		enlistCmd(id, br("b3", "bank-c", "x", 0)),
		prepareCmd(id),
		decideCmd(id, commit, "key-1", twoBranches(bPrepared, bReadOnly)...),
		ackCmd(ack(id, "b1", bCommitted), ack(id, "b2", bHazard)),
		collectCmd(12345),
		registerCmd("bank-a", "127.0.0.1:9101", 5),
		&tmlogv1.RemoveParticipantCommand{Name: "bank-a", TimeUnixNano: 6},
		&tmlogv1.SetNodeCommand{Id: "n1", GrpcAddress: "127.0.0.1:7001", RaftAddress: "127.0.0.1:8001"},
		&tmlogv1.RemoveNodeCommand{Id: "n1"},
		&tmlogv1.InitClusterCommand{ClusterId: "c-1"},
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	for _, body := range sampleBodies() {
		t.Run(string(body.ProtoReflect().Descriptor().Name()), func(t *testing.T) {
			data, err := EncodeCommand(body)
			if err != nil {
				t.Fatal(err)
			}
			cmd, got, err := DecodeCommand(data)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := kindByName(body.ProtoReflect().Descriptor().FullName())
			if cmd.GetType() != want.typ || cmd.GetIgnorable() {
				t.Errorf("envelope type %v ignorable %v, want %v", cmd.GetType(), cmd.GetIgnorable(), want.typ)
			}
			if !proto.Equal(got, body) {
				t.Errorf("body = %v, want %v", got, body)
			}
		})
	}
}

// Every CommandType has exactly one codec entry and one applier, and the
// sample bodies cover them all.
func TestCommandTablesCoverEveryType(t *testing.T) {
	seen := map[tmlogv1.CommandType]bool{}
	for _, k := range commandKinds {
		if seen[k.typ] {
			t.Errorf("%v twice in commandKinds", k.typ)
		}
		seen[k.typ] = true
		if _, ok := appliers[k.typ]; !ok {
			t.Errorf("%v has no applier", k.typ)
		}
	}
	for num, name := range tmlogv1.CommandType_name {
		typ := tmlogv1.CommandType(num)
		if typ != tmlogv1.CommandType_COMMAND_TYPE_UNSPECIFIED && !seen[typ] {
			t.Errorf("%s missing from commandKinds", name)
		}
	}
	if len(appliers) != len(commandKinds) || len(sampleBodies()) != len(commandKinds) {
		t.Errorf("appliers %d, sample bodies %d, command kinds %d", len(appliers), len(sampleBodies()), len(commandKinds))
	}
}

func TestEncodeCommandRejectsNonCommands(t *testing.T) {
	for _, body := range []proto.Message{nil, &tmv1.Branch{}, &tmlogv1.Command{}, &tmlogv1.Snapshot{}} {
		if _, err := EncodeCommand(body); !errors.Is(err, ErrNotCommand) {
			t.Errorf("EncodeCommand(%T) error = %v, want ErrNotCommand", body, err)
		}
	}
}

func TestEncodeCommandIsDeterministic(t *testing.T) {
	c := beginCmd(txid(1, 1), "k")
	c.Labels = map[string]string{}
	for _, k := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j"} {
		c.Labels[k] = k + k
	}
	first, err := EncodeCommand(c)
	if err != nil {
		t.Fatal(err)
	}
	for range 50 {
		again, _ := EncodeCommand(proto.Clone(c))
		if !bytes.Equal(first, again) {
			t.Fatal("two encodings of the same command differ")
		}
	}
}

func TestDecodeCommand(t *testing.T) {
	envelope := func(c *tmlogv1.Command) []byte {
		b, err := proto.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name     string
		data     []byte
		wantErr  bool
		wantBody bool
	}{
		{"garbage", []byte{0xff, 0xff, 0xff}, true, false},
		{"unspecified type", envelope(&tmlogv1.Command{}), true, false},
		{"unknown type", envelope(&tmlogv1.Command{Type: 99}), true, false},
		{"unknown ignorable type", envelope(&tmlogv1.Command{Type: 99, Ignorable: true}), false, false},
		{"known type, bad body", envelope(&tmlogv1.Command{Type: tmlogv1.CommandType_COMMAND_TYPE_DECIDE, Body: []byte{0x0a, 0x05}}), true, false},
		{"known type, invalid utf-8", envelope(&tmlogv1.Command{Type: tmlogv1.CommandType_COMMAND_TYPE_PREPARE, Body: []byte{0x0a, 0x01, 0xff}}), true, false},
		{"known type, empty body", envelope(&tmlogv1.Command{Type: tmlogv1.CommandType_COMMAND_TYPE_BARRIER}), false, true},
		{"empty input is an UNSPECIFIED envelope", nil, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd, body, err := DecodeCommand(tc.data)
			if tc.wantErr != (err != nil) {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !errors.Is(err, ErrCorruptCommand) {
				t.Errorf("err = %v, does not wrap ErrCorruptCommand", err)
			}
			if err == nil && cmd == nil {
				t.Error("nil envelope without error")
			}
			if tc.wantBody != (body != nil) {
				t.Errorf("body = %v, want body %v", body, tc.wantBody)
			}
		})
	}
}

// FuzzDecodeCommand: DecodeCommand never panics, and whatever it accepts
// re-encodes to a command that decodes to the same body.
func FuzzDecodeCommand(f *testing.F) {
	for _, body := range sampleBodies() {
		data, err := EncodeCommand(body)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		cmd, body, err := DecodeCommand(data)
		if err != nil {
			if !errors.Is(err, ErrCorruptCommand) {
				t.Fatalf("error %v does not wrap ErrCorruptCommand", err)
			}
			return
		}
		if body == nil {
			if !cmd.GetIgnorable() {
				t.Fatal("nil body for a non-ignorable command")
			}
			return
		}
		again, err := EncodeCommand(body)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		_, body2, err := DecodeCommand(again)
		if err != nil || !proto.Equal(body, body2) {
			t.Fatalf("re-decode: %v, %v != %v", err, body2, body)
		}
	})
}
