// Command coldstart measures the functions' binary sizes and cold starts
// against a hello-world aws-lambda-go function built the same way.
//
//	go run ./bench/coldstart [-runs 15] [-goarch amd64]
//
// It builds hello and the five functions with the Lambda flags (-tags
// lambda.norpc -trimpath -ldflags='-s -w', CGO_ENABLED=0), starts moto_server
// (internal/testenv/moto_serial.py) with the table and a mockrc provider,
// then for each run launches a fresh aws-lambda-rie process per function and
// times launch → first successful response (authorize.json → 302,
// callback.json → 400 for its unknown state, refresh.json → the summary,
// stream.json → no batch item failures (its events on moto's EventBridge),
// token.json → not_found).
// It prints each binary's size, the median start time and the emulator's
// median init duration, and their ratios to hello. See README.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/oauthfn/oauthfn/internal/lambdatest"
	"github.com/oauthfn/oauthfn/internal/mockrc"
	"github.com/oauthfn/oauthfn/internal/testenv"
	"github.com/oauthfn/oauthfn/pkg/oauth"
)

// Targets from the project card: a function may be at most this much bigger
// or slower to start than hello.
const (
	sizeTarget  = 1.4
	startTarget = 1.3
)

type function struct {
	name, pkg, logicalID, event string
	ok                          func([]byte) error // is this answer the first successful response?
}

var functions = []function{
	{"hello", "./bench/coldstart/hello", "", "", func([]byte) error { return nil }},
	{"hellosdk", "./bench/coldstart/hellosdk", "", "", func([]byte) error { return nil }},
	{"authorize", "./functions/authorize", "AuthorizeFunction", "authorize.json", status(http.StatusFound)},
	{"callback", "./functions/callback", "CallbackFunction", "callback.json", status(http.StatusBadRequest)},
	{"refresh", "./functions/refresh", "RefreshFunction", "refresh.json", summary},
	{"events", "./functions/events", "EventsFunction", "stream.json", noBatchFailures},
	{"token", "./functions/token", "TokenFunction", "token.json", tokenAnswer},
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
	size          int64
	starts, inits []time.Duration
	err           error
}

func main() {
	runs := flag.Int("runs", 15, "cold starts per function (a fresh emulator each)")
	goarch := flag.String("goarch", runtime.GOARCH, "GOARCH of the binaries; must run on this machine")
	flag.Parse()
	if err := run(*runs, *goarch); err != nil {
		fmt.Fprintln(os.Stderr, "coldstart:", err)
		os.Exit(1)
	}
}

func run(runs int, goarch string) error {
	ctx := context.Background()
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	rie, err := lambdatest.FindRIE(root)
	if err != nil {
		return err
	}
	bin, err := os.MkdirTemp("", "coldstart-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)

	results := map[string]*result{}
	for _, f := range functions {
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

	// Round robin: every function sees the same machine conditions.
	for i := 0; i < runs; i++ {
		for _, f := range functions {
			r := results[f.name]
			if r.err != nil {
				continue
			}
			env, err := environment(root, f, motoURL, rc.URL, table)
			if err != nil {
				return err
			}
			start, initDur, err := coldStart(ctx, rie, filepath.Join(bin, f.name, "bootstrap"), env, root, f)
			if err != nil {
				r.err = fmt.Errorf("run %d: %w", i+1, err)
				continue
			}
			r.starts = append(r.starts, start)
			r.inits = append(r.inits, initDur)
		}
	}

	report(os.Stdout, results, runs, goarch)
	var failed []string
	for _, f := range functions {
		if results[f.name].err != nil {
			failed = append(failed, f.name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("no figures for %s", strings.Join(failed, ", "))
	}
	return nil
}

// coldStart launches a fresh emulator and times launch → first successful
// response. The emulator starts the bootstrap at the first invoke.
func coldStart(ctx context.Context, rie, bootstrap string, env []string, root string, f function) (time.Duration, time.Duration, error) {
	payload := []byte("{}")
	if f.event != "" {
		b, err := os.ReadFile(filepath.Join(root, "events", f.event))
		if err != nil {
			return 0, 0, err
		}
		payload = b
	}
	e, err := lambdatest.Start(rie, bootstrap, env)
	if err != nil {
		return 0, 0, err
	}
	defer e.Stop()
	out, err := e.Invoke(ctx, payload)
	elapsed := time.Since(e.Started)
	if err == nil {
		err = f.ok(out)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("%s: %w\n%s", f.name, err, e.Stdout())
	}
	return elapsed, e.InitDuration(), nil
}

// environment is what lambdatest gives the functions: events/env.json
// (Parameters and the function's section) pointed at moto and mockrc, with
// the template's LoggingConfig and MemorySize. hello gets the same.
func environment(root string, f function, motoURL, rcURL, table string) ([]string, error) {
	env, err := lambdatest.EnvFile(filepath.Join(root, "events", "env.json"), f.logicalID)
	if err != nil {
		return nil, err
	}
	name := f.logicalID
	if name == "" {
		name = f.name
	}
	for k, v := range map[string]string{
		"OAUTH_SERVER_URL":                rcURL,
		"OAUTH_CLIENT_ID":                 mockrc.DefaultClientID,
		"OAUTH_CLIENT_SECRET":             mockrc.DefaultClientSecret,
		"TABLE_NAME":                      table,
		"AWS_ENDPOINT_URL":                motoURL,
		"AWS_ACCESS_KEY_ID":               "testing",
		"AWS_SECRET_ACCESS_KEY":           "testing",
		"AWS_REGION":                      "us-east-1",
		"AWS_EC2_METADATA_DISABLED":       "true",
		"AWS_LAMBDA_LOG_FORMAT":           "JSON",
		"AWS_LAMBDA_LOG_LEVEL":            "INFO",
		"LOG_LEVEL":                       "info",
		"AWS_LAMBDA_FUNCTION_NAME":        name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
		"AWS_LAMBDA_FUNCTION_TIMEOUT":     "30",
		"PATH":                            os.Getenv("PATH"),
		"HOME":                            os.TempDir(),
	} {
		env[k] = v
	}
	return lambdatest.Environ(env), nil
}

func report(w io.Writer, results map[string]*result, runs int, goarch string) {
	fmt.Fprintf(w, "linux/%s, -tags lambda.norpc -trimpath -ldflags='-s -w'; median of %d cold starts, fresh aws-lambda-rie each\n\n", goarch, runs)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "function\tsize (bytes)\tsize ×hello\tstart (ms)\tstart ×hello\tinit (ms)\tinit ×hello\tsize ×hellosdk\tstart ×hellosdk\t")
	hello, sdk := results["hello"], results["hellosdk"]
	for _, f := range functions {
		r := results[f.name]
		if r.err != nil {
			fmt.Fprintf(tw, "%s\t%s\t\t\t\t\t\t\n", f.name, "failed")
			continue
		}
		start, initDur := median(r.starts), median(r.inits)
		row := []string{f.name, strconv.FormatInt(r.size, 10), "", ms(start), "", ms(initDur), "", "", ""}
		if hello.err == nil && f.name != "hello" {
			row[2] = ratio(float64(r.size)/float64(hello.size), sizeTarget)
			row[4] = ratio(float64(start)/float64(median(hello.starts)), startTarget)
			row[6] = fmt.Sprintf("%.2f", float64(initDur)/float64(median(hello.inits)))
		}
		if sdk != nil && sdk.err == nil && strings.HasPrefix(f.pkg, "./functions/") {
			row[7] = fmt.Sprintf("%.2f", float64(r.size)/float64(sdk.size))
			row[8] = fmt.Sprintf("%.2f", float64(start)/float64(median(sdk.starts)))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	tw.Flush()
	fmt.Fprintf(w, "\ntargets: size ≤ %.1f× hello, start ≤ %.1f× hello. start = emulator launch → first successful response;\n", sizeTarget, startTarget)
	fmt.Fprintln(w, "init = the emulator's INIT REPORT (bootstrap exec → its first request for work).")
	fmt.Fprintln(w, "hellosdk = hello + the contract's AWS SDK clients and one GetItem per invoke: the floor of this design.")
	for _, f := range functions {
		if err := results[f.name].err; err != nil {
			fmt.Fprintf(w, "\n%s: %v\n", f.name, err)
		}
	}
}

func ratio(x, target float64) string {
	verdict := "ok"
	if x > target {
		verdict = "over"
	}
	return fmt.Sprintf("%.2f %s", x, verdict)
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond)) }

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
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
		"AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
	} {
		os.Setenv(k, v)
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	return oauth.CreateTable(ctx, dynamodb.NewFromConfig(cfg), table)
}
