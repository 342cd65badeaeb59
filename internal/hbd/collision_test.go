package hbd

import (
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend/memsource"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
)

// Two daemons with one node number on one disk: a collision is reported,
// neither writes on, and the region in collision stays stopped: it does
// not restart by itself (in global mode either), and a new start is
// refused with collision.
func TestSameNodeNumberCollisionStaysStopped(t *testing.T) {
	for _, mode := range []string{"local", "global"} {
		t.Run(mode, func(t *testing.T) {
			uuid := memUUID1
			conf := writeClusterConf(t, t.TempDir(), mode, 2, uuid)
			owner, consumer := "service:/a", true
			if mode == "global" {
				owner, consumer = hbclient.OwnerGlobal, false
			}
			synctest.Test(t, func(t *testing.T) {
				srcA, srcB := memsource.New(), memsource.New()
				disk := srcA.Add(uuid, nil)
				srcB.Add(uuid, disk)
				a := memDaemon(t, conf, "n1", srcA)
				b := memDaemon(t, conf, "n1", srcB)
				if _, err := callStart(t, a, uuid, "", owner, consumer); err != nil {
					t.Fatal(err)
				}
				time.Sleep(testInterval / 3)
				_, errB := callStart(t, b, uuid, "", owner, consumer)
				state := func(d *Daemon) hbclient.State {
					resp, err := call(t, d, hbclient.Request{Op: hbclient.OpInfo, UUID: uuid})
					if err != nil {
						return hbclient.State(err.Error())
					}
					return resp.Region.State
				}
				collided := func() bool {
					return state(a) == hbclient.StateCollision || errors.Is(errB, hbclient.ErrCode(hbclient.CodeCollision)) || state(b) == hbclient.StateCollision
				}
				begin := time.Now()
				for !collided() {
					if time.Since(begin) > 4*testInterval {
						t.Fatalf("no collision reported 4 intervals after the second writer started (a: %s, b: %s, b's start: %v)", state(a), state(b), errB)
					}
					time.Sleep(testInterval / 10)
				}
				t.Logf("collision reported %v after the second writer started (b's start: %v)", time.Since(begin), errB)
				// Neither keeps writing: node 1's slot stops changing.
				time.Sleep(2 * testInterval)
				s1, writes := memSlot(disk, 1).Block(), disk.Writes()
				time.Sleep(20 * testInterval)
				if s2 := memSlot(disk, 1).Block(); s2 != s1 || disk.Writes() != writes {
					t.Fatalf("node 1's slot still changes after the collision: %v then %v, %d writes then %d (a: %s, b: %s)",
						s1, s2, writes, disk.Writes(), state(a), state(b))
				}
				inCollision := 0
				for _, d := range []*Daemon{a, b} {
					if state(d) != hbclient.StateCollision {
						continue
					}
					inCollision++
					r := regionOf(d.Status(), uuid)
					if r.Retries != 0 || r.Retrying || r.RetryAt != "" {
						t.Errorf("region in collision is retried: %+v", r)
					}
					if r.Collisions != 1 || r.Failures != 1 || r.Restarts != 0 {
						t.Errorf("region in collision: %d collisions, %d failures, %d restarts; want 1, 1, 0", r.Collisions, r.Failures, r.Restarts)
					}
					if !strings.Contains(r.Error, "another node is heartbeating with our node number") || strings.HasPrefix(r.Error, "region "+uuid) {
						t.Errorf("status error of the region in collision %q: want the collision, not the region's name", r.Error)
					}
					_, err := callStart(t, d, uuid, "", owner, consumer)
					if !errors.Is(err, hbclient.ErrCode(hbclient.CodeCollision)) {
						t.Fatalf("start on a region in collision = %v, want collision", err)
					}
					var we *hbclient.Error
					if !errors.As(err, &we) || we.Region != uuid {
						t.Errorf("collision error %+v: want the region as a field", we)
					}
				}
				if inCollision == 0 {
					t.Fatalf("no daemon holds the region in collision (a: %s, b: %s, b's start: %v)", state(a), state(b), errB)
				}
			})
		})
	}
}
