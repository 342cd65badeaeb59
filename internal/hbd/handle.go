package hbd

import (
	"context"
	"os"
	"time"

	"github.com/o2cb-ra/o2cb-ra/internal/backend"
	"github.com/o2cb-ra/o2cb-ra/internal/hbclient"
	"github.com/o2cb-ra/o2cb-ra/internal/hbdisk"
)

// Handle answers one request.
func (d *Daemon) Handle(ctx context.Context, req hbclient.Request) hbclient.Response {
	resp := hbclient.Response{V: hbclient.ProtocolVersion}
	if req.V != hbclient.ProtocolVersion {
		resp.Error = wireError(fail(ErrVersion, "protocol version %d is not spoken here (version %d is)", req.V, hbclient.ProtocolVersion))
		return resp
	}
	if req.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(req.Timeout)*time.Millisecond)
		defer cancel()
	}
	var err error
	switch req.Op {
	case hbclient.OpPing:
		d.mu.Lock()
		resp.Status = &hbclient.Status{Node: hbclient.Node{Name: d.node.Name, Number: d.node.Number}, Cluster: d.cluster, Mode: string(d.mode), PID: os.Getpid()}
		d.mu.Unlock()
	case hbclient.OpStatus:
		resp.Status = d.Status()
	case hbclient.OpHealth:
		resp.Health = hbclient.HealthOf(d.Status())
	case hbclient.OpInfo:
		resp.Region, err = d.Info(req.UUID)
	case hbclient.OpStart:
		resp.Note, err = d.StartRegion(ctx, req.UUID, req.Device, req.Owner, req.Consumer)
		if err == nil && resp.Note == "" {
			resp.Region, _ = d.Info(req.UUID)
		}
	case hbclient.OpStop:
		resp.Note, err = d.StopRegion(ctx, req.UUID, req.Owner, req.Consumer)
	case hbclient.OpIOPrio:
		err = d.SetIOPriority(req.UUID, req.Priority)
	case hbclient.OpReload:
		err = d.Reload()
	default:
		err = fail(ErrBadRequest, "unknown operation %q", req.Op)
	}
	if err != nil {
		resp.Error = wireError(err)
		return resp
	}
	resp.OK = true
	return resp
}

// SetIOPriority gives region uuid's I/O thread the real-time I/O class at
// level prio (0 highest, 7 lowest), as ocfs2-tools' ocfs2_hb_ctl -P does
// with ionice -c1.
func (d *Daemon) SetIOPriority(uuid string, prio int) error {
	if prio < 0 || prio > 7 {
		return fail(ErrBadRequest, "I/O priority %d is outside 0..7", prio)
	}
	uuid, err := normalizeOrBad(uuid)
	if err != nil {
		return err
	}
	d.mu.Lock()
	r := d.regions[uuid]
	var eng backend.Engine
	if r != nil {
		eng = r.eng
	}
	d.mu.Unlock()
	if eng == nil {
		return notRunning(uuid)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*d.cfg.Interval+5*time.Second)
	defer cancel()
	tid, err := eng.SetIOPriority(ctx, hbdisk.IOPriorityRealtime(prio))
	if err != nil {
		return mark(ErrIO, err)
	}
	d.log.Info("I/O priority raised", "region", uuid, "thread", tid, "class", "realtime", "level", prio)
	return nil
}
