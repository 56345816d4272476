package raftlog

import (
	"slices"

	tmv1 "github.com/tmcluster/tmcluster/proto/tm/v1"
)

// watchers fans every record change out to subscribers. Apply publishes
// without blocking: a subscriber whose buffer is full is dropped and its
// channel closed, so a slow reader can never stall the FSM (it re-watches
// and re-reads). Publishing changes no state and reads no clock; the FSM
// stays deterministic. Guarded by FSM.mu.
type watchers struct {
	next uint64
	subs map[uint64]chan *tmv1.Transaction
}

// publish sends the records the entry touched, in the order they were
// touched, each once.
func (w *watchers) publish(s *state) {
	if len(w.subs) == 0 || len(s.touched) == 0 {
		return
	}
	seen := make([]string, 0, len(s.touched))
	for _, id := range s.touched {
		if slices.Contains(seen, id) {
			continue
		}
		seen = append(seen, id)
		rec, ok := s.txs[id]
		if !ok {
			continue
		}
		w.send(rec.GetTx())
	}
}

func (w *watchers) send(tx *tmv1.Transaction) {
	for id, ch := range w.subs {
		select {
		case ch <- tx:
		default:
			close(ch)
			delete(w.subs, id)
		}
	}
}

// Watch subscribes to every change of a transaction record from now on: each
// entry that creates or changes a record sends the record after the entry.
// The records sent are shared and must not be modified. The channel is
// closed when cancel is called or when the subscriber fell more than buffer
// changes behind. Safe from any goroutine.
func (f *FSM) Watch(buffer int) (changes <-chan *tmv1.Transaction, cancel func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watch.subs == nil {
		f.watch.subs = make(map[uint64]chan *tmv1.Transaction)
	}
	id := f.watch.next
	f.watch.next++
	ch := make(chan *tmv1.Transaction, buffer)
	f.watch.subs[id] = ch
	return ch, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		if c, ok := f.watch.subs[id]; ok {
			close(c)
			delete(f.watch.subs, id)
		}
	}
}
