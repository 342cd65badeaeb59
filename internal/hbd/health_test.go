package hbd

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// The health answer carries, for every running region, what the
// status answer says of it that a monitor judges by.
func TestHealthAnswersWhatStatusSays(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		src.Add(memUUID1, nil)
		src.Add(memUUID2, nil)
		d := memDaemon(t, conf, "n1", src)
		for _, u := range []string{memUUID1, memUUID2} {
			if _, err := callStart(t, d, u, "", "service:/a", true); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(3 * testInterval)
		synctest.Wait()
		resp, err := call(t, d, hbclient.Request{Op: hbclient.OpHealth})
		if err != nil || resp.Health == nil {
			t.Fatalf("health: %+v, %v", resp, err)
		}
		st := d.Status()
		h := resp.Health
		if h.Node != st.Node || h.Backend != st.Backend || h.IntervalMS != st.IntervalMS || len(h.Regions) != len(st.Regions) || len(h.Regions) != 2 {
			t.Fatalf("health %+v, status %+v: want the same node, backend, interval and two regions", h, st)
		}
		for i, r := range h.Regions {
			s := st.Regions[i]
			if r.UUID != s.UUID || r.Device != s.Device || r.State != s.State || len(r.LiveNodes) != 1 || r.LiveNodes[0] != 1 ||
				len(r.Owners) != 1 || r.Owners[0] != s.Owners[0] || r.OwnSlotAge < 0 || r.OwnSlotAge > s.OwnSlotAge {
				t.Errorf("region %d: health %+v, status %+v", i, r, s)
			}
		}
	})
}
