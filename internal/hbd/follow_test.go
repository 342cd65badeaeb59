package hbd

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// A kernel-backend daemon observes each region the kernel runs, and no
// longer once the kernel's region is gone.
func TestFollowKernelObservesTheKernelsRegions(t *testing.T) {
	conf := writeClusterConf(t, t.TempDir(), "local", 2)
	synctest.Test(t, func(t *testing.T) {
		src := memsource.New()
		src.ReadOnly = true
		src.Add(memUUID1, nil)
		d := memDaemon(t, conf, "n1", src)
		var mu sync.Mutex
		kernel := []KernelRegion{{UUID: memUUID1, Device: memsource.Device(memUUID1)}}
		list := func() ([]KernelRegion, error) {
			mu.Lock()
			defer mu.Unlock()
			return kernel, nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() { d.FollowKernel(ctx, list, testInterval); close(done) }()
		time.Sleep(10 * testInterval)
		st := d.Status()
		if len(st.Regions) != 1 || st.Regions[0].UUID != memUUID1 || !st.Regions[0].HasOwner(hbclient.OwnerKernel) {
			t.Fatalf("regions while the kernel runs one: %+v, want it observed for %s", st.Regions, hbclient.OwnerKernel)
		}
		mu.Lock()
		kernel = nil
		mu.Unlock()
		time.Sleep(3 * testInterval)
		if st := d.Status(); len(st.Regions) != 0 {
			t.Errorf("regions after the kernel's region went: %+v, want none", st.Regions)
		}
		cancel()
		<-done
	})
}
