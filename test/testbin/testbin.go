// Package testbin builds tmcluster's commands for tests that run them as
// real processes (the system tests and the chaos tier). test/procs runs
// the binaries; this package only builds them.
package testbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Build builds the tmd and bankd commands, without -race (the processes
// are the system under test, not the test's code), into a temporary folder
// of t and returns it.
func Build(t testing.TB) string {
	t.Helper()
	dir := t.TempDir()
	start := time.Now()
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"github.com/tmcluster/tmcluster/cmd/tmd", "github.com/tmcluster/tmcluster/cmd/bankd")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built tmd and bankd in %v", time.Since(start).Round(time.Millisecond))
	return dir
}
