package hbctl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
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
	const global = "global"
	for _, tc := range []struct {
		args  []string
		owner string // O2CB_HEARTBEAT_OWNER
		want  request
		err   string
	}{
		{args: []string{"-L"}, want: request{action: 'L'}},
		{args: []string{"-L", "-d", "/dev/x"}, want: request{action: 'L', device: "/dev/x"}},
		{args: []string{"-h"}, want: request{help: true}},
		{args: []string{"-S", "-h"}, want: request{action: 'S', help: true}},
		{args: []string{"-V"}, want: request{version: true}},
		{args: []string{"-S", "-u", u, "svc"}, want: request{action: 'S', uuid: U, service: "svc"}},
		{args: []string{"svc", "-Su", u}, want: request{action: 'S', uuid: U, service: "svc"}},
		{args: []string{"-S", "-d", "/dev/x", "/mnt/a b"}, want: request{action: 'S', device: "/dev/x", service: "/mnt/a b"}},
		{args: []string{"-K", "-u", u}, want: request{action: 'K', uuid: U, service: "ocfs2"}},
		{args: []string{"-K", "-u", u, "svc"}, want: request{action: 'K', uuid: U, service: "svc"}},
		{args: []string{"-K", "-d", "/dev/x", "svc"}, want: request{action: 'K', device: "/dev/x", service: "svc"}},
		{args: []string{"-I", "-u", u}, want: request{action: 'I', uuid: U}},
		{args: []string{"-I", "-q", "-u", u}, want: request{action: 'I', uuid: U, quiet: true}},
		{args: []string{"-Iqd", "/dev/x"}, want: request{action: 'I', device: "/dev/x", quiet: true}},
		{args: []string{"-P", "-u", u}, want: request{action: 'P', uuid: U}}, // level 0, as ocfs2-tools
		{args: []string{"-P", "-u", u, "-n", "7"}, want: request{action: 'P', uuid: U, prio: 7, hasPrio: true}},
		{args: []string{"-P", "-d", "/dev/x", "-n0"}, want: request{action: 'P', device: "/dev/x", hasPrio: true}},
		// The layout-driver contract of global heartbeat.
		{args: []string{"-S", "-u", u}, owner: global, want: request{action: 'S', uuid: U, global: true}},
		{args: []string{"-K", "-u", u}, owner: global, want: request{action: 'K', uuid: U, global: true}},
		{args: []string{"-S", "-u", u, "svc"}, owner: global, want: request{action: 'S', uuid: U, service: "svc", global: true}},
		{args: []string{"-K", "-d", "/dev/x"}, owner: global, want: request{action: 'K', device: "/dev/x", global: true}},
		{args: []string{"-I", "-u", u}, owner: global, want: request{action: 'I', uuid: U}},
		{args: []string{"-S", "-u", u, "svc"}, owner: "pacemaker:x", err: `O2CB_HEARTBEAT_OWNER="pacemaker:x"`},

		{args: nil, err: "no action"},
		{args: []string{"-q"}, err: "no action"},
		{args: []string{"-S", "-K", "-u", u}, err: "-S and -K cannot be combined"},
		{args: []string{"-L", "-u", u}, err: "not -u"},
		{args: []string{"-L", "svc"}, err: "no service"},
		{args: []string{"-L", "-n", "1"}, err: "-n goes with -P"},
		{args: []string{"-S", "-u", u, "-n", "1", "svc"}, err: "-n goes with -P"},
		{args: []string{"-I", "-u", u, "-n", "1"}, err: "-n goes with -P"},
		{args: []string{"-S", "-q", "-u", u, "svc"}, err: "-q goes with -I"},
		{args: []string{"-L", "-q"}, err: "-q goes with -I"},
		{args: []string{"-S", "-u", u}, err: "-S needs a service"},
		{args: []string{"-S", "-d", "/dev/x"}, err: "-S needs a service"},
		{args: []string{"-S", "svc"}, err: "exactly one of"},
		{args: []string{"-S", "-u", u, "-d", "/dev/x", "svc"}, err: "exactly one of"},
		{args: []string{"-I"}, err: "-I needs exactly one of"},
		{args: []string{"-P", "-n", "1"}, err: "-P needs exactly one of"},
		{args: []string{"-K", "-d", "/dev/x"}, err: "-K -d needs a service"},
		{args: []string{"-I", "-u", u, "svc"}, err: "-I takes no service"},
		{args: []string{"-P", "-u", u, "svc"}, err: "-P takes no service"},
		{args: []string{"-I", "-u", "xyz"}, err: "not a volume UUID"},
		{args: []string{"-S", "-u", u + "0", "svc"}, err: "not a volume UUID"},
		{args: []string{"-P", "-u", u, "-n", "8"}, err: "not 0 to 7"},
		{args: []string{"-P", "-u", u, "-n", "9"}, err: "not 0 to 7"},
		{args: []string{"-P", "-u", u, "-n", "-1"}, err: "not 0 to 7"},
		{args: []string{"-P", "-u", u, "-n", "x"}, err: "not 0 to 7"},
		{args: []string{"-P", "-u", u, "-n"}, err: "option -n needs an argument"},
		{args: []string{"-S", "-u", u, "a", "b"}, err: "one service argument at most"},
		{args: []string{"-S", "-u", u, "a\nb"}, err: "control character"},
		{args: []string{"-S", "-u", u, strings.Repeat("s", 300)}, err: "too long"},
		{args: []string{"-Z"}, err: "unknown option -Z"},
	} {
		got, err := parse(tc.args, tc.owner)
		if tc.err != "" {
			if _, ok := err.(usageError); !ok || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parse(%q, owner %q) = %v, want usage error %q", tc.args, tc.owner, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parse(%q, owner %q) = %+v, %v, want %+v", tc.args, tc.owner, got, err, tc.want)
		}
	}
}

func TestOwner(t *testing.T) {
	for _, tc := range []struct {
		r    request
		want string
	}{
		{request{service: "svc"}, "service:svc"},
		{request{service: "/mnt/data"}, "service:/mnt/data"},
		{request{global: true}, "global"},
		{request{global: true, service: "svc"}, "global"},
	} {
		if got := tc.r.owner(); got != tc.want {
			t.Errorf("%+v.owner() = %q, want %q", tc.r, got, tc.want)
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
	// No daemon: every region action fails with one line that says what
	// to do, but -I -q, a status probe, reports nothing live.
	noDaemon := map[string]string{EnvRunDir: t.TempDir()}
	const uuid = "43fa4f36ed354789a313654157458296"
	for _, args := range [][]string{
		{"-S", "-u", uuid, "svc"}, {"-K", "-u", uuid, "svc"}, {"-K", "-u", uuid}, {"-I", "-u", uuid}, {"-P", "-u", uuid, "-n", "3"},
	} {
		out, errOut, code = run(args, noDaemon)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, "ocfs2_hb_ctl: ") || strings.Count(errOut, "\n") != 1 ||
			!strings.Contains(errOut, "start the o2cb resource first") {
			t.Errorf("Run(%q) without a daemon = %q, %q, %d, want one line saying to start the o2cb resource, 1", args, out, errOut, code)
		}
	}
	out, errOut, code = run([]string{"-I", "-q", "-u", uuid}, noDaemon)
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("Run(-I -q) without a daemon = %q, %q, %d, want nothing, 0", out, errOut, code)
	}
	for _, bad := range []string{"0", "-1", "x", "1e99"} {
		env := map[string]string{EnvRunDir: noDaemon[EnvRunDir], EnvTimeout: bad}
		_, errOut, code = run([]string{"-I", "-u", uuid}, env)
		if code != 1 || !strings.Contains(errOut, EnvTimeout) {
			t.Errorf("Run(-I) with %s=%q = %q, %d, want the variable named, 1", EnvTimeout, bad, errOut, code)
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

func TestReason(t *testing.T) {
	code := func(c, msg string) error { return &hbclient.Error{Code: c, Message: msg} }
	notRunning := fmt.Errorf("%w: no daemon on /run/o2cb/o2hbd.sock", hbclient.ErrNotRunning)
	for _, tc := range []struct {
		err  error
		r    request
		want string
	}{
		{notRunning, request{action: 'S'}, notRunning.Error()},
		{code(hbclient.CodeCollision, "another node is heartbeating with our node number"), request{action: 'S'},
			"region in collision: another node is heartbeating with our node number"},
		{code(hbclient.CodeCollision, "region X is stopped after a collision"), request{action: 'S'}, "region X is stopped after a collision"},
		{code(hbclient.CodeNotSteady, "unable to stabilize heartbeat"), request{action: 'S'},
			"the region did not become steady in time: unable to stabilize heartbeat"},
		{code(hbclient.CodeNotSteady, "region X was not steady in time"), request{action: 'S'}, "region X was not steady in time"},
		{code(hbclient.CodeUnknownRegion, "no OCFS2 volume with this UUID"), request{action: 'S'},
			"no device holds this region: no OCFS2 volume with this UUID"},
		{code(hbclient.CodeUnknownRegion, "region X is not running on this node"), request{action: 'K'}, "region X is not running on this node"},
		{code(hbclient.CodeDeviceMismatch, "bad superblock"), request{action: 'S', device: "/dev/sdx"},
			"/dev/sdx is not the region's device: bad superblock"},
		{code(hbclient.CodeDeviceMismatch, "/dev/sdx holds OCFS2 volume A, not B"), request{action: 'S', device: "/dev/sdx"},
			"/dev/sdx holds OCFS2 volume A, not B"},
		{fmt.Errorf("the heartbeat daemon did not answer start in time: %w", context.DeadlineExceeded), request{action: 'S'},
			"the heartbeat daemon did not answer start in time: context deadline exceeded (set O2CB_HB_CTL_TIMEOUT to wait longer)"},
		{errors.Join(errors.New("a"), errors.New("b")), request{action: 'I'}, "a; b"},
	} {
		if got := reason(tc.err, tc.r); got != tc.want {
			t.Errorf("reason(%q, -%c) = %q, want %q", tc.err, tc.r.action, got, tc.want)
		}
	}
}
