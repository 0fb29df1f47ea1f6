package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// startMarker is what aws-lambda-go's lambda.Start logs before it exits
// when the process has no runtime API to ask for work: the bootstrap got
// through its whole start-up (configuration, clients) to lambda.Start.
const startMarker = "expected AWS Lambda environment variables"

// measureInitCPU runs every program pairs times, each run paired with a run
// of hello (the order alternating from pair to pair), with its environment
// but no AWS_LAMBDA_RUNTIME_API: the process starts, runs its package inits
// and main up to lambda.Start, and exits there. The figure is the child's
// CPU time, user plus system, from its rusage: what a cold start costs the
// function before its first request, independent of the machine's load.
func measureInitCPU(bin string, fns []function, envs map[string][]string, results map[string]*result, pairs int) {
	hello := filepath.Join(bin, "hello", "bootstrap")
	for i := 0; i < pairs; i++ {
		for _, f := range fns {
			r := results[f.name]
			if r.err != nil || f.name == "hello" {
				continue
			}
			self := filepath.Join(bin, f.name, "bootstrap")
			var h, c time.Duration
			var err error
			if i%2 == 0 {
				if h, err = initCPU(hello, envs["hello"]); err == nil {
					c, err = initCPU(self, envs[f.name])
				}
			} else {
				if c, err = initCPU(self, envs[f.name]); err == nil {
					h, err = initCPU(hello, envs["hello"])
				}
			}
			if err != nil {
				r.err = fmt.Errorf("init CPU, pair %d: %w", i+1, err)
				continue
			}
			r.cpu = append(r.cpu, c)
			r.helloCPU = append(r.helloCPU, h)
		}
	}
	// hello against itself: the noise floor of a pair ratio.
	h := results["hello"]
	for i := 0; i < pairs && h.err == nil; i++ {
		a, err := initCPU(hello, envs["hello"])
		if err == nil {
			var b time.Duration
			if b, err = initCPU(hello, envs["hello"]); err == nil {
				h.cpu = append(h.cpu, a)
				h.helloCPU = append(h.helloCPU, b)
				continue
			}
		}
		h.err = fmt.Errorf("init CPU: %w", err)
	}
}

// initCPU runs bootstrap once without a runtime API and returns its CPU
// time. It must end at lambda.Start (startMarker in its output): a program
// that fails earlier (bad configuration) is an error, not a fast start.
func initCPU(bootstrap string, env []string) (time.Duration, error) {
	cmd := exec.Command(bootstrap)
	cmd.Dir = filepath.Dir(bootstrap)
	cmd.Env = withoutRuntimeAPI(env)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run() // lambda.Start exits 1 without a runtime API
	if cmd.ProcessState == nil {
		return 0, fmt.Errorf("%s did not start: %s", bootstrap, out.String())
	}
	if !strings.Contains(out.String(), startMarker) {
		return 0, fmt.Errorf("%s did not reach lambda.Start (%v): %.500s", bootstrap, cmd.ProcessState, out.String())
	}
	return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

func withoutRuntimeAPI(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if strings.HasPrefix(kv, "AWS_LAMBDA_RUNTIME_API=") || strings.HasPrefix(kv, "_LAMBDA_SERVER_PORT=") {
			continue
		}
		out = append(out, kv)
	}
	return out
}
