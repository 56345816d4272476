package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

func writeFile(path string) error { return os.WriteFile(path, []byte("x"), 0o600) }

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestStartupErrorsAreOneLine(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	file := t.TempDir() + "/file"
	if err := writeFile(file); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--nope"}, 2, "flag provided but not defined"},
		{[]string{"--listen", "127.0.0.1:0"}, 2, "--data-dir is required"},
		{[]string{"--data-dir", t.TempDir(), "--accounts", "0"}, 2, "--accounts"},
		{[]string{"--data-dir", t.TempDir(), "extra"}, 2, "unexpected arguments"},
		{[]string{"--data-dir", file + "/sub", "--listen", "127.0.0.1:0"}, 1, "data dir"},
		{[]string{"--data-dir", t.TempDir(), "--listen", busy.Addr().String()}, 1, "address already in use"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), tc.args, &stderr)
		out := stderr.String()
		if code != tc.code || !strings.Contains(out, tc.want) || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "bankd: ") {
			t.Errorf("run(%v) = %d, stderr %q; want %d and one line about %q", tc.args, code, out, tc.code, tc.want)
		}
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var stderr syncBuffer
	go func() { done <- run(ctx, []string{"--data-dir", t.TempDir(), "--listen", "127.0.0.1:0"}, &stderr) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "serving") && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after a graceful stop; stderr %s", code, stderr.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}
