package testenv

import (
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

var (
	motoSerialOnce sync.Once
	motoSerialURL  string
	motoSerialErr  string
	// motoSerialStdin is the write end of the server's stdin. The server
	// exits when it reads end of file, that is when the test binary exits;
	// keeping the reference stops the garbage collector from closing it
	// early.
	motoSerialStdin io.WriteCloser
)

// MotoSerial is Moto with every request serialised: one moto server per test
// binary, started through internal/testenv/moto_serial.py, which runs moto's
// WSGI app behind one lock. moto_server's own threaded server does not make a
// conditional write atomic against a concurrent request; tests that race
// conditional writes (exactly one winner) need this one. It points the AWS
// SDK at the server like Moto and returns its URL.
func MotoSerial(t testing.TB) string {
	t.Helper()
	motoSerialOnce.Do(func() { motoSerialURL, motoSerialErr = startMotoSerial() })
	if motoSerialURL == "" {
		t.Fatalf("testenv: moto_serial.py: %s", motoSerialErr)
	}
	AWSEnv(t, motoSerialURL)
	return motoSerialURL
}

func startMotoSerial() (url, problem string) {
	script := filepath.Join(RepoRoot(), "internal", "testenv", "moto_serial.py")
	logf, err := os.CreateTemp("", "moto-serial-*.log")
	if err != nil {
		return "", err.Error()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", "free port: " + err.Error()
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	// Not tied to a test's cleanup: it lives as long as the test binary.
	cmd := exec.Command("python3", script, "-H", "127.0.0.1", "-p", port)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", err.Error()
	}
	if err := cmd.Start(); err != nil {
		return "", "start python3: " + err.Error() + " (the README's test command installs python3 and moto[server])"
	}
	motoSerialStdin = stdin
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()

	url = "http://127.0.0.1:" + port
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, ""
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logf.Name())
			return "", "exited before answering:\n" + string(out)
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			out, _ := os.ReadFile(logf.Name())
			return "", "did not answer at " + url + ":\n" + string(out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
