package deploytest

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oauthfn/oauthfn/internal/testenv"
)

// The test command itself must not flake: these hold scripts/test.sh to the
// rules that keep it deterministic on a loaded machine.

func readTestScript(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "scripts", "test.sh"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestFuzzBudgetsAreCounts: every fuzz target runs for a count of inputs
// (-fuzztime Nx), never a duration, which races Go's fuzzing coordinator at
// its deadline (golang/go#75804: "context deadline exceeded" with nothing
// found); and every target names a Fuzz function that exists.
func TestFuzzBudgetsAreCounts(t *testing.T) {
	script := readTestScript(t)
	m := regexp.MustCompile(`(?m)^FUZZ_TARGETS=\((.*)\)$`).FindStringSubmatch(script)
	if m == nil {
		t.Fatal("scripts/test.sh: no FUZZ_TARGETS=(...) line")
	}
	targets := regexp.MustCompile(`"([^"]*)"`).FindAllStringSubmatch(m[1], -1)
	if len(targets) == 0 {
		t.Fatal("scripts/test.sh: FUZZ_TARGETS is empty")
	}
	entry := regexp.MustCompile(`^(Fuzz\w+):(\./[\w/.-]+):([1-9][0-9]*)$`)
	for _, tg := range targets {
		e := entry.FindStringSubmatch(tg[1])
		if e == nil {
			t.Errorf("fuzz target %q: want FuzzName:./package:executions (a count, not a duration)", tg[1])
			continue
		}
		if !packageDefines(t, e[2], "func "+e[1]+"(") {
			t.Errorf("fuzz target %q: no func %s in %s", tg[1], e[1], e[2])
		}
	}
	if strings.Contains(script, `-fuzztime "$FUZZ_TIME"`) || regexp.MustCompile(`-fuzztime\s+"?[0-9]+[smh]`).MatchString(script) {
		t.Error("scripts/test.sh: a duration -fuzztime is back; use a count (Nx)")
	}
	if !strings.Contains(script, `-fuzztime "${count}x"`) {
		t.Error(`scripts/test.sh: the fuzz step does not pass -fuzztime "${count}x"`)
	}
}

func packageDefines(t *testing.T, pkg, decl string) bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testenv.RepoRoot(), pkg, "*_test.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), decl) {
			return true
		}
	}
	return false
}

// TestAptWaitsForTheLock: every apt-get in the test command goes through
// apt_get, which waits for another apt run's dpkg lock instead of failing.
func TestAptWaitsForTheLock(t *testing.T) {
	script := readTestScript(t)
	if !strings.Contains(script, "-o DPkg::Lock::Timeout=") {
		t.Error("scripts/test.sh: apt_get does not pass -o DPkg::Lock::Timeout")
	}
	quoted := regexp.MustCompile(`"[^"]*"`)
	direct := regexp.MustCompile(`\bapt-get\s+(update|install)`)
	for i, line := range strings.Split(script, "\n") {
		code := strings.TrimSpace(line)
		if strings.HasPrefix(code, "#") || !direct.MatchString(quoted.ReplaceAllString(code, `""`)) {
			continue
		}
		t.Errorf("scripts/test.sh:%d: apt-get called directly; use apt_get (waits for the dpkg lock): %s", i+1, code)
	}
}

// TestStaticcheckIsPinned: the test command and `make lint` run the same
// pinned staticcheck.
func TestStaticcheckIsPinned(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "scripts", "staticcheck.sh"))
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`STATICCHECK_VERSION="v\d+\.\d+\.\d+"`).Match(b) {
		t.Error("scripts/staticcheck.sh: STATICCHECK_VERSION is not pinned to a release")
	}
	if !strings.Contains(readTestScript(t), "scripts/staticcheck.sh") {
		t.Error("scripts/test.sh does not run scripts/staticcheck.sh")
	}
	mk, err := os.ReadFile(filepath.Join(testenv.RepoRoot(), "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(mk), "scripts/staticcheck.sh") {
		t.Error("Makefile: lint does not run scripts/staticcheck.sh")
	}
}
