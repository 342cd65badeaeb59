package hbctl

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
	"github.com/o2cb-ra/o2cb-ra/internal/version"
)

func TestGetopt(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		opts     []option
		operands []string
		err      string
	}{
		{args: nil},
		{args: []string{"-L"}, opts: []option{{'L', ""}}},
		{args: []string{"-Ld", "/dev/x"}, opts: []option{{'L', ""}, {'d', "/dev/x"}}},
		{args: []string{"-L", "-d", "/dev/x"}, opts: []option{{'L', ""}, {'d', "/dev/x"}}},
		{args: []string{"-d/dev/x", "-L"}, opts: []option{{'d', "/dev/x"}, {'L', ""}}},
		{args: []string{"-Ld/dev/x"}, opts: []option{{'L', ""}, {'d', "/dev/x"}}},
		{args: []string{"-S", "-u", "ABC", "svc"}, opts: []option{{'S', ""}, {'u', "ABC"}}, operands: []string{"svc"}},
		{args: []string{"svc", "-Su", "ABC"}, opts: []option{{'S', ""}, {'u', "ABC"}}, operands: []string{"svc"}},
		{args: []string{"-d", "-L"}, opts: []option{{'d', "-L"}}}, // an argument may start with '-'
		{args: []string{"-P", "-n3", "-u", "X"}, opts: []option{{'P', ""}, {'n', "3"}, {'u', "X"}}},
		{args: []string{"-I", "--", "-K"}, opts: []option{{'I', ""}}, operands: []string{"-K"}},
		{args: []string{"-", "-q"}, opts: []option{{'q', ""}}, operands: []string{"-"}},
		{args: []string{"-d"}, err: "option -d needs an argument"},
		{args: []string{"-Lx"}, err: "unknown option -x"},
		{args: []string{"-:"}, err: "unknown option -:"},
	} {
		opts, operands, err := getopt(tc.args, optSpec)
		if tc.err != "" {
			if err == nil || err.Error() != tc.err {
				t.Errorf("getopt(%q) = %v, want error %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(opts, tc.opts) || !reflect.DeepEqual(operands, tc.operands) {
			t.Errorf("getopt(%q) = %v, %q, %v, want %v, %q", tc.args, opts, operands, err, tc.opts, tc.operands)
		}
	}
}

func TestParse(t *testing.T) {
	const u = "43fa4f36-ed35-4789-a313-654157458296"
	const U = "43FA4F36ED354789A313654157458296"
	for _, tc := range []struct {
		args []string
		want request
		err  string
	}{
		{args: []string{"-L"}, want: request{action: 'L'}},
		{args: []string{"-L", "-d", "/dev/x"}, want: request{action: 'L', device: "/dev/x"}},
		{args: []string{"-h"}, want: request{help: true}},
		{args: []string{"-S", "-h"}, want: request{action: 'S', help: true}},
		{args: []string{"-V"}, want: request{version: true}},
		{args: []string{"-S", "-u", u, "svc"}, want: request{action: 'S', uuid: U, service: "svc"}},
		{args: []string{"-S", "-d", "/dev/x", "svc"}, want: request{action: 'S', device: "/dev/x", service: "svc"}},
		{args: []string{"-K", "-u", u}, want: request{action: 'K', uuid: U, service: "ocfs2"}},
		{args: []string{"-I", "-q", "-u", u}, want: request{action: 'I', uuid: U, quiet: true}},
		{args: []string{"-P", "-u", u, "-n", "7"}, want: request{action: 'P', uuid: U, prio: 7, hasPrio: true}},
		{args: nil, err: "no action"},
		{args: []string{"-S", "-K", "-u", u}, err: "-S and -K cannot be combined"},
		{args: []string{"-L", "-u", u}, err: "not -u"},
		{args: []string{"-L", "svc"}, err: "no service"},
		{args: []string{"-L", "-n", "1"}, err: "-n goes with -P"},
		{args: []string{"-S", "-u", u}, err: "needs a service"},
		{args: []string{"-S", "svc"}, err: "exactly one of"},
		{args: []string{"-S", "-u", u, "-d", "/dev/x", "svc"}, err: "exactly one of"},
		{args: []string{"-K", "-d", "/dev/x"}, err: "-K -d needs a service"},
		{args: []string{"-I", "-u", "xyz"}, err: "not a volume UUID"},
		{args: []string{"-P", "-u", u, "-n", "8"}, err: "not 0 to 7"},
		{args: []string{"-P", "-u", u, "-n", "x"}, err: "not 0 to 7"},
		{args: []string{"-S", "-u", u, "a", "b"}, err: "one service argument at most"},
		{args: []string{"-Z"}, err: "unknown option -Z"},
	} {
		got, err := parse(tc.args)
		if tc.err != "" {
			if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse(%q) = %v, want usage error %q", tc.args, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parse(%q) = %+v, %v, want %+v", tc.args, got, err, tc.want)
		}
	}
}

func run(args []string, env map[string]string) (stdout, stderr string, code int) {
	var out, errOut strings.Builder
	code = Run(args, func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), code
}

func TestRun(t *testing.T) {
	out, errOut, code := run([]string{"-h"}, nil)
	if code != 0 || !strings.HasPrefix(out, "Usage: ocfs2_hb_ctl") || errOut != "" {
		t.Errorf("Run(-h) = %q, %q, %d, want usage on stdout, 0", out, errOut, code)
	}
	out, errOut, code = run([]string{"-V"}, nil)
	if want := "ocfs2_hb_ctl " + version.Version + "\n"; code != 0 || out != want {
		t.Errorf("Run(-V) = %q, %q, %d, want %q, 0", out, errOut, code, want)
	}
	out, errOut, code = run(nil, nil)
	if code != 1 || out != "" || !strings.HasPrefix(errOut, "ocfs2_hb_ctl: no action") || !strings.Contains(errOut, "Usage:") {
		t.Errorf("Run() = %q, %q, %d, want the error and usage on stderr, 1", out, errOut, code)
	}
	for _, a := range []string{"-S", "-K", "-I", "-P"} {
		out, errOut, code = run([]string{a, "-u", "43fa4f36ed354789a313654157458296", "svc"}, nil)
		if want := "ocfs2_hb_ctl: " + a + " is not available yet\n"; code != 1 || out != "" || errOut != want {
			t.Errorf("Run(%s) = %q, %q, %d, want %q, 1", a, out, errOut, code, want)
		}
	}
	missing := filepath.Join(t.TempDir(), "missing")
	_, errOut, code = run([]string{"-L", "-d", missing}, nil)
	if want := "ocfs2_hb_ctl: " + missing + ": no such file or directory\n"; code != 1 || errOut != want {
		t.Errorf("Run(-L -d missing) = %q, %d, want %q, 1", errOut, code, want)
	}
	_, errOut, code = run([]string{"-L"}, map[string]string{EnvDevices: "["})
	if code != 1 || !strings.Contains(errOut, `device pattern "["`) {
		t.Errorf("Run(-L) with a bad pattern = %q, %d, want the pattern named, 1", errOut, code)
	}
}

func TestRunOnImages(t *testing.T) {
	testenv.RequireCommand(t, "mkfs.ocfs2", "tunefs.ocfs2")
	dir := t.TempDir()
	imgs := map[string]string{}
	for _, bs := range []int{512, 2048, 4096} {
		size := 32
		if bs == 512 {
			size = 128
		}
		img := testenv.MkfsOCFS2(t, testenv.Image{Dir: dir, BlockSize: bs, SizeMiB: size})
		imgs[img] = strings.TrimSpace(testenv.Run(t, "tunefs.ocfs2", "-Q", `%U\n`, img))
	}
	for img, uuid := range imgs {
		out, errOut, code := run([]string{"-Ld", img}, nil)
		if code != 0 || out != uuid+"\n" || errOut != "" {
			t.Errorf("Run(-Ld %s) = %q, %q, %d, want %q (tunefs.ocfs2), 0", img, out, errOut, code, uuid)
		}
	}
	junk := filepath.Join(dir, "junk")
	os.WriteFile(junk, []byte("not a volume"), 0o644)
	out, _, code := run([]string{"-L"}, map[string]string{EnvDevices: junk + ":" + filepath.Join(dir, "ocfs2-*.img")})
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) < len(imgs) {
		t.Fatalf("Run(-L) = %q, %d, want the %d images first, 0", out, code, len(imgs))
	}
	for _, l := range lines[:len(imgs)] {
		u, dev, _ := strings.Cut(l, ":")
		if imgs[dev] != u {
			t.Errorf("Run(-L) line %q, want %s:%s", l, imgs[dev], dev)
		}
	}
}
