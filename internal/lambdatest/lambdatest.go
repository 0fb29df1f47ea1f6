// Package lambdatest runs the real function binaries (the bootstrap files
// `make build` produces) under the AWS Lambda Runtime Interface Emulator, the
// emulator `sam local invoke` runs inside its containers, and invokes them
// with the events/ files. Its tests check that the functions behave under
// the Lambda runtime API as the handler tests say they do; bench/coldstart
// uses the same helpers to time cold starts.
//
// The emulator is .bin/aws-lambda-rie, installed by scripts/install-rie.sh
// (`make test` runs it). One emulator process takes one invoke at a time and
// starts its bootstrap at the first invoke (the cold start); each Emulator
// gets its own pair of loopback ports, so several can run at once.
package lambdatest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"time"
)

// InvokePath is the emulator's invoke endpoint.
const InvokePath = "/2015-03-31/functions/function/invocations"

// RIEPath is where scripts/install-rie.sh puts the emulator under root.
func RIEPath(root string) string { return filepath.Join(root, ".bin", "aws-lambda-rie") }

// FindRIE returns the emulator's path, or an error naming the command that
// installs it.
func FindRIE(root string) (string, error) {
	p := RIEPath(root)
	fi, err := os.Stat(p)
	if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		return "", fmt.Errorf("lambdatest: %s is missing: `make test` (scripts/install-rie.sh) installs the Lambda emulator", p)
	}
	return p, nil
}

// GoBuildFlags are the Makefile's flags for a Lambda binary (after `go build`).
var GoBuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Build compiles the package pkg (e.g. "./bench/coldstart/hello") under
// root for linux/goarch with the Makefile's flags into out.
func Build(ctx context.Context, root, pkg, goarch, out string) error {
	args := append([]string{"build"}, GoBuildFlags...)
	args = append(args, "-o", out, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+goarch, "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("lambdatest: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// EnvFile reads a `sam local --env-vars` file (events/env.json) and returns
// the variables of function (its logical id, e.g. "RefreshFunction"): the
// Parameters section overlaid with the function's own section.
func EnvFile(path, function string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	var sections map[string]map[string]string
	if err := json.Unmarshal(b, &sections); err != nil {
		return nil, fmt.Errorf("lambdatest: %s: %w", path, err)
	}
	env := map[string]string{}
	for k, v := range sections["Parameters"] {
		env[k] = v
	}
	for k, v := range sections[function] {
		env[k] = v
	}
	return env, nil
}

// Environ renders env as KEY=value lines, sorted.
func Environ(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// Emulator is one running aws-lambda-rie process serving one bootstrap.
type Emulator struct {
	URL     string // the invoke base URL, http://127.0.0.1:<port>
	Started time.Time

	cmd    *exec.Cmd
	stdout *os.File // the function's output, with the emulator's START/END/REPORT lines
	stderr *os.File // the emulator's own log
	exited chan struct{}
	client *http.Client
}

// Start launches rie serving bootstrap with exactly env (plus the emulator's
// addresses) on two free loopback ports. It does not wait: the first Invoke
// retries until the emulator listens. The bootstrap starts at the first invoke.
//
// The emulator's output goes to two files next to bootstrap, which the
// emulator writes directly; the function inherits the emulator's standard
// output, so it writes there directly too. No pipe and no copying goroutine
// stand between a line and the test: a line the function wrote before it
// answered is in Stdout once Invoke returns.
func Start(rie, bootstrap string, env []string) (*Emulator, error) {
	apiPort, err := testenv.PickPort()
	if err != nil {
		return nil, err
	}
	riePort, err := testenv.PickPort()
	if err != nil {
		return nil, err
	}
	e := &Emulator{
		URL:    "http://127.0.0.1:" + strconv.Itoa(riePort),
		exited: make(chan struct{}),
		client: &http.Client{},
	}
	dir := filepath.Dir(bootstrap)
	if e.stdout, err = os.CreateTemp(dir, "emulator-stdout-*.log"); err != nil {
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	if e.stderr, err = os.CreateTemp(dir, "emulator-stderr-*.log"); err != nil {
		e.stdout.Close()
		return nil, fmt.Errorf("lambdatest: %w", err)
	}
	e.cmd = exec.Command(rie,
		"--runtime-interface-emulator-address", "127.0.0.1:"+strconv.Itoa(riePort),
		"--runtime-api-address", "127.0.0.1:"+strconv.Itoa(apiPort),
		bootstrap)
	e.cmd.Dir = dir
	e.cmd.Env = env
	e.cmd.Stdout, e.cmd.Stderr = e.stdout, e.stderr
	e.Started = time.Now()
	if err := e.cmd.Start(); err != nil {
		e.stdout.Close()
		e.stderr.Close()
		return nil, fmt.Errorf("lambdatest: start %s: %w", rie, err)
	}
	go func() { _ = e.cmd.Wait(); close(e.exited) }()
	return e, nil
}

// Invoke posts payload to the function and returns its response payload. A
// function error (the runtime API's errorMessage/errorType answer), a
// non-200 answer from the emulator or an emulator that exits is an error.
// Until the emulator listens (at most 60 s: a loaded machine can be slow
// to start it), Invoke retries every 2 ms.
func (e *Emulator) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	deadline := time.Now().Add(60 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.URL+InvokePath, bytes.NewReader(payload))
		if err != nil {
			return nil, fmt.Errorf("lambdatest: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := e.client.Do(req)
		if err != nil {
			select {
			case <-e.exited:
				return nil, fmt.Errorf("lambdatest: emulator exited: %v\n%s", e.cmd.ProcessState, e.Stderr())
			default:
			}
			if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
				return nil, fmt.Errorf("lambdatest: invoke: %w", err)
			}
			time.Sleep(2 * time.Millisecond)
			continue
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 6<<20))
		resp.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("lambdatest: read invoke answer: %w", err)
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("lambdatest: invoke: emulator answered %s: %s", resp.Status, body)
		}
		var fe struct {
			ErrorMessage string `json:"errorMessage"`
			ErrorType    string `json:"errorType"`
		}
		if json.Unmarshal(body, &fe) == nil && (fe.ErrorType != "" || fe.ErrorMessage != "") {
			return nil, fmt.Errorf("lambdatest: function error %s: %s", fe.ErrorType, fe.ErrorMessage)
		}
		return body, nil
	}
}

// Stop ends the emulator and its bootstrap. The emulator runs the bootstrap
// in a process group of its own and kills it when it gets SIGTERM, so Stop
// asks politely first and kills only an emulator that does not exit. Its
// output stays readable (Stdout, Stderr) until the bootstrap's directory
// is removed.
func (e *Emulator) Stop() {
	_ = e.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.exited:
	case <-time.After(30 * time.Second):
		_ = e.cmd.Process.Kill()
		<-e.exited
	}
	e.stdout.Close()
	e.stderr.Close()
}

// Stdout is what the emulator and the function wrote to standard output so
// far: the function's log lines and the emulator's START, END and REPORT
// lines.
func (e *Emulator) Stdout() string { return readLog(e.stdout.Name()) }

// Stderr is the emulator's own log so far.
func (e *Emulator) Stderr() string { return readLog(e.stderr.Name()) }

func readLog(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(emulator log unreadable: %v)", err)
	}
	return string(b)
}

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// InitDuration is the init phase the emulator measured for the bootstrap
// (from its start to its first request for work), or 0 if not seen yet.
func (e *Emulator) InitDuration() time.Duration {
	m := initReport.FindStringSubmatch(e.Stderr())
	if m == nil {
		return 0
	}
	ms, _ := strconv.ParseFloat(m[1], 64)
	return time.Duration(ms * float64(time.Millisecond))
}

// LogLines splits an emulator's stdout into the function's lines, leaving
// out the emulator's own START, END and REPORT lines.
func LogLines(stdout string) []string {
	var out []string
	for _, l := range bytes.Split([]byte(stdout), []byte("\n")) {
		s := string(bytes.TrimRight(l, "\r"))
		if s == "" || rieLine.MatchString(s) {
			continue
		}
		out = append(out, s)
	}
	return out
}

var rieLine = regexp.MustCompile(`^(START|END|REPORT) RequestId: `)
