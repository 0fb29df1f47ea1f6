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
// of hello, and each function's run also with a run of hellolit (a triple;
// the order rotates from round to round), with its environment but no
// AWS_LAMBDA_RUNTIME_API: the process starts, runs its package inits and
// main up to lambda.Start, and exits there. The figure is the child's CPU
// time, user plus system, from its rusage: what a cold start costs the
// function before its first request. Pairing runs back to back makes the
// ratios robust to the machine's load changing during the benchmark.
func measureInitCPU(bin string, fns []function, envs map[string][]string, results map[string]*result, pairs int) {
	path := func(name string) string { return filepath.Join(bin, name, "bootstrap") }
	for i := 0; i < pairs; i++ {
		for _, f := range fns {
			r := results[f.name]
			if r.err != nil || f.name == "hello" {
				continue
			}
			group := []string{"hello", f.name}
			if !f.baseline() && results["hellolit"].err == nil {
				group = append(group, "hellolit")
			}
			cpu := map[string]time.Duration{}
			for j := range group {
				name := group[(i+j)%len(group)] // rotate the order
				d, err := initCPU(path(name), envs[name])
				if err != nil {
					r.err = fmt.Errorf("init CPU, round %d: %w", i+1, err)
					break
				}
				cpu[name] = d
			}
			if r.err != nil {
				continue
			}
			r.cpu = append(r.cpu, cpu[f.name])
			r.helloCPU = append(r.helloCPU, cpu["hello"])
			if d, ok := cpu["hellolit"]; ok {
				r.litCPU = append(r.litCPU, d)
			}
		}
	}
	// hello against itself: the noise floor of a pair ratio.
	h := results["hello"]
	for i := 0; i < pairs && h.err == nil; i++ {
		a, err := initCPU(path("hello"), envs["hello"])
		if err == nil {
			var b time.Duration
			if b, err = initCPU(path("hello"), envs["hello"]); err == nil {
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
