package deploytest

import (
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func lookPath(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s not found: %v (the README's test command installs it)", name, err)
	}
	return p
}

// TestCfnLint runs cfn-lint on template.yaml (errors, warnings,
// informational and experimental rules, with the SAM transform) and wants no
// findings at all.
func TestCfnLint(t *testing.T) {
	cfnLint := lookPath(t, "cfn-lint")
	t.Parallel()
	cmd := exec.Command(cfnLint, "--include-checks", "I", "--include-experimental", "--", "template.yaml")
	cmd.Dir = root()
	out, err := cmd.CombinedOutput()
	if err != nil || len(out) != 0 {
		t.Errorf("cfn-lint -c I -e template.yaml: %v\n%s", err, out)
	}
}

// TestCfnLintCatchesMistakes is the control for TestCfnLint: the same
// template with a dangling !Ref must be reported.
func TestCfnLintCatchesMistakes(t *testing.T) {
	cfnLint := lookPath(t, "cfn-lint")
	t.Parallel()
	good := string(readRepoFile(t, "template.yaml"))
	bad := strings.Replace(good, "!Ref AppKeySecret\n", "!Ref NoSuchKey\n", 1)
	if bad == good {
		t.Fatal("template.yaml has no `!Ref AppKeySecret` line to break")
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cfnLint, path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "NoSuchKey") {
		t.Errorf("cfn-lint on a template with a dangling !Ref: got %v, output %q; want a finding", err, out)
	}
}

// functionDirs maps the template's functions to their main packages.
var functionDirs = map[string]string{
	"AuthorizeFunction": "authorize",
	"CallbackFunction":  "callback",
	"RefreshFunction":   "refresh",
	"EventsFunction":    "events",
	"TokenFunction":     "token",
	"BffFunction":       "bff",
}

var lambdaFlags = []string{"GOOS=linux", "CGO_ENABLED=0", "-tags lambda.norpc", "-trimpath", "-ldflags='-s -w'"}

func makeCmd(t *testing.T, env []string, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(lookPath(t, "make"), append([]string{"--no-print-directory"}, args...)...)
	cmd.Dir = root()
	cmd.Env = append(os.Environ(), env...)
	return cmd
}

// goarchOf maps the template's Lambda architecture to GOARCH.
var goarchOf = map[string]string{"arm64": "arm64", "x86_64": "amd64"}

// TestMakefileTargets checks, without building, what sam build and make
// build would run: `make -n`.
func TestMakefileTargets(t *testing.T) {
	s := newStack(t, paramSets[0].overrides)
	// One architecture for every function, from Globals (the line the
	// Makefile reads); no function overrides it.
	arch := fmt.Sprint(mapAt(t, s.tpl, "Globals", "Function")["Architectures"])
	for _, fn := range s.functionIDs() {
		if a, ok := mapAt(t, s.resource(fn), "Properties")["Architectures"]; ok {
			t.Errorf("%s: Architectures %v set on the function; set it in Globals only (the Makefile reads it there)", fn, a)
		}
	}
	goarch := goarchOf[strings.Trim(arch, "[]")]
	if goarch == "" {
		t.Fatalf("Globals.Function.Architectures: got %s, want [arm64] or [x86_64]", arch)
	}
	for _, fn := range s.functionIDs() {
		dir, ok := functionDirs[fn]
		if !ok {
			t.Fatalf("%s: no functions/ directory known to the test", fn)
		}
		t.Run("sam/"+fn, func(t *testing.T) {
			artifacts := t.TempDir()
			// A GOARCH in the caller's environment must not change the
			// architecture the template deploys.
			out, err := makeCmd(t, []string{"GOARCH=riscv64", "ARTIFACTS_DIR=" + artifacts}, "-n", "build-"+fn).CombinedOutput()
			if err != nil {
				t.Fatalf("make -n build-%s: %v\n%s", fn, err, out)
			}
			want := append([]string{"GOARCH=" + goarch + " ", "-o " + artifacts + "/bootstrap", "./functions/" + dir}, lambdaFlags...)
			for _, w := range want {
				if !strings.Contains(string(out), w) {
					t.Errorf("make -n build-%s: %q lacks %q", fn, out, w)
				}
			}
		})
	}
	t.Run("sam target without ARTIFACTS_DIR", func(t *testing.T) {
		out, err := makeCmd(t, []string{"ARTIFACTS_DIR="}, "-n", "build-AuthorizeFunction").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "ARTIFACTS_DIR is not set") {
			t.Errorf("got %v, %q; want a failure naming ARTIFACTS_DIR", err, out)
		}
	})
	t.Run("make build GOARCH=amd64", func(t *testing.T) {
		dir := t.TempDir()
		out, err := makeCmd(t, nil, "-n", "build", "GOARCH=amd64", "BUILD_DIR="+dir).CombinedOutput()
		if err != nil {
			t.Fatalf("make -n build: %v\n%s", err, out)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != len(functionDirs) {
			t.Errorf("make -n build: got %d commands, want %d:\n%s", len(lines), len(functionDirs), out)
		}
		for _, name := range functionDirs {
			want := "-o " + dir + "/" + name + "/bootstrap ./functions/" + name
			if !strings.Contains(string(out), want) || !strings.Contains(string(out), "GOARCH=amd64") {
				t.Errorf("make -n build GOARCH=amd64: %q lacks GOARCH=amd64 and %q", out, want)
			}
		}
	})
}

// TestSAMBuildTargets runs the targets sam build runs and inspects the
// binaries: static linux ELF files for the template's architecture, named bootstrap, stripped, built
// without the RPC shim and without local paths.
func TestSAMBuildTargets(t *testing.T) {
	lookPath(t, "go")
	machine := map[string]elf.Machine{"[arm64]": elf.EM_AARCH64, "[x86_64]": elf.EM_X86_64}[fmt.Sprint(mapAt(t, loadTemplate(t), "Globals", "Function")["Architectures"])]
	for fn := range functionDirs {
		t.Run(fn, func(t *testing.T) {
			artifacts := t.TempDir()
			out, err := makeCmd(t, []string{"ARTIFACTS_DIR=" + artifacts}, "build-"+fn).CombinedOutput()
			if err != nil {
				t.Fatalf("make build-%s: %v\n%s", fn, err, out)
			}
			checkLambdaBinary(t, filepath.Join(artifacts, "bootstrap"), machine)
		})
	}
}

// templateWithArch writes template.yaml with Globals.Function.Architectures
// set to arch and returns its path.
func templateWithArch(t *testing.T, arch string) string {
	t.Helper()
	good := string(readRepoFile(t, "template.yaml"))
	tpl := strings.Replace(good, "\n    Architectures: [arm64]\n", "\n    Architectures: ["+arch+"]\n", 1)
	if tpl == good && arch != "arm64" {
		t.Fatal("template.yaml has no `    Architectures: [arm64]` line in Globals.Function")
	}
	path := filepath.Join(t.TempDir(), "template.yaml")
	if err := os.WriteFile(path, []byte(tpl), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestMakeBuildArchitectures: `make build` and the sam build targets
// compile for the architecture the template names, both of Lambda's, and
// refuse any other.
func TestMakeBuildArchitectures(t *testing.T) {
	lookPath(t, "go")
	for arch, machine := range map[string]elf.Machine{"arm64": elf.EM_AARCH64, "x86_64": elf.EM_X86_64} {
		t.Run(arch, func(t *testing.T) {
			tpl := templateWithArch(t, arch)
			dir := t.TempDir()
			out, err := makeCmd(t, nil, "build", "TEMPLATE="+tpl, "BUILD_DIR="+dir).CombinedOutput()
			if err != nil {
				t.Fatalf("make build (%s): %v\n%s", arch, err, out)
			}
			for _, name := range functionDirs {
				checkLambdaBinary(t, filepath.Join(dir, name, "bootstrap"), machine)
			}
			out, err = makeCmd(t, []string{"ARTIFACTS_DIR=" + dir}, "-n", "build-AuthorizeFunction", "TEMPLATE="+tpl).CombinedOutput()
			if want := "GOARCH=" + goarchOf[arch] + " "; err != nil || !strings.Contains(string(out), want) {
				t.Errorf("make -n build-AuthorizeFunction (%s): %v %q, want %q", arch, err, out, want)
			}
		})
	}
	t.Run("unknown architecture", func(t *testing.T) {
		out, err := makeCmd(t, nil, "-n", "build", "TEMPLATE="+templateWithArch(t, "mips"), "BUILD_DIR="+t.TempDir()).CombinedOutput()
		if err == nil || !strings.Contains(string(out), `Architectures is "mips"; want [arm64] or [x86_64]`) {
			t.Errorf("got %v, %q; want a refusal naming the architecture", err, out)
		}
	})
}

// TestSamconfigBuildInSource: sam build runs the Makefile in the
// repository (no copy of it per function; the makefile builder copies the
// whole CodeUri otherwise).
func TestSamconfigBuildInSource(t *testing.T) {
	section := ""
	found := false
	for _, line := range strings.Split(string(readRepoFile(t, "samconfig.toml")), "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "[") {
			section = line
		}
		if section == "[default.build.parameters]" && strings.ReplaceAll(line, " ", "") == "build_in_source=true" {
			found = true
		}
	}
	if !found {
		t.Error("samconfig.toml [default.build.parameters] lacks build_in_source = true")
	}
}

func checkLambdaBinary(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine || f.Class != elf.ELFCLASS64 || f.OSABI != elf.ELFOSABI_NONE {
		t.Errorf("%s: got %v %v %v, want a 64-bit linux %v binary", path, f.Class, f.OSABI, f.Machine, machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("%s: dynamically linked (%v); want CGO_ENABLED=0", path, p.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s: has a symbol table; want -ldflags='-s -w'", path)
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bin, []byte("net/rpc.")) {
		t.Errorf("%s: contains net/rpc; want -tags lambda.norpc", path)
	}
	if bytes.Contains(bin, []byte(root())) {
		t.Errorf("%s: contains the checkout path %s; want -trimpath", path, root())
	}
}
