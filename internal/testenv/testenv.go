// Package testenv starts the real stand-ins the tests run against
// (moto_server, oidc-provider) as child processes on free loopback ports.
//
// A stand-in that cannot start fails the test: a missing tool is a failure,
// never a skip. The README's test command installs everything they need.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	p, err := PickPort()
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// PickPort is FreePort for code without a testing.TB.
func PickPort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// RepoRoot is the module's root directory.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Process is a started stand-in.
type Process struct {
	URL string
	cmd *exec.Cmd
}

// Start runs name with args, waits until GET url+probe answers, and stops the
// process when the test ends. Output goes to a log file under the test's
// temp dir, printed if the stand-in never comes up.
func Start(t testing.TB, url, probe, name string, args ...string) *Process {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), filepath.Base(name)+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatalf("testenv: start %s: %v (the README's test command installs it)", name, err)
	}
	p := &Process{URL: url, cmd: cmd}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		logf.Close()
	})
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(url + probe)
		if err == nil {
			resp.Body.Close()
			return p
		}
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(logPath)
			t.Fatalf("testenv: %s did not answer at %s: %v\n%s", name, url, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Moto starts one moto_server for the whole test binary (shared by every
// test of the package; each test uses its own table or secret names) and
// points the AWS SDK at it through AWS_ENDPOINT_URL and dummy credentials.
// It is the serialised server of MotoSerial: conditional writes are atomic
// against concurrent requests, as in DynamoDB, and the server exits with the
// test binary.
func Moto(t testing.TB) string {
	t.Helper()
	return MotoSerial(t)
}

// AWSEnv points the AWS SDK's default config at endpoint for this test.
func AWSEnv(t testing.TB, endpoint string) {
	t.Helper()
	if tt, ok := t.(*testing.T); ok {
		tt.Setenv("AWS_ENDPOINT_URL", endpoint)
		tt.Setenv("AWS_ACCESS_KEY_ID", "testing")
		tt.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
		tt.Setenv("AWS_REGION", "us-east-1")
		tt.Setenv("AWS_EC2_METADATA_DISABLED", "true")
		return
	}
	os.Setenv("AWS_ENDPOINT_URL", endpoint)
	os.Setenv("AWS_ACCESS_KEY_ID", "testing")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "testing")
	os.Setenv("AWS_REGION", "us-east-1")
	os.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Context is a context that ends with the test.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return ctx
}

// Name is a unique name for a table or secret of this test.
// Names are unique within the process (a counter) and across processes
// sharing a stand-in (the pid and the start time).
func Name(t testing.TB, prefix string) string {
	return fmt.Sprintf("%s-%d-%d-%d", prefix, os.Getpid(), nameEpoch, nameSeq.Add(1))
}

var (
	nameSeq   atomic.Int64
	nameEpoch = time.Now().UnixNano()
)

// Buffer collects output written from several goroutines (a child process's
// stdout and stderr, a logger shared by handlers).
type Buffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// ChildLog is a child process's output kept in a file the child writes to
// directly (no pipe, no copying goroutine in the test). A child that logs a
// request before it answers it (oidc-provider's stand-in, the dev server's
// access log) has therefore always logged it by the time the test holds the
// answer: counts read from the log are exact, not eventually right.
type ChildLog struct{ f *os.File }

// NewChildLog makes an empty log in the test's temporary directory.
func NewChildLog(t testing.TB) *ChildLog {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "child-*.log")
	if err != nil {
		t.Fatalf("testenv: child log: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	return &ChildLog{f: f}
}

// File is what to hand to exec.Cmd's Stdout or Stderr.
func (l *ChildLog) File() *os.File { return l.f }

// String is everything written so far.
func (l *ChildLog) String() string {
	b, err := os.ReadFile(l.f.Name())
	if err != nil {
		return fmt.Sprintf("(child log unreadable: %v)", err)
	}
	return string(b)
}
