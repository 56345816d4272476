package raftlog

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"go.etcd.io/bbolt"
)

const (
	logFileName      = "raft.db"
	snapshotsRetain  = 2
	logCacheSize     = 512
	transportPool    = 3
	transportTimeout = 10 * time.Second
	// boltLockTimeout bounds the wait for raft.db's file lock, so a data dir
	// already used by another process fails Open instead of hanging it.
	boltLockTimeout = time.Second
)

// Node is one member of a tmcluster Raft group: hashicorp/raft over TCP,
// with raft-boltdb (fsync on every write) as log and stable store, file
// snapshots, and the FSM. All its methods are safe from any goroutine.
type Node struct {
	id        string
	fsm       *FSM
	raft      *raft.Raft
	store     *raftboltdb.BoltStore
	transport *raft.NetworkTransport
	hadState  bool

	notifyCh   chan bool     // written by raft
	leadership chan bool     // LeadershipChanges: capacity 1, latest wins
	stopped    chan struct{} // closed once raft has fully shut down
	wg         sync.WaitGroup

	shutdownOnce sync.Once
	shutdownErr  error
}

// Open opens (or creates) the node's data dir and starts Raft. With
// cfg.Bootstrap and no Raft state in the data dir, it bootstraps a
// single-voter configuration of this node; with state, it resumes from it
// (HadState reports which). Errors name what failed: an invalid config, a data
// dir that cannot be created or written, or is locked by another process, or a
// Raft address that cannot be bound (e.g. the port is in use). On error
// nothing is left open.
func Open(cfg Config) (*Node, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		id:         cfg.ID,
		fsm:        NewFSM(),
		notifyCh:   make(chan bool, 1),
		leadership: make(chan bool, 1),
		stopped:    make(chan struct{}),
	}
	if err := n.open(cfg, cfg.logger()); err != nil {
		n.closeStores()
		return nil, err
	}
	n.wg.Add(1)
	go n.forwardLeadership()
	return n, nil
}

// open builds the stores, the transport and Raft, and bootstraps if asked.
func (n *Node) open(cfg Config, logger hclog.Logger) error {
	snaps, err := n.openStores(cfg, logger)
	if err != nil {
		return err
	}
	if err := n.listen(cfg, logger); err != nil {
		return err
	}
	logs, err := raft.NewLogCache(logCacheSize, n.store)
	if err != nil {
		return fmt.Errorf("raftlog: log cache: %w", err)
	}
	n.raft, err = raft.NewRaft(cfg.raftConfig(logger, n.notifyCh), n.fsm, logs, n.store,
		&indexingSnapshotStore{SnapshotStore: snaps, fsm: n.fsm}, n.transport)
	if err != nil {
		return fmt.Errorf("raftlog: start raft: %w", err)
	}
	if cfg.Bootstrap && !n.hadState {
		return n.bootstrap(cfg)
	}
	return nil
}

// openStores opens DataDir/raft.db (log and stable store, fsync on) and the
// snapshot store, and notes whether they hold Raft state.
func (n *Node) openStores(cfg Config, logger hclog.Logger) (raft.SnapshotStore, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("raftlog: create data dir: %w", err)
	}
	path := filepath.Join(cfg.DataDir, logFileName)
	store, err := raftboltdb.New(raftboltdb.Options{
		Path: path,
		// The freelist is not written on each commit but rebuilt by a scan
		// when the file is opened, as etcd's backend does: a Raft log
		// truncated after every snapshot has a long freelist, and each
		// append would write it again. The map freelist frees and
		// allocates pages without sorting it.
		BoltOptions: &bbolt.Options{Timeout: boltLockTimeout, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType},
		NoSync:      false, // every append is fsynced: decisions must survive a crash
	})
	if err != nil {
		return nil, fmt.Errorf("raftlog: open log store %s (unwritable, or in use by another process?): %w", path, err)
	}
	n.store = store
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.DataDir, snapshotsRetain, logger)
	if err != nil {
		return nil, fmt.Errorf("raftlog: open snapshot store in %s: %w", cfg.DataDir, err)
	}
	if n.hadState, err = raft.HasExistingState(store, store, snaps); err != nil {
		return nil, fmt.Errorf("raftlog: read raft state in %s: %w", cfg.DataDir, err)
	}
	return snaps, nil
}

// listen binds the Raft transport on cfg.RaftAddr: TCP, or TLS with cfg.TLS.
func (n *Node) listen(cfg Config, logger hclog.Logger) error {
	advertise, err := net.ResolveTCPAddr("tcp", cfg.RaftAddr)
	if err != nil {
		return fmt.Errorf("raftlog: raft address %q: %w", cfg.RaftAddr, err)
	}
	if cfg.TLS != nil {
		stream, err := newTLSStreamLayer(cfg.RaftAddr, advertise, cfg.TLS, transportTimeout)
		if err != nil {
			return fmt.Errorf("raftlog: listen on raft address %s: %w", cfg.RaftAddr, err)
		}
		n.transport = raft.NewNetworkTransportWithLogger(stream, transportPool, transportTimeout, logger)
		return nil
	}
	n.transport, err = raft.NewTCPTransportWithLogger(cfg.RaftAddr, advertise, transportPool, transportTimeout, logger)
	if err != nil {
		return fmt.Errorf("raftlog: listen on raft address %s: %w", cfg.RaftAddr, err)
	}
	return nil
}

// bootstrap makes this node the single voter of a new cluster.
func (n *Node) bootstrap(cfg Config) error {
	conf := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter,
		ID:       raft.ServerID(cfg.ID),
		Address:  n.transport.LocalAddr(),
	}}}
	if err := n.raft.BootstrapCluster(conf).Error(); err != nil {
		return fmt.Errorf("raftlog: bootstrap: %w", err)
	}
	return nil
}

// closeStores releases what a failed Open had opened.
func (n *Node) closeStores() {
	if n.raft != nil {
		_ = n.raft.Shutdown().Error()
	}
	if n.transport != nil {
		_ = n.transport.Close()
		n.transport.CloseStreams()
	}
	if n.store != nil {
		_ = n.store.Close()
	}
}

// Shutdown stops Raft, then closes the transport and the log store. It waits
// for Raft's goroutines to exit; proposals still waiting get an error wrapping
// ErrOutcomeUnknown. It is idempotent: later calls return the first result.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		err := n.raft.Shutdown().Error()
		close(n.stopped)
		n.wg.Wait()
		err = errors.Join(err, n.transport.Close())
		// Close pooled outbound connections too, which Close leaves open: the
		// peers' goroutines reading them would otherwise wait forever.
		n.transport.CloseStreams()
		n.shutdownErr = errors.Join(err, n.store.Close())
	})
	return n.shutdownErr
}

// forwardLeadership moves Raft's leadership notifications to the
// LeadershipChanges channel without ever blocking Raft.
func (n *Node) forwardLeadership() {
	defer n.wg.Done()
	for {
		select {
		case v := <-n.notifyCh:
			publishLatest(n.leadership, v)
		case <-n.stopped:
			return
		}
	}
}

// publishLatest puts v in a channel of capacity 1, replacing a value the
// consumer has not taken yet. Only one goroutine may call it per channel.
func publishLatest(ch chan bool, v bool) {
	for {
		select {
		case ch <- v:
			return
		default:
		}
		select {
		case <-ch: // stale: drop it
		default:
		}
	}
}

// indexingSnapshotStore tells the FSM the index of each snapshot opened, so
// that Restore (which hashicorp/raft calls right after Open, and which
// receives no metadata) can set the FSM's applied index.
type indexingSnapshotStore struct {
	raft.SnapshotStore
	fsm *FSM
}

// Open opens snapshot id and passes its index to the FSM before Raft hands
// the reader to Restore.
func (s *indexingSnapshotStore) Open(id string) (*raft.SnapshotMeta, io.ReadCloser, error) {
	meta, rc, err := s.SnapshotStore.Open(id)
	if err == nil {
		s.fsm.setRestoreIndex(meta.Index)
	}
	return meta, rc, err
}
