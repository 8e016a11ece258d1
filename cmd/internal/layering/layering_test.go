// Package layering checks the module's import rules (docs/architecture.md): imports point one
// way, cmd → gateway/admin/web → actors → media; no shipped binary links package testing, and
// only the test helper packages (named …test) import it.
// The rules are read from `go list` over the whole module, so a new import that breaks one
// fails here (and in `make lint`) before review.
package layering

import (
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/minilivechat/minilivechat"

// pkgs holds, for every package of the module (by path relative to the module), its direct
// imports and its transitive dependencies (test files excluded, as in a build).
type pkgs struct{ imports, deps map[string][]string }

func list(t *testing.T) pkgs {
	t.Helper()
	cmd := exec.Command("go", "list", "-f", "{{.ImportPath}}|{{join .Imports \" \"}}|{{join .Deps \" \"}}", module+"/...")
	out, err := cmd.Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("go list: %v\n%s", err, stderr)
	}
	p := pkgs{imports: map[string][]string{}, deps: map[string][]string{}}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "|")
		if len(f) != 3 {
			t.Fatalf("go list line %q: want path|imports|deps", line)
		}
		rel := strings.TrimPrefix(f[0], module+"/")
		p.imports[rel], p.deps[rel] = strings.Fields(f[1]), strings.Fields(f[2])
	}
	if len(p.deps) < 10 {
		t.Fatalf("go list found %d packages of %s; is the test run inside the module?", len(p.deps), module)
	}
	return p
}

// under reports whether pkg (relative to the module) is dir or below it.
func under(pkg, dir string) bool { return pkg == dir || strings.HasPrefix(pkg, dir+"/") }

// imports returns the dependencies of pkg inside the module that lie under one of dirs.
func imports(all pkgs, pkg string, dirs ...string) []string {
	var bad []string
	for _, d := range all.deps[pkg] {
		rel, ok := strings.CutPrefix(d, module+"/")
		if !ok {
			continue
		}
		for _, dir := range dirs {
			if under(rel, dir) {
				bad = append(bad, rel)
			}
		}
	}
	return bad
}

func TestMediaImportsNoUpperLayer(t *testing.T) {
	all := list(t)
	n := 0
	for pkg := range all.deps {
		if !under(pkg, "media") {
			continue
		}
		n++
		if bad := imports(all, pkg, "actors", "admin", "gateway", "web", "cmd"); len(bad) > 0 {
			t.Errorf("%s depends on %v; media is the bottom layer and imports none of them", pkg, bad)
		}
	}
	if n == 0 {
		t.Fatal("no package under media/ found")
	}
}

func TestActorsImportNoUpperLayer(t *testing.T) {
	all := list(t)
	n := 0
	for pkg := range all.deps {
		if !under(pkg, "actors") {
			continue
		}
		n++
		if bad := imports(all, pkg, "admin", "gateway", "web", "cmd"); len(bad) > 0 {
			t.Errorf("%s depends on %v; actors import only actors/ and media/", pkg, bad)
		}
	}
	if n == 0 {
		t.Fatal("no package under actors/ found")
	}
}

// jsonAllowed are the packages below the edges that may import encoding/json, each for a wire
// format of its own that no client sees.
var jsonAllowed = map[string]string{
	// The cluster's messages between nodes over NATS and its lease records in the JetStream
	// key-value store are its own JSON structs, independent of the client protocol's.
	"actors/cluster": "NATS wire structs",
}

// TestWireFormatOnlyAtTheEdges: the JSON of the WebSocket protocol and of the HTTP API lives
// in gateway/ and admin/ (docs/architecture.md); the actors' messages and the media building
// blocks have no JSON form, so neither actors/… nor media/… imports encoding/json.
func TestWireFormatOnlyAtTheEdges(t *testing.T) {
	all := list(t)
	n := 0
	for pkg, imps := range all.imports {
		if !under(pkg, "actors") && !under(pkg, "media") {
			continue
		}
		n++
		if _, ok := jsonAllowed[pkg]; ok {
			continue
		}
		for _, imp := range imps {
			if imp == "encoding/json" {
				t.Errorf("%s imports encoding/json; the wire format belongs in gateway/ or admin/, which map the actors' messages onto their own structs", pkg)
			}
		}
	}
	if n == 0 {
		t.Fatal("no package under actors/ or media/ found")
	}
}

// TestBinariesLinkNoTestCode: a test helper package (actortest, wstest, …) in a binary's
// dependencies drags package testing, its flags and its code into what operators run.
func TestBinariesLinkNoTestCode(t *testing.T) {
	all := list(t)
	for _, bin := range []string{"cmd/lcserver", "cmd/lcadmin", "cmd/lcload"} {
		t.Run(strings.TrimPrefix(bin, "cmd/"), func(t *testing.T) {
			d, ok := all.deps[bin]
			if !ok {
				t.Fatalf("%s not found by go list", bin)
			}
			for _, p := range d {
				if p == "testing" {
					t.Errorf("%s depends on package testing (through %v)", bin, testHelpers(all, bin))
				}
			}
		})
	}
}

// testHelpers names the module's packages in bin's dependencies that import testing themselves,
// the place to cut.
func testHelpers(all pkgs, bin string) []string {
	var via []string
	for _, d := range all.deps[bin] {
		rel, ok := strings.CutPrefix(d, module+"/")
		if !ok {
			continue
		}
		for _, dd := range all.imports[rel] {
			if dd == "testing" {
				via = append(via, rel)
				break
			}
		}
	}
	return via
}

// TestOnlyTestHelpersImportTesting: outside _test.go files, package testing belongs only in
// the test helper packages, named for it (actortest, wstest, peertest, …), which only tests and
// other helpers import.
func TestOnlyTestHelpersImportTesting(t *testing.T) {
	all := list(t)
	helper := func(pkg string) bool { return strings.HasSuffix(pkg[strings.LastIndex(pkg, "/")+1:], "test") }
	for pkg, imps := range all.imports {
		for _, imp := range imps {
			if imp == "testing" && !helper(pkg) {
				t.Errorf("%s imports package testing; move the code to a _test.go file or a …test helper package", pkg)
			}
			rel, ok := strings.CutPrefix(imp, module+"/")
			if ok && helper(rel) && !helper(pkg) {
				t.Errorf("%s imports the test helper %s", pkg, rel)
			}
		}
	}
}
