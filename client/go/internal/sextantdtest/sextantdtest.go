// Package sextantdtest starts a real sextantd for the Go client's tests: a child process on a
// free loopback port, with its data in a temporary directory, stopped with SIGTERM when the test
// ends. The binary comes from the environment variable SEXTANTD; without it the test is skipped.
package sextantdtest

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

// Server is a sextantd child process on a free loopback port with its data in a temporary
// directory, stopped with SIGTERM when the test ends.
type Server struct {
	// Addr is "127.0.0.1:PORT".
	Addr string
	// DataDir is the server's --data directory.
	DataDir string
	logPath string
}

// Start runs $SEXTANTD --data DIR --listen 127.0.0.1:0 --port-file F extra... and waits
// until it has written its port. It skips the test when SEXTANTD is not set.
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	bin := os.Getenv("SEXTANTD")
	if bin == "" {
		t.Skip("SEXTANTD is not set: the integration tests need a sextantd binary " +
			"(SEXTANTD=$PWD/../../build/server/sextantd go test ./...)")
	}
	dir := t.TempDir()
	s := &Server{DataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "sextantd.log")}
	portFile := filepath.Join(dir, "port")
	args := append([]string{"--data", s.DataDir, "--listen", "127.0.0.1:0", "--port-file", portFile}, extra...)
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
	for s.Addr == "" {
		if b, err := os.ReadFile(portFile); err == nil && bytes.HasSuffix(b, []byte("\n")) {
			port, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || port <= 0 || port > 65535 {
				cmd.Process.Kill()
				t.Fatalf("sextantd wrote a bad port file %q", b)
			}
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("sextantd %s exited before listening: %v\n%s", strings.Join(args, " "), err, s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exited
			t.Fatalf("sextantd did not write %s within 60 s\n%s", portFile, s.Log())
		}
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("sextantd exited with %v after SIGTERM\n%s", err, s.Log())
			}
		case <-time.After(60 * time.Second):
			cmd.Process.Kill()
			<-exited
			t.Errorf("sextantd did not stop within 60 s of SIGTERM\n%s", s.Log())
		}
	})
	return s
}

// Log returns the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// Dial connects to s and closes the client when the test ends.
func (s *Server) Dial(t testing.TB, opts ...sextant.Option) *sextant.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sextant.Dial(ctx, s.Addr, opts...)
	if err != nil {
		t.Fatalf("Dial(%s): %v\n%s", s.Addr, err, s.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Context is a context for one test's calls, bounded so that a hung server fails the test
// instead of the whole run.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// SharedData returns the folder sub (e.g. "siftsmall") of the real data sets: under
// $SEXTANT_DATA_DIR when set, else ../shared/data beside the repository, else /work/shared/data.
// It skips the test with a message when the folder is absent.
func SharedData(t testing.TB, sub string) string {
	t.Helper()
	var roots []string
	if env := os.Getenv("SEXTANT_DATA_DIR"); env != "" {
		roots = []string{env}
	} else {
		if root, err := repoRoot(); err == nil {
			roots = append(roots, filepath.Join(root, "..", "shared", "data"))
		}
		roots = append(roots, "/work/shared/data")
	}
	for _, r := range roots {
		p := filepath.Join(r, sub)
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p
		}
	}
	t.Skipf("real data %q not found under %s (set SEXTANT_DATA_DIR)", sub, strings.Join(roots, " or "))
	return ""
}

// repoRoot is the repository that holds this module: the nearest parent of the working
// directory (a package folder of client/go during go test) that has proto/sextant.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "proto", "sextant")); err == nil && st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}
