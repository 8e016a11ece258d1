// Package deploy holds the installation files of lcserver (systemd unit, Debian maintainer
// scripts, nfpm description, default config) and the tests that check them; it has no Go
// code of its own.
package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type nfpmConfig struct {
	Name     string `yaml:"name"`
	Contents []struct {
		Src, Dst, Type string
		FileInfo       struct {
			Mode int `yaml:"mode"`
		} `yaml:"file_info"`
	} `yaml:"contents"`
	Scripts map[string]string `yaml:"scripts"`
}

func readNFPM(t *testing.T) nfpmConfig {
	t.Helper()
	b, err := os.ReadFile("nfpm.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c nfpmConfig
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("nfpm.yaml: %v", err)
	}
	return c
}

// The fast check that runs in `make test`: the package description ships the binaries, the
// unit, the config file as a conffile, the data directory and the maintainer scripts, and
// every file it names from the repository exists.
func TestPackageDescriptionShipsEverything(t *testing.T) {
	c := readNFPM(t)
	want := map[string]string{
		"/usr/bin/lcserver": "", "/usr/bin/lcadmin": "",
		"/usr/lib/systemd/system/lcserver.service": "",
		"/etc/lcserver/lcserver.yaml":              "config|noreplace",
		"/var/lib/lcserver":                        "dir",
	}
	for _, e := range c.Contents {
		if typ, ok := want[e.Dst]; ok {
			if e.Type != typ {
				t.Errorf("%s has type %q, want %q", e.Dst, e.Type, typ)
			}
			delete(want, e.Dst)
		}
		if e.Src != "" && !strings.HasPrefix(e.Src, "dist/") {
			if _, err := os.Stat(filepath.Join("..", e.Src)); err != nil {
				t.Errorf("package source %s: %v", e.Src, err)
			}
		}
	}
	for dst := range want {
		t.Errorf("the package does not install %s", dst)
	}
	for _, s := range []string{"postinstall", "preremove", "postremove"} {
		st, err := os.Stat(filepath.Join("..", c.Scripts[s]))
		if err != nil || st.Mode()&0o111 == 0 {
			t.Errorf("maintainer script %s (%q): %v, mode %v", s, c.Scripts[s], err, st)
		}
	}

	unit, err := os.ReadFile("lcserver.service")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ExecStart=/usr/bin/lcserver --config /etc/lcserver/lcserver.yaml",
		"EnvironmentFile=/etc/lcserver/secret.env",
		"User=lcserver", "StateDirectory=lcserver", "ExecReload=/bin/kill -HUP $MAINPID",
	} {
		if !slices.Contains(strings.Split(string(unit), "\n"), line) {
			t.Errorf("lcserver.service lacks the line %q", line)
		}
	}
	var conf map[string]any
	b, _ := os.ReadFile("lcserver.yaml")
	if err := yaml.Unmarshal(b, &conf); err != nil {
		t.Fatalf("lcserver.yaml: %v", err)
	}
	if conf["data-dir"] != "/var/lib/lcserver" || conf["tls-self-signed"] != true {
		t.Errorf("lcserver.yaml: data-dir %v, tls-self-signed %v", conf["data-dir"], conf["tls-self-signed"])
	}
}

// stubs puts fake useradd, getent, chown and systemctl first on PATH; each logs its arguments
// to the returned file. getent finds the user once useradd made it.
func stubs(t *testing.T) (env []string, log string) {
	t.Helper()
	dir := t.TempDir()
	log = filepath.Join(dir, "calls.log")
	write := func(name, body string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"useradd", "chown", "systemctl"} {
		write(n, `echo "`+n+` $*" >>"$CALLS"`)
	}
	write("getent", `grep -q '^useradd' "$CALLS" 2>/dev/null && echo "lcserver:x:999:999::/var/lib/lcserver:/usr/sbin/nologin" && exit 0; exit 2`)
	return append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"), "CALLS="+log), log
}

// runScript runs a maintainer script with DPKG_ROOT=root.
func runScript(t *testing.T, script, root string, env []string, args ...string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{script}, args...)...)
	cmd.Env = append(env, "DPKG_ROOT="+root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(script), args, err, out)
	}
}

var secretLine = regexp.MustCompile(`(?m)^LIVECHAT_SECRET=([0-9a-f]{64})$`)

// checkMaintainerScripts runs postinst twice (install, upgrade) and postrm purge in a
// scratch root: one system user, one secret generated at first install and kept after.
func checkMaintainerScripts(t *testing.T, dir string) {
	t.Helper()
	root := t.TempDir()
	env, log := stubs(t)
	runScript(t, filepath.Join(dir, "postinst"), root, env, "configure")
	secretFile := filepath.Join(root, "etc/lcserver/secret.env")
	b, err := os.ReadFile(secretFile)
	if err != nil {
		t.Fatalf("no secret after the first install: %v", err)
	}
	m := secretLine.FindSubmatch(b)
	if m == nil {
		t.Fatalf("secret.env has no LIVECHAT_SECRET of 64 hex digits:\n%s", b)
	}
	if st, _ := os.Stat(secretFile); st.Mode().Perm() != 0o640 {
		t.Errorf("secret.env mode %v, want 0640", st.Mode().Perm())
	}
	if st, err := os.Stat(filepath.Join(root, "var/lib/lcserver")); err != nil || !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("data directory: %v %v", st, err)
	}

	runScript(t, filepath.Join(dir, "postinst"), root, env, "configure", "0.9.0")
	again, _ := os.ReadFile(secretFile)
	if !strings.Contains(string(again), string(m[1])) {
		t.Error("an upgrade changed LIVECHAT_SECRET: every token in use would stop working")
	}
	calls, _ := os.ReadFile(log)
	if n := strings.Count(string(calls), "useradd "); n != 1 {
		t.Errorf("useradd ran %d times, want once:\n%s", n, calls)
	}
	for _, want := range []string{"useradd --root " + root + " --system --user-group", "--shell /usr/sbin/nologin",
		"chown lcserver:lcserver " + filepath.Join(root, "var/lib/lcserver"), "chown root:lcserver"} {
		if !strings.Contains(string(calls), want) {
			t.Errorf("postinst did not run %q:\n%s", want, calls)
		}
	}
	if strings.Contains(string(calls), "systemctl") {
		t.Errorf("postinst touched systemd while installing into another root:\n%s", calls)
	}

	runScript(t, filepath.Join(dir, "postrm"), root, env, "purge")
	for _, p := range []string{secretFile, filepath.Join(root, "var/lib/lcserver")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("purge left %s", p)
		}
	}
}

func TestMaintainerScriptsCreateUserAndSecretOnce(t *testing.T) {
	checkMaintainerScripts(t, "debian")
}

// TestDebPackage inspects what `make deb` built (it sets LIVECHAT_DEB to the amd64 package):
// the control fields, the files with their modes, the conffile, the maintainer scripts run in
// a scratch root, the binaries' --version, and the two sibling architectures.
func TestDebPackage(t *testing.T) {
	deb := os.Getenv("LIVECHAT_DEB")
	if deb == "" {
		t.Skip("skipping: set LIVECHAT_DEB to an lcserver_*_amd64.deb (make deb builds the packages and runs this)")
	}
	if _, err := exec.LookPath("dpkg-deb"); err != nil {
		t.Skip("skipping: dpkg-deb not found (apt-get install dpkg)")
	}
	dpkg := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("dpkg-deb", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if got := strings.TrimSpace(dpkg("--field", deb, "Package")); got != "lcserver" {
		t.Errorf("Package: %q", got)
	}
	if got := strings.TrimSpace(dpkg("--field", deb, "Architecture")); got != "amd64" {
		t.Errorf("Architecture: %q", got)
	}
	list := dpkg("--contents", deb)
	for _, want := range []string{
		`-rwxr-xr-x root/root .* \./usr/bin/lcserver$`,
		`-rwxr-xr-x root/root .* \./usr/bin/lcadmin$`,
		`-rw-r--r-- root/root .* \./usr/lib/systemd/system/lcserver\.service$`,
		`-rw-r--r-- root/root .* \./etc/lcserver/lcserver\.yaml$`,
		`drwxr-x--- root/root .* \./var/lib/lcserver/$`,
	} {
		if !regexp.MustCompile(`(?m)` + want).MatchString(list) {
			t.Errorf("package contents lack %s:\n%s", want, list)
		}
	}
	control := t.TempDir()
	dpkg("--control", deb, control)
	if b, _ := os.ReadFile(filepath.Join(control, "conffiles")); !strings.Contains(string(b), "/etc/lcserver/lcserver.yaml") {
		t.Errorf("conffiles = %q: local edits of the config would be overwritten on upgrade", b)
	}
	checkMaintainerScripts(t, control)

	root := t.TempDir()
	dpkg("--extract", deb, root)
	for _, f := range []string{"usr/lib/systemd/system/lcserver.service", "etc/lcserver/lcserver.yaml"} {
		got, _ := os.ReadFile(filepath.Join(root, f))
		want, _ := os.ReadFile(filepath.Base(f))
		if string(got) != string(want) {
			t.Errorf("%s in the package differs from deploy/%s", f, filepath.Base(f))
		}
	}
	if runtime.GOARCH == "amd64" {
		for _, bin := range []string{"lcserver", "lcadmin"} {
			out, err := exec.Command(filepath.Join(root, "usr/bin", bin), "--version").CombinedOutput()
			if err != nil || !strings.Contains(string(out), bin+" version ") {
				t.Errorf("%s --version: %v %s", bin, err, out)
			}
		}
	}
	for _, arch := range []string{"arm64", "armhf"} {
		sib := strings.Replace(deb, "_amd64.deb", "_"+arch+".deb", 1)
		if _, err := os.Stat(sib); err != nil {
			t.Errorf("no %s package beside the amd64 one: %v", arch, err)
			continue
		}
		if got := strings.TrimSpace(dpkg("--field", sib, "Architecture")); got != arch {
			t.Errorf("%s: Architecture %q", sib, got)
		}
	}
}
