package raftlog

import (
	"testing"

	"go.uber.org/goleak"
)

// Every Node test shuts its nodes down: no goroutine may outlive the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
