package testenv

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
)

var motoListeningRE = regexp.MustCompile(`moto_serial listening on (127\.0\.0\.1:[0-9]+)`)

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
// free loopback port it takes itself (-p 0, named in its first line) and
// waits until it answers. It exits when stop is called or when this
// process exits (its stdin closes). For tests use MotoSerial; this is for
// programs such as bench/coldstart.
func StartMotoServer() (url string, stop func(), err error) {
	script := filepath.Join(RepoRoot(), "internal", "testenv", "moto_serial.py")
	logf, err := os.CreateTemp("", "moto-serial-*.log")
	if err != nil {
		return "", nil, err
	}
	cmd := exec.Command("python3", script, "-H", "127.0.0.1", "-p", "0")
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

	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(startTimeout)
	for {
		if url == "" {
			b, _ := os.ReadFile(logf.Name())
			if m := motoListeningRE.FindSubmatch(b); m != nil {
				url = "http://" + string(m[1])
			}
		}
		if url == "" {
			err = errors.New("not listening yet")
		} else if resp, gerr := client.Get(url + "/moto-api/data.json"); gerr != nil {
			err = gerr
		} else {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, stop, nil
			}
			err = fmt.Errorf("status %s", resp.Status)
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
			return "", nil, fmt.Errorf("moto_serial.py did not answer (at %q) within %v: %v\n%s", url, startTimeout, err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
