package backend

import (
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk/memdisk"
	"github.com/o2cb-ra/o2cb-ra/internal/ocfs2"
	"github.com/o2cb-ra/o2cb-ra/internal/testenv"
)

var _ Source = Observer{}

// Observer resolves as Userspace does.
func TestObserverResolvesAsUserspace(t *testing.T) {
	junk := t.TempDir() + "/junk"
	if err := os.WriteFile(junk, make([]byte, 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Observer{}).Resolve(someUUID, junk); !errors.Is(err, ocfs2.ErrNotOCFS2) {
		t.Errorf("Observer.Resolve(%s) = %v, want %v", junk, err, ocfs2.ErrNotOCFS2)
	}
}

// An observer's engine, through the Open hook, sees our writer on the
// same disk and writes nothing, not even when it stops.
func TestObserverRunWritesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := hbdisk.Geometry{BlockBytes: 512, StartBlock: 8, Blocks: 16}
		disk := memdisk.New(32 * 512)
		spec := Spec{UUID: someUUID, Device: "/dev/x", Geometry: g}
		p := Params{Nodes: []int{1, 2}, Interval: 100 * time.Millisecond, DeadThreshold: 5}
		open := func(string) (hbdisk.Device, error) { return disk.Device(), nil }
		p.Node = 1
		w, err := Userspace{Open: open}.Run(spec, p)
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer w.Stop(context.Background())
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		p.Node = 2
		o, err := Observer{Userspace{Open: open}}.Run(spec, p)
		if err != nil {
			t.Fatal(err)
		}
		before := disk.Writes()
		if err := o.Start(t.Context()); err != nil {
			t.Fatalf("observer Start = %v", err)
		}
		st := o.Status()
		if len(st.LiveNodes) != 1 || st.LiveNodes[0] != 1 || st.OwnLive() {
			t.Errorf("observer as node 2: live %v, want [1]", st.LiveNodes)
		}
		time.Sleep(200 * time.Millisecond)
		if err := o.Stop(t.Context()); err != nil {
			t.Errorf("observer Stop = %v", err)
		}
		// The writer writes once per interval, at the instants of its
		// own grid: 4 in the 4 intervals the observer ran, no more.
		if got := disk.Writes() - before; got != 4 {
			t.Errorf("%d writes while the observer ran, want the writer's 4 alone", got)
		}
		if st := o.Status(); st.Writes != 0 || st.WriteErrors != 0 || st.Generation != 0 {
			t.Errorf("observer status %+v, want no write and no generation", st)
		}
	})
}

// On a volume made by mkfs.ocfs2, as a file of mode 0444, the observer
// opens read-only by itself, and the file is the same before and after.
func TestObserverOnRealImage(t *testing.T) {
	img := testenv.MkfsOCFS2(t, testenv.Image{SizeMiB: 40})
	sb, err := ocfs2.Probe(img)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(img, 0o444); err != nil {
		t.Fatal(err)
	}
	sum := func() [32]byte {
		b, err := os.ReadFile(img)
		if err != nil {
			t.Fatal(err)
		}
		return sha256.Sum256(b)
	}
	before := sum()
	src := Observer{}
	spec, err := src.Resolve(sb.UUID, img)
	if err != nil {
		t.Fatalf("Resolve(%s, %s) = %v", sb.UUID, img, err)
	}
	eng, err := src.Run(spec, Params{Node: 3, Interval: 100 * time.Millisecond, DeadThreshold: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := eng.Start(t.Context()); err != nil {
		t.Fatalf("observer Start on %s = %v", img, err)
	}
	time.Sleep(300 * time.Millisecond)
	if err := eng.Stop(t.Context()); err != nil {
		t.Errorf("observer Stop = %v", err)
	}
	st := eng.Status()
	if st.Reads == 0 || st.Writes != 0 || st.WriteErrors != 0 || len(st.LiveNodes) != 0 {
		t.Errorf("observer on a fresh volume: %d reads, %d writes, %d write errors, live %v; want reads, no write, none live", st.Reads, st.Writes, st.WriteErrors, st.LiveNodes)
	}
	if sum() != before {
		t.Errorf("%s changed while the observer ran", img)
	}
}
