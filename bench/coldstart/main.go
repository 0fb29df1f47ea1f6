// Command coldstart measures the functions' binary sizes, start-up CPU and
// cold starts against a hello-world aws-lambda-go function built the same
// way, and against two baselines with the AWS SDK clients.
//
//	go run ./bench/coldstart [-runs 15] [-pairs 31] [-goarch amd64]
//
// It builds hello, hellosdk, hellolit and the functions with the Lambda
// flags (-tags lambda.norpc -trimpath -ldflags='-s -w', CGO_ENABLED=0), then
//
//   - process init CPU: runs each bootstrap with no runtime API, so it exits
//     at lambda.Start, back to back with hello (and a function with hellolit;
//     -pairs rounds, the order rotating), and
//     takes the CPU time (user + system) from the child's rusage;
//   - start: starts moto_server (internal/testenv/moto_serial.py) with the
//     table and a mockrc provider, and for each run launches a fresh
//     aws-lambda-rie per function and times launch → first successful
//     response (authorize.json → 302, callback.json → 400 for its unknown
//     state, refresh.json → the summary, stream.json → no batch item
//     failures (its events on moto's EventBridge), token.json → not_found,
//     bff-session.json → 200 {"authenticated":false} for its unknown session).
//
// Every figure is printed with its ratio to hello (and the functions' to
// hellolit), measured in the same run. See bench/coldstart/README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/awsenv"
	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Targets, each a ratio measured in one run. Size and process init CPU
// against hello, and every function within 10 % of hellolit on both (issue
// 11); start under the emulator against hello (the project card).
const (
	sizeTarget     = 1.45
	initCPUTarget  = 1.7
	hellolitTarget = 1.10
	startTarget    = 1.3
)

type function struct {
	name, pkg, logicalID, event string
	ok                          func([]byte) error     // is this answer the first successful response?
	payload                     func() ([]byte, error) // if set, makes each run's event instead of event
}

// baseline reports whether f is one of the hello programs rather than a
// function of the project.
func (f function) baseline() bool { return !strings.HasPrefix(f.pkg, "./functions/") }

var baselines = []function{
	{"hello", "./bench/coldstart/hello", "", "", func([]byte) error { return nil }, nil},
	{"hellosdk", "./bench/coldstart/hellosdk", "", "", func([]byte) error { return nil }, nil},
	{"hellolit", "./bench/coldstart/hellolit", "", "", func([]byte) error { return nil }, nil},
}

// known are the functions with an event and an expected answer. Any other
// directory under functions/ is still measured for size and init CPU.
var known = map[string]function{
	"authorize": {"authorize", "./functions/authorize", "AuthorizeFunction", "authorize.json", status(http.StatusFound), nil},
	"callback":  {"callback", "./functions/callback", "CallbackFunction", "callback.json", status(http.StatusBadRequest), nil},
	"refresh":   {"refresh", "./functions/refresh", "RefreshFunction", "refresh.json", summary, nil},
	"events":    {"events", "./functions/events", "EventsFunction", "stream.json", noBatchFailures, nil},
	"token":     {"token", "./functions/token", "TokenFunction", "token.json", tokenAnswer, nil},
	// bff-session.json's cookie names no session: {"authenticated":false}
	// after a session read (config, store read).
	"bff": {"bff", "./functions/bff", "BffFunction", "bff-session.json", status(http.StatusOK), nil},
}

// noBatchFailures: stream.json's two events reached EventBridge (moto's).
func noBatchFailures(b []byte) error {
	var r events.DynamoDBEventResponse
	if err := json.Unmarshal(b, &r); err != nil || r.BatchItemFailures == nil || len(r.BatchItemFailures) != 0 {
		return fmt.Errorf("want {\"batchItemFailures\":[]}, got %.200s", b)
	}
	return nil
}

// tokenAnswer: token.json's account has no connection in the bench's
// table, so the answer is not_found (a full answer: config, store read).
func tokenAnswer(b []byte) error {
	var r struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(b, &r); err != nil || r.Error != oauth.TokenNotFound {
		return fmt.Errorf("want a not_found answer, got %.200s", b)
	}
	return nil
}

// discover lists the baselines and every functions/*/main.go.
func discover(root string) ([]function, error) {
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	fns := append([]function(nil), baselines...)
	for _, m := range mains {
		name := filepath.Base(filepath.Dir(m))
		f, ok := known[name]
		if !ok {
			f = function{name: name, pkg: "./functions/" + name}
		}
		fns = append(fns, f)
	}
	return fns, nil
}

func status(want int) func([]byte) error {
	return func(b []byte) error {
		var r events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(b, &r); err != nil {
			return err
		}
		if r.StatusCode != want {
			return fmt.Errorf("status %d, want %d: %.200s", r.StatusCode, want, r.Body)
		}
		return nil
	}
}

func summary(b []byte) error {
	var s map[string]json.Number
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not a JSON summary: %s", b)
	}
	if _, ok := s["duration_ms"]; !ok {
		return fmt.Errorf("summary without duration_ms: %s", b)
	}
	return nil
}

type result struct {
	size int64
	// cpu[i], helloCPU[i] (and for a function litCPU[i]) are one round:
	// this program's, hello's (and hellolit's) process init CPU, measured
	// back to back.
	cpu, helloCPU, litCPU []time.Duration
	starts, inits         []time.Duration
	smCalls, smSerial     []int // Secrets Manager calls of each cold start, and how many came one after another
	err                   error // no figures at all (build failed)
	startErr              error // no start figures (no event, or a failed invoke)
}

func main() {
	runs := flag.Int("runs", 15, "cold starts per function under the emulator (a fresh emulator each)")
	pairs := flag.Int("pairs", 31, "process init CPU runs per program, each paired with a run of hello (and a function's with one of hellolit)")
	goarch := flag.String("goarch", runtime.GOARCH, "GOARCH of the binaries; must run on this machine")
	smRTT := flag.Duration("sm-rtt", 20*time.Millisecond, "modelled round trip of one Secrets Manager call (added by the recording proxy in front of moto)")
	smCompare := flag.String("sm-compare", "", "also run authorize+sm and callback+sm built from the module in this directory (e.g. an earlier version: git archive REV | tar -x -C DIR)")
	flag.Parse()
	if *pairs < 1 || *runs < 1 || *smRTT < 0 {
		fmt.Fprintln(os.Stderr, "coldstart: -runs and -pairs must be at least 1, -sm-rtt not negative")
		os.Exit(2)
	}
	if err := run(*runs, *pairs, *goarch, *smRTT, *smCompare); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func run(runs, pairs int, goarch string, smRTT time.Duration, smCompare string) error {
	ctx := context.Background()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	rie, err := lambdatest.FindRIE(root)
	if err != nil {
		return err
	}
	fns, err := discover(root)
	if err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	results := map[string]*result{}
	for _, f := range fns {
		r := &result{}
		results[f.name] = r
		out := filepath.Join(bin, f.name, "bootstrap")
		if r.err = lambdatest.Build(ctx, root, f.pkg, goarch, out); r.err != nil {
			continue
		}
		fi, err := os.Stat(out)
		if err != nil {
			return err
		}
		r.size = fi.Size()
	}
	if results["hello"].err != nil {
		return fmt.Errorf("hello: %w", results["hello"].err)
	}

	motoURL, stopMoto, err := testenv.StartMotoServer()
	if err != nil {
		return err
	}
	defer stopMoto()
	rc := httptest.NewServer(mockrc.New(mockrc.Options{}))
	defer rc.Close()
	table := fmt.Sprintf("oauthfn-coldstart-%d", time.Now().UnixNano())
	if err := createTable(ctx, motoURL, table); err != nil {
		return err
	}
	envs := map[string][]string{}
	for _, f := range fns {
		if envs[f.name], err = environment(root, f, motoURL, rc.URL, table); err != nil {
			return err
		}
	}

	// The Secrets Manager variants of authorize and callback.
	smSrv, proxy, err := newSMProxy(motoURL, smRTT)
	if err != nil {
		return err
	}
	defer smSrv.Close()
	const appKey = "coldstart-app-key-0123456789abcdefghijklmn"
	smVars, err := smSecrets(ctx, motoURL, smSrv.URL, appKey)
	if err != nil {
		return err
	}
	variants := smVariants(root, appKey)
	if smCompare != "" {
		others, err := compareVariants(ctx, variants, smCompare, filepath.Base(smCompare), bin, goarch)
		if err != nil {
			return err
		}
		variants = append(variants, others...)
	}
	for _, v := range variants {
		results[v.name] = &result{err: results[v.base].err}
		envs[v.name] = overlay(envs[v.base], smVars)
	}

	measureInitCPU(bin, fns, envs, results, pairs)

	// Round robin: every function sees the same machine conditions.
	for i := 0; i < runs; i++ {
		for _, f := range fns {
			r := results[f.name]
			if r.err != nil || r.startErr != nil {
				continue
			}
			if f.ok == nil {
				r.startErr = errors.New("no event known to the benchmark: add it to known in main.go")
				continue
			}
			start, initDur, err := coldStart(ctx, rie, filepath.Join(bin, f.name, "bootstrap"), envs[f.name], root, f)
			if err != nil {
				r.startErr = fmt.Errorf("run %d: %w", i+1, err)
				continue
			}
			r.starts = append(r.starts, start)
			r.inits = append(r.inits, initDur)
		}
		for _, v := range variants {
			r := results[v.name]
			if r.err != nil || r.startErr != nil {
				continue
			}
			proxy.take()
			bootstrap := v.bootstrap
			if bootstrap == "" {
				bootstrap = filepath.Join(bin, v.base, "bootstrap")
			}
			start, initDur, err := coldStart(ctx, rie, bootstrap, envs[v.name], root, v.function)
			if err != nil {
				r.startErr = fmt.Errorf("run %d: %w", i+1, err)
				continue
			}
			calls, serial := proxy.take()
			r.starts = append(r.starts, start)
			r.inits = append(r.inits, initDur)
			r.smCalls = append(r.smCalls, calls)
			r.smSerial = append(r.smSerial, serial)
		}
	}

	report(os.Stdout, fns, results, runs, pairs, goarch)
	reportSecrets(os.Stdout, variants, results, smRTT)
	for _, v := range variants {
		if r := results[v.name]; r.err != nil || r.startErr != nil {
			fns = append(fns, v.function) // named among the failures below
		}
	}
	var failed []string
	for _, f := range fns {
		if r := results[f.name]; r.err != nil || r.startErr != nil || len(r.cpu) == 0 {
			failed = append(failed, f.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("no figures for %s", strings.Join(failed, ", "))
	}
	return nil
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run it inside the module (go run ./bench/coldstart)")
		}
		dir = parent
	}
}

func createTable(ctx context.Context, endpoint, table string) error {
	env := map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "us-east-1",
	}
	cfg, err := awsenv.Load(func(k string) string { return env[k] }, dynamodb.ServiceID)
	if err != nil {
		return err
	}
	return oauth.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table)
}
