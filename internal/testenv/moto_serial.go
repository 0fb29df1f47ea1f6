package testenv

import (
	"fmt"
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
	motoSerialErr  error
)

// MotoSerial is Moto with every request serialised: one moto server per test
// binary, started through internal/testenv/moto_serial.py, which runs moto's
// WSGI app behind one lock. moto_server's own threaded server does not make a
// conditional write atomic against a concurrent request; tests that race
// conditional writes (exactly one winner) need this one. It points the AWS
// SDK at the server like Moto and returns its URL.
func MotoSerial(t testing.TB) string {
	t.Helper()
	// The server lives as long as the test binary: its stdin pipe stays open
	// (the exec.Cmd waiting on it holds the write end) until this process exits.
	motoSerialOnce.Do(func() { motoSerialURL, _, motoSerialErr = StartMotoServer() })
	if motoSerialErr != nil {
		t.Fatalf("testenv: %v", motoSerialErr)
	}
	AWSEnv(t, motoSerialURL)
	return motoSerialURL
}

// StartMotoServer starts the serialised moto server (moto_serial.py) on a
// free loopback port and waits until it answers. It exits when stop is
// called or when this process exits (its stdin closes). For tests use
// MotoSerial; this is for programs such as bench/coldstart.
func StartMotoServer() (url string, stop func(), err error) {
	script := filepath.Join(RepoRoot(), "internal", "testenv", "moto_serial.py")
	logf, err := os.CreateTemp("", "moto-serial-*.log")
	if err != nil {
		return "", nil, err
	}
	p, err := PickPort()
	if err != nil {
		return "", nil, err
	}
	port := strconv.Itoa(p)
	cmd := exec.Command("python3", script, "-H", "127.0.0.1", "-p", port)
	cmd.Stdout, cmd.Stderr = logf, logf
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return "", nil, err
	}
	if err := cmd.Start(); err != nil {
		return "", nil, fmt.Errorf("moto_serial.py: start python3: %w (the README's test command needs python3 and moto[server])", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	stop = func() { stdin.Close(); _ = cmd.Process.Kill(); <-exited }

	url = "http://127.0.0.1:" + port
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := client.Get(url + "/moto-api/data.json")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop, nil
			}
		}
		select {
		case <-exited:
			out, _ := os.ReadFile(logf.Name())
			return "", nil, fmt.Errorf("moto_serial.py exited before answering:\n%s", out)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			out, _ := os.ReadFile(logf.Name())
			return "", nil, fmt.Errorf("moto_serial.py did not answer at %s:\n%s", url, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
