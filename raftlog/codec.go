package raftlog

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// commandKind ties a CommandType to its body message.
type commandKind struct {
	typ     tmlogv1.CommandType
	name    protoreflect.FullName
	newBody func() proto.Message
}

// kindOf builds the table entry of body type T.
func kindOf[T proto.Message](typ tmlogv1.CommandType) commandKind {
	var zero T // a typed nil: generated messages reflect on nil pointers
	mt := zero.ProtoReflect().Type()
	return commandKind{
		typ:     typ,
		name:    mt.Descriptor().FullName(),
		newBody: func() proto.Message { return mt.New().Interface() },
	}
}

// commandKinds is the one table of command types. It is read-only: nothing
// writes to it after package initialization. The FSM's dispatch table
// (appliers, fsm.go) must name exactly the same types; a test checks it.
var commandKinds = []commandKind{
	kindOf[*tmlogv1.BarrierCommand](tmlogv1.CommandType_COMMAND_TYPE_BARRIER),
	kindOf[*tmlogv1.BeginCommand](tmlogv1.CommandType_COMMAND_TYPE_BEGIN),
	kindOf[*tmlogv1.EnlistCommand](tmlogv1.CommandType_COMMAND_TYPE_ENLIST),
	kindOf[*tmlogv1.PrepareCommand](tmlogv1.CommandType_COMMAND_TYPE_PREPARE),
	kindOf[*tmlogv1.DecideCommand](tmlogv1.CommandType_COMMAND_TYPE_DECIDE),
	kindOf[*tmlogv1.AckCommand](tmlogv1.CommandType_COMMAND_TYPE_ACK),
	kindOf[*tmlogv1.CollectCommand](tmlogv1.CommandType_COMMAND_TYPE_COLLECT),
	kindOf[*tmlogv1.RegisterParticipantCommand](tmlogv1.CommandType_COMMAND_TYPE_REGISTER_PARTICIPANT),
	kindOf[*tmlogv1.RemoveParticipantCommand](tmlogv1.CommandType_COMMAND_TYPE_REMOVE_PARTICIPANT),
	kindOf[*tmlogv1.SetNodeCommand](tmlogv1.CommandType_COMMAND_TYPE_SET_NODE),
	kindOf[*tmlogv1.RemoveNodeCommand](tmlogv1.CommandType_COMMAND_TYPE_REMOVE_NODE),
	kindOf[*tmlogv1.InitClusterCommand](tmlogv1.CommandType_COMMAND_TYPE_INIT_CLUSTER),
}

// kindByType finds the table entry of a command type.
func kindByType(t tmlogv1.CommandType) (commandKind, bool) {
	for _, k := range commandKinds {
		if k.typ == t {
			return k, true
		}
	}
	return commandKind{}, false
}

// kindByName finds the table entry whose body has the given message name.
func kindByName(name protoreflect.FullName) (commandKind, bool) {
	for _, k := range commandKinds {
		if k.name == name {
			return k, true
		}
	}
	return commandKind{}, false
}

// marshalDeterministic is the one marshaller of everything raftlog writes:
// the same message always gives the same bytes (map entries sorted).
var marshalDeterministic = proto.MarshalOptions{Deterministic: true}

// EncodeCommand wraps a command body (a *tmlogv1.BarrierCommand,
// BeginCommand, ..., InitClusterCommand) in a tmlogv1.Command envelope of the
// matching type and marshals it deterministically: the bytes to hand to
// raft.Apply. It is a pure function, safe from any goroutine. A message that is
// not a command body gives an error wrapping ErrNotCommand.
func EncodeCommand(body proto.Message) ([]byte, error) {
	if body == nil {
		return nil, fmt.Errorf("%w: nil", ErrNotCommand)
	}
	kind, ok := kindByName(body.ProtoReflect().Descriptor().FullName())
	if !ok {
		return nil, fmt.Errorf("%w: %T", ErrNotCommand, body)
	}
	raw, err := marshalDeterministic.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("raftlog: encode %v body: %w", kind.typ, err)
	}
	data, err := marshalDeterministic.Marshal(&tmlogv1.Command{Type: kind.typ, Body: raw})
	if err != nil {
		return nil, fmt.Errorf("raftlog: encode %v envelope: %w", kind.typ, err)
	}
	return data, nil
}

// DecodeCommand reverses EncodeCommand: it returns the envelope and its
// decoded body. Bytes that do not decode, or an unknown type without the
// ignorable flag, give an error wrapping ErrCorruptCommand. An unknown type
// with ignorable set (written by a newer version) gives the envelope, a nil
// body and no error: the caller skips it. It never panics, whatever the input,
// and is safe from any goroutine.
func DecodeCommand(data []byte) (*tmlogv1.Command, proto.Message, error) {
	cmd := new(tmlogv1.Command)
	if err := proto.Unmarshal(data, cmd); err != nil {
		return nil, nil, fmt.Errorf("%w: envelope: %w", ErrCorruptCommand, err)
	}
	kind, ok := kindByType(cmd.GetType())
	if !ok {
		if cmd.GetIgnorable() {
			return cmd, nil, nil
		}
		return nil, nil, fmt.Errorf("%w: unknown command type %d", ErrCorruptCommand, int32(cmd.GetType()))
	}
	body := kind.newBody()
	if err := proto.Unmarshal(cmd.GetBody(), body); err != nil {
		return nil, nil, fmt.Errorf("%w: %v body: %w", ErrCorruptCommand, cmd.GetType(), err)
	}
	return cmd, body, nil
}
