package hbd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// In local mode a service holds a count of references, a Pacemaker
// resource one however often it starts; a stop by a non-owner and the
// cluster as an owner are refused; the last reference gone stops the
// region with a clean-stop block.
func TestLocalModeOwnersAndReferences(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 3)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		uuid := memUUID1
		disk := src.Add(uuid, nil)
		d := memDaemon(t, conf, "n1", src)

		begin := time.Now()
		resp, err := callStart(t, d, strings.ToLower(uuid), "", "service:/mnt/a", true)
		if err != nil {
			t.Fatalf("start by UUID (lower case): %v", err)
		}
		if took := time.Since(begin); took > 3*testInterval {
			t.Errorf("start took %v, want steady within about 2 intervals (%v)", took, 2*testInterval)
		}
		dev := memsource.Device(uuid)
		if resp.Region == nil || resp.Region.State != hbclient.StateSteady || resp.Region.Device != dev || !slices.Contains(resp.Region.LiveNodes, 1) {
			t.Fatalf("start answer: %+v, want steady on %s with node 1 live", resp.Region, dev)
		}
		if _, err := callStart(t, d, uuid, dev, "service:/mnt/a", true); err != nil {
			t.Fatal(err)
		}
		for range 2 { // a Pacemaker resource holds one reference, however often it starts
			if _, err := callStart(t, d, uuid, "", "pacemaker:hb1", false); err != nil {
				t.Fatal(err)
			}
		}
		if got := callRefs(t, d, uuid); got != 3 {
			t.Fatalf("refs = %d, want 3", got)
		}
		_, err = callStop(t, d, uuid, "service:/mnt/b", true)
		if !errors.Is(err, hbclient.ErrCode(hbclient.CodeNotOwner)) {
			t.Fatalf("stop by a non-owner = %v, want not_owner", err)
		}
		var we *hbclient.Error
		if !errors.As(err, &we) || we.Region != uuid || strings.Contains(we.Message, uuid) {
			t.Errorf("not_owner error %+v: want the region as a field, not in the message", we)
		}
		if _, err := callStart(t, d, uuid, "", hbclient.OwnerGlobal, false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeConfig)) {
			t.Fatalf("global owner in local mode = %v, want config error", err)
		}
		for i, owner := range []string{"service:/mnt/a", "pacemaker:hb1", "service:/mnt/a"} {
			if _, err := callStop(t, d, uuid, owner, owner != "pacemaker:hb1"); err != nil {
				t.Fatalf("stop %s: %v", owner, err)
			}
			if got, want := callRefs(t, d, uuid), 2-i; got != want {
				t.Fatalf("after stop %d: refs = %d, want %d", i, got, want)
			}
		}
		if st := d.Status(); len(st.Regions) != 0 {
			t.Fatalf("regions after the last stop: %+v", st.Regions)
		}
		if s := memSlot(disk, 1); s.Generation() != 0 || s.Seq() == 0 || s.Validate(1) != nil {
			t.Fatalf("node 1's slot after the last stop: %v, want a clean-stop block", s.Block())
		}
	})
}

// In global mode consumers' calls change nothing, "global" starts only
// regions of cluster.conf, a Pacemaker resource may not take a region
// the cluster holds (but may take another), and at most
// MaxGlobalRegions run.
func TestGlobalModeRules(t *testing.T) {
	configured := []string{memUUID1}
	for i := range MaxGlobalRegions - 2 {
		configured = append(configured, memUUID(i))
	}
	other := memUUID2
	conf := writeClusterConf(t, t.TempDir(), "global", 3, configured...)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		for _, u := range append(slices.Clone(configured), other, memUUID(MaxGlobalRegions)) {
			src.Add(u, nil)
		}
		d := memDaemon(t, conf, "n1", src)
		uuid := configured[0]

		resp, err := callStart(t, d, uuid, "", "service:/mnt", true)
		if err != nil || resp.Note == "" {
			t.Fatalf("consumer start in global mode = %+v, %v; want a no-op success with a note", resp, err)
		}
		if got := callRefs(t, d, uuid); got != 0 {
			t.Fatalf("consumer start changed refs to %d", got)
		}
		if _, err := callStart(t, d, other, "", hbclient.OwnerGlobal, false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeConfig)) {
			t.Fatalf("global start of a region not in cluster.conf = %v, want config error", err)
		}
		if _, err := callStart(t, d, uuid, "", hbclient.OwnerGlobal, false); err != nil {
			t.Fatalf("global start: %v", err)
		}
		if _, err := callStart(t, d, uuid, "", "pacemaker:hb", false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeGlobalOwned)) ||
			!strings.Contains(err.Error(), "manage_regions=false") {
			t.Fatalf("pacemaker start of a global region = %v, want global_owned naming manage_regions=false", err)
		}
		// A region outside cluster.conf may still be a pacemaker resource.
		if _, err := callStart(t, d, other, "", "pacemaker:hb", false); err != nil {
			t.Fatalf("pacemaker start of another region: %v", err)
		}
		if _, err := callStop(t, d, uuid, "service:/mnt", true); err != nil {
			t.Fatalf("consumer stop in global mode: %v", err)
		}
		if got := callRefs(t, d, uuid); got != 1 {
			t.Fatalf("consumer stop changed refs to %d", got)
		}
		st := d.Status()
		if st.Mode != "global" || st.Cluster != "test" || st.Node.Name != "n1" || st.Node.Number != 1 || len(st.Regions) != 2 {
			t.Fatalf("status = %+v", st)
		}
		if !slices.Equal(st.LiveNodes, []int{1}) {
			t.Fatalf("live nodes = %v, want [1]", st.LiveNodes)
		}

		// The limit: MaxGlobalRegions regions run, whoever owns them.
		for _, u := range configured[1:] {
			if _, err := callStart(t, d, u, "", hbclient.OwnerGlobal, false); err != nil {
				t.Fatalf("global start of %s: %v", u, err)
			}
		}
		if n := len(d.Status().Regions); n != MaxGlobalRegions {
			t.Fatalf("%d regions run, want %d", n, MaxGlobalRegions)
		}
		if _, err := callStart(t, d, memUUID(MaxGlobalRegions), "", "pacemaker:hb2", false); !errors.Is(err, hbclient.ErrCode(hbclient.CodeLimit)) {
			t.Fatalf("start of region %d = %v, want limit", MaxGlobalRegions+1, err)
		}
		if _, err := callStart(t, d, other, "", "pacemaker:hb", false); err != nil {
			t.Errorf("start of a running region at the limit: %v", err)
		}
	})
}

// Starts refused, whatever the backend: a malformed request, a region no
// device holds, a device holding another region, a relative or missing
// device. None leaves a region behind. (TestStartErrors has the
// OCFS2 volumes' own.)
func TestStartErrorsOfRequests(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		uuid, other := memUUID1, memUUID2
		src.Add(uuid, nil)
		src.Add(other, nil)
		d := memDaemon(t, conf, "n1", src)
		for _, tc := range []struct {
			name, uuid, device, owner, code string
		}{
			{"bad uuid", "XYZ", "", "service:a", hbclient.CodeBadRequest},
			{"bad owner", uuid, "", "nobody", hbclient.CodeBadRequest},
			{"empty service", uuid, "", "service:", hbclient.CodeBadRequest},
			{"unknown uuid", "0123456789ABCDEF0123456789ABCDEF", "", "service:a", hbclient.CodeUnknownRegion},
			{"device of another region", other, memsource.Device(uuid), "service:a", hbclient.CodeDeviceMismatch},
			{"relative device path", uuid, "a.img", "service:a", hbclient.CodeBadRequest},
			{"missing device", uuid, "/mem/gone", "service:a", hbclient.CodeIO},
		} {
			_, err := callStart(t, d, tc.uuid, tc.device, tc.owner, true)
			if !errors.Is(err, hbclient.ErrCode(tc.code)) {
				t.Errorf("%s: start = %v, want code %s", tc.name, err, tc.code)
			}
		}
		if st := d.Status(); len(st.Regions) != 0 {
			t.Fatalf("failed starts left regions: %+v", st.Regions)
		}
	})
}

// Concurrent starts and stops of many services count every reference.
func TestConcurrentReferences(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		uuid := memUUID1
		src.Add(uuid, nil)
		d := memDaemon(t, conf, "n1", src)
		const n = 20
		var wg sync.WaitGroup
		errs := make(chan error, 2*n)
		for i := range n {
			wg.Go(func() {
				_, err := d.StartRegion(context.Background(), uuid, "", "service:s"+string(rune('a'+i)), true)
				errs <- err
			})
		}
		wg.Wait()
		if got := callRefs(t, d, uuid); got != n {
			t.Fatalf("refs after %d concurrent starts = %d", n, got)
		}
		for i := range n {
			wg.Go(func() {
				_, err := d.StopRegion(context.Background(), uuid, "service:s"+string(rune('a'+i)), true)
				errs <- err
			})
			if i == n-2 {
				wg.Wait()
				if got := callRefs(t, d, uuid); got != 1 {
					t.Fatalf("refs with one owner left = %d", got)
				}
				if st := d.Status(); len(st.Regions) != 1 || st.Regions[0].State != hbclient.StateSteady {
					t.Fatalf("region with one owner left: %+v", st.Regions)
				}
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if got := callRefs(t, d, uuid); got != 0 {
			t.Fatalf("refs after all stops = %d", got)
		}
	})
}
