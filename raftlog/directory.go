package raftlog

import (
	"slices"

	tmlogv1 "github.com/tmcluster/tmcluster/proto/tmlog/v1"
)

// directory is what the coordinator's hot path reads about the cluster's
// configuration — where each participant is dialled, the coordinators'
// gRPC endpoints, the cluster id — as an immutable value that the applies
// changing them replace. Several reads per payment then take no lock (an
// RLock waits behind every Apply) and copy no message: profiling showed
// FSM.Participant, a locked read with a proto.Clone, at 4.5 % of the CPU
// of a loaded cluster.
type directory struct {
	targets   map[string]string // participant name → dial target
	endpoints []string          // non-empty gRPC addresses, by node id
	clusterID string
}

// directoryChanges are the command types whose apply may change the
// directory; any other leaves it as it is.
var directoryChanges = map[tmlogv1.CommandType]bool{
	tmlogv1.CommandType_COMMAND_TYPE_REGISTER_PARTICIPANT: true,
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_PARTICIPANT:   true,
	tmlogv1.CommandType_COMMAND_TYPE_SET_NODE:             true,
	tmlogv1.CommandType_COMMAND_TYPE_REMOVE_NODE:          true,
	tmlogv1.CommandType_COMMAND_TYPE_INIT_CLUSTER:         true,
}

// directoryOf builds the directory of s.
func directoryOf(s *state) *directory {
	d := &directory{targets: make(map[string]string, len(s.participants)), clusterID: s.clusterID}
	for name, p := range s.participants {
		d.targets[name] = p.GetTarget()
	}
	ids := make([]string, 0, len(s.nodes))
	for id := range s.nodes {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if addr := s.nodes[id].GetGrpcAddress(); addr != "" {
			d.endpoints = append(d.endpoints, addr)
		}
	}
	return d
}

// refreshDirectory publishes the directory of f.st. Called with f.mu held
// for writing, after an apply that may have changed it and after Restore.
func (f *FSM) refreshDirectory() { f.dir.Store(directoryOf(f.st)) }

// directory returns the published directory (an empty one before any).
func (f *FSM) directory() *directory {
	if d := f.dir.Load(); d != nil {
		return d
	}
	return &directory{}
}

// ParticipantTarget returns the dial target of a registered participant,
// without a lock: the registry as of an apply at least as recent as the
// last one that changed it.
func (f *FSM) ParticipantTarget(name string) (target string, ok bool) {
	target, ok = f.directory().targets[name]
	return target, ok
}

// CoordinatorEndpoints returns the gRPC address of every node in the
// address book that has one, sorted by node id: what a participant in doubt
// may ask. The slice is the caller's.
func (f *FSM) CoordinatorEndpoints() []string {
	return slices.Clone(f.directory().endpoints)
}

// ClusterID returns the cluster id fixed by the first INIT_CLUSTER, or "".
func (f *FSM) ClusterID() string { return f.directory().clusterID }
