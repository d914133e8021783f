package sextant_test

import (
	"bytes"
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	sextant "github.com/sextant-db/sextant/client/go"
)

// testServer is a sextantd child process on a free loopback port with its data in a temporary
// directory, stopped with SIGTERM when the test ends.
type testServer struct {
	addr    string
	dataDir string
	logPath string
}

// startServer runs $SEXTANTD --data DIR --listen 127.0.0.1:0 --port-file F extra... and waits
// until it has written its port. It skips the test when SEXTANTD is not set.
func startServer(t *testing.T, extra ...string) *testServer {
	t.Helper()
	bin := os.Getenv("SEXTANTD")
	if bin == "" {
		t.Skip("SEXTANTD is not set: the integration tests need a sextantd binary " +
			"(SEXTANTD=$PWD/../../build/server/sextantd go test ./...)")
	}
	dir := t.TempDir()
	s := &testServer{dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "sextantd.log")}
	portFile := filepath.Join(dir, "port")
	args := append([]string{"--data", s.dataDir, "--listen", "127.0.0.1:0", "--port-file", portFile}, extra...)
	logFile, err := os.Create(s.logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	logFile.Close()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()

	// The port file is written (to a temporary name, then renamed) once the server listens.
	deadline := time.Now().Add(60 * time.Second)
	for s.addr == "" {
		if b, err := os.ReadFile(portFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			port, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || port <= 0 || port > 65535 {
				cmd.Process.Kill()
				t.Fatalf("sextantd wrote a bad port file %q", b)
			}
			s.addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("sextantd %s exited before listening: %v\n%s", strings.Join(args, " "), err, s.log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("sextantd did not write %s within 60 s\n%s", portFile, s.log())
		}
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("sextantd exited with %v after SIGTERM\n%s", err, s.log())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("sextantd did not stop within 60 s of SIGTERM\n%s", s.log())
		}
	})
	return s
}

// log returns the server's output so far.
func (s *testServer) log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// dial connects to s and closes the client when the test ends.
func (s *testServer) dial(t *testing.T, opts ...sextant.Option) *sextant.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sextant.Dial(ctx, s.addr, opts...)
	if err != nil {
		t.Fatalf("Dial(%s): %v\n%s", s.addr, err, s.log())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testContext is a context for one test's calls, bounded so that a hung server fails the test
// instead of the whole run.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
