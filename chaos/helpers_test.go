package chaos

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// reportDir makes a report folder that outlives the test when it fails
// (t.TempDir would delete the evidence), and is removed when it passes.
func reportDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tmchaos-"+strings.ReplaceAll(t.Name(), "/", "-")+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("report folder kept: %s", dir)
			return
		}
		_ = os.RemoveAll(dir)
	})
	return filepath.Join(dir, "run")
}

// testLog is an io.Writer that sends whole lines to t.Log until the test
// ends (a line written after that is dropped, not a panic).
type testLog struct {
	t    *testing.T
	mu   sync.Mutex
	done bool
	buf  []byte
}

// newTestLog returns a testLog for t.
func newTestLog(t *testing.T) io.Writer {
	l := &testLog{t: t}
	t.Cleanup(func() { l.mu.Lock(); l.done = true; l.mu.Unlock() })
	return l
}

// Write logs every complete line of what has been written.
func (l *testLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			break
		}
		if !l.done {
			l.t.Log(string(l.buf[:i]))
		}
		l.buf = l.buf[i+1:]
	}
	return len(p), nil
}
