package hbclient

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ProtocolVersion is the version of the control protocol: JSON lines over
// the daemon's unix socket, one request and one response a line.
const ProtocolVersion = 1

// MaxMessageBytes bounds a request; a longer line is refused without
// reading it whole.
const MaxMessageBytes = 64 << 10

// MaxResponseBytes bounds an answer: a status of hundreds of regions of
// 255 live nodes each is a few hundred KiB.
const MaxResponseBytes = 16 << 20

// Operations of the control protocol.
const (
	OpPing   = "ping"   // is the daemon there: returns its node and mode
	OpStart  = "start"  // add an owner to a region, starting it; waits until steady
	OpStop   = "stop"   // drop an owner; the last one gone stops the region
	OpInfo   = "info"   // one region: owners, references, state
	OpStatus = "status" // every region and the union of live nodes
	OpHealth = "health" // what a monitor judges: every region's state, live nodes and own slot
	OpIOPrio = "ioprio" // set the I/O priority of a region's I/O thread
	OpReload = "reload" // re-read cluster.conf
)

// Error codes of a failed request.
const (
	CodeBadRequest     = "bad_request"     // malformed or unknown request
	CodeVersion        = "version"         // protocol version not spoken
	CodePermission     = "permission"      // peer is neither root nor the daemon's user
	CodeUnknownRegion  = "unknown_region"  // no such region, or no device found for the UUID
	CodeDeviceMismatch = "device_mismatch" // the device does not hold the region's UUID
	CodeNotSteady      = "not_steady"      // the region did not settle in time
	CodeCollision      = "collision"       // another writer uses our node number
	CodeGlobalOwned    = "global_owned"    // the region belongs to the cluster (global mode)
	CodeLimit          = "limit"           // too many regions
	CodeIO             = "io"              // the device failed
	CodeConfig         = "config"          // cluster.conf problem
	CodeStopping       = "stopping"        // the daemon is shutting down
	CodeNotOwner       = "not_owner"       // stop for an owner that holds no reference
	CodeKernelPeer     = "kernel_peer"     // a kernel node shares the cluster: this node does not write
)

// Request is one line from a client.
type Request struct {
	V      int    `json:"v"`
	Op     string `json:"op"`
	UUID   string `json:"uuid,omitempty"`
	Device string `json:"device,omitempty"` // start: the device, if the client knows it
	Owner  string `json:"owner,omitempty"`  // "global", "pacemaker:<instance>" or "service:<name>"
	// Consumer marks a start or stop from a consumer (mount, fsck,
	// ocfs2_hb_ctl without O2CB_HEARTBEAT_OWNER=global): in global mode
	// it succeeds and changes nothing, as ocfs2-tools does.
	Consumer bool `json:"consumer,omitempty"`
	Priority int  `json:"priority,omitempty"` // ioprio: real-time class level 0 (highest) to 7
	Timeout  int  `json:"timeout_ms,omitempty"`
}

// Response is the daemon's answer to one Request.
type Response struct {
	V      int           `json:"v"`
	OK     bool          `json:"ok"`
	Error  *Error        `json:"error,omitempty"`
	Note   string        `json:"note,omitempty"` // e.g. why a consumer call changed nothing
	Region *RegionStatus `json:"region,omitempty"`
	Status *Status       `json:"status,omitempty"`
	Health *Health       `json:"health,omitempty"`
}

// Error is a failed request: a code to test and a message for people.
// Region is the UUID of the region the failure is about, if one is;
// Message then does not repeat it, so that each reader can name the
// region its own way (Error in full, the agents in short).
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Region  string `json:"region,omitempty"`
}

// Error is the message, after "region <UUID>: " when it is about one.
func (e *Error) Error() string {
	if e.Region != "" {
		return "region " + e.Region + ": " + e.Message
	}
	return e.Message
}

// Is lets errors.Is match an *Error by code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// ErrCode returns an *Error to test against with errors.Is.
func ErrCode(code string) error { return &Error{Code: code} }

// Node is this node as cluster.conf names it.
type Node struct {
	Name   string `json:"name"`
	Number int    `json:"number"`
}

// Owner is one holder of a region.
type Owner struct {
	Name string `json:"name"` // "global", "pacemaker:<instance>", "service:<name>"
	Refs int    `json:"refs"` // references; 1 but for services
}

// RegionStatus is one region as status and info report it.
type RegionStatus struct {
	UUID       string `json:"uuid"`
	Device     string `json:"device"`
	BlockBytes int    `json:"block_bytes"`
	StartBlock uint64 `json:"start_block"`
	Blocks     int    `json:"blocks"`
	State      State  `json:"state"`
	Error      string `json:"error,omitempty"`
	Generation string `json:"generation,omitempty"`
	LiveNodes  []int  `json:"live_nodes"`
	// KernelLiveNodes is the kernel's own view of the region (debugfs
	// o2hb/<UUID>/livenodes), added by o2cb-ra status with the kernel
	// backend where debugfs shows it; the daemon never sets it.
	KernelLiveNodes []int   `json:"kernel_live_nodes,omitempty"`
	Owners          []Owner `json:"owners"`
	Refs            int     `json:"refs"`
	LastWriteAge    float64 `json:"last_write_age_s"` // seconds since the last completed write; -1 if none
	OwnSlotAge      float64 `json:"own_slot_age_s"`   // seconds since our slot last read back as written (an observer: last read changed, its node live); -1 if never
	WriteLatency    float64 `json:"write_latency_ms"`
	IOInFlight      float64 `json:"io_in_flight_s,omitempty"`
	ReadErrors      uint64  `json:"read_errors"`
	WriteErrors     uint64  `json:"write_errors"`
	BadBlocks       uint64  `json:"bad_blocks"`
	StaleReads      uint64  `json:"stale_reads"` // reads of our slot that returned an older block of ours
	Iterations      uint64  `json:"iterations"`
	LatenessP50     float64 `json:"lateness_p50_ms"` // how late iterations begin, over the last 256
	LatenessP99     float64 `json:"lateness_p99_ms"`
	Reads           uint64  `json:"reads"` // device calls completed
	Writes          uint64  `json:"writes"`
	BytesRead       uint64  `json:"bytes_read"`
	BytesWritten    uint64  `json:"bytes_written"`
	IOThread        int     `json:"io_thread,omitempty"`
	// Since the region was added to the daemon: heartbeats that failed
	// while running, of them those a collision stopped (another writer
	// with our node number), and the daemon's own restarts of a failed
	// region that came back steady.
	Failures   uint64 `json:"failures"`
	Collisions uint64 `json:"collisions"`
	Restarts   uint64 `json:"restarts"`
	// A failed cluster region the daemon retries by itself (global
	// mode): how many retries began since it failed, and when the next
	// is due, or that one is under way, or why the due one waits. The
	// region stays failed until a retry is steady.
	Retries      int      `json:"retries,omitempty"`
	RetryAt      string   `json:"retry_at,omitempty"`     // RFC 3339, milliseconds
	NextRetry    *float64 `json:"next_retry_s,omitempty"` // seconds until RetryAt
	Retrying     bool     `json:"retrying,omitempty"`
	RetryBlocked string   `json:"retry_blocked,omitempty"`
}

// HasOwner reports whether owner name holds r.
func (r RegionStatus) HasOwner(name string) bool {
	for _, o := range r.Owners {
		if o.Name == name {
			return true
		}
	}
	return false
}

// State is a region's state as status and info report it.
type State string

// The states of a region.
const (
	StateStarting  State = "starting"  // heartbeating, liveness not settled yet
	StateSteady    State = "steady"    // heartbeating; a start waiting for it has returned
	StateFailed    State = "failed"    // no write completed in time, or a start did not settle
	StateCollision State = "collision" // another writer uses our node number: stopped writing
	StateStopped   State = "stopped"   // stopped on request, after a clean-stop block
)

// What writes the heartbeat of the daemon's regions (Status.Backend).
const (
	BackendUserspace = "userspace" // the daemon's own writer
	BackendObserver  = "observer"  // nobody on this node: the daemon only reads
	BackendKernel    = "kernel"    // the kernel's o2hb; the daemon only reads
)

// RetryTimeFormat is the layout of RegionStatus.RetryAt.
const RetryTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// Status is the daemon's whole state as `o2cb-ra status --json` prints it.
type Status struct {
	Node          Node           `json:"node"`
	Cluster       string         `json:"cluster"`
	Mode          string         `json:"mode"`
	Backend       string         `json:"backend"` // BackendUserspace, BackendObserver or BackendKernel
	IntervalMS    int            `json:"interval_ms"`
	DeadThreshold int            `json:"dead_threshold"`
	PID           int            `json:"pid"`
	Regions       []RegionStatus `json:"regions"`
	LiveNodes     []int          `json:"live_nodes"`
	// KernelPeer, when set, is why this node stepped back: a kernel node
	// answered o2net, and a writer without o2net would hold its quorum.
	KernelPeer string `json:"kernel_peer,omitempty"`
}

// Health is the part of Status a monitor judges by, the answer to
// OpHealth: a monitor runs every few seconds on every node, and the whole
// status of 32 regions is some 20 KB of counters it would decode for
// nothing.
type Health struct {
	Node       Node           `json:"node"`
	Backend    string         `json:"backend"`
	IntervalMS int            `json:"interval_ms"`
	Regions    []RegionHealth `json:"regions"`
	KernelPeer string         `json:"kernel_peer,omitempty"`
}

// RegionHealth is one region of Health, with RegionStatus's names.
type RegionHealth struct {
	UUID       string  `json:"uuid"`
	Device     string  `json:"device"`
	State      State   `json:"state"`
	Error      string  `json:"error,omitempty"`
	LiveNodes  []int   `json:"live_nodes"`
	Owners     []Owner `json:"owners"`
	OwnSlotAge float64 `json:"own_slot_age_s"`
	IOInFlight float64 `json:"io_in_flight_s,omitempty"`
}

// HealthOf is the health part of st.
func HealthOf(st *Status) *Health {
	h := &Health{Node: st.Node, Backend: st.Backend, IntervalMS: st.IntervalMS, KernelPeer: st.KernelPeer, Regions: make([]RegionHealth, 0, len(st.Regions))}
	for _, r := range st.Regions {
		h.Regions = append(h.Regions, RegionHealth{UUID: r.UUID, Device: r.Device, State: r.State, Error: r.Error,
			LiveNodes: r.LiveNodes, Owners: r.Owners, OwnSlotAge: r.OwnSlotAge, IOInFlight: r.IOInFlight})
	}
	return h
}

// Status is h as a Status: the fields h has, the others zero.
func (h *Health) Status() *Status {
	st := &Status{Node: h.Node, Backend: h.Backend, IntervalMS: h.IntervalMS, KernelPeer: h.KernelPeer, Regions: make([]RegionStatus, 0, len(h.Regions))}
	for _, r := range h.Regions {
		st.Regions = append(st.Regions, RegionStatus{UUID: r.UUID, Device: r.Device, State: r.State, Error: r.Error,
			LiveNodes: r.LiveNodes, Owners: r.Owners, OwnSlotAge: r.OwnSlotAge, IOInFlight: r.IOInFlight})
	}
	return st
}

// AppendJSON appends r as json.Marshal writes it, byte for byte. Every
// agent action that asks the daemon something sends one request: built
// so, it does not make encoding/json build its reflection encoder first,
// a tenth of a monitor's time.
func (r Request) AppendJSON(b []byte) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, int64(r.V), 10)
	b = appendJSONString(append(b, `,"op":`...), r.Op)
	if r.UUID != "" {
		b = appendJSONString(append(b, `,"uuid":`...), r.UUID)
	}
	if r.Device != "" {
		b = appendJSONString(append(b, `,"device":`...), r.Device)
	}
	if r.Owner != "" {
		b = appendJSONString(append(b, `,"owner":`...), r.Owner)
	}
	if r.Consumer {
		b = append(b, `,"consumer":true`...)
	}
	if r.Priority != 0 {
		b = strconv.AppendInt(append(b, `,"priority":`...), int64(r.Priority), 10)
	}
	if r.Timeout != 0 {
		b = strconv.AppendInt(append(b, `,"timeout_ms":`...), int64(r.Timeout), 10)
	}
	return append(b, '}')
}

// appendJSONString appends s quoted as encoding/json quotes it: HTML
// characters, U+2028 and U+2029 escaped, invalid UTF-8 as U+FFFD.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c < 0x20 || c == '<' || c == '>' || c == '&':
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
		default:
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// WriteMessage writes v as one JSON line, refusing one of limit bytes
// or more (MaxMessageBytes for a request, MaxResponseBytes for an
// answer). A Request is written by its AppendJSON.
func WriteMessage(w io.Writer, v any, limit int) error {
	var b []byte
	if req, ok := v.(Request); ok {
		b = req.AppendJSON(make([]byte, 0, 128))
	} else {
		var err error
		if b, err = json.Marshal(v); err != nil {
			return err
		}
	}
	if len(b) >= limit {
		return fmt.Errorf("message of %d bytes exceeds the %d-byte limit", len(b), limit)
	}
	_, err := w.Write(append(b, '\n'))
	return err
}

// ErrTooLong is a line over the limit.
var ErrTooLong = errors.New("message exceeds the size limit")

// ReadMessage reads one JSON line into v, refusing a line of limit bytes
// or more (ErrTooLong, without reading it whole), unknown fields and a
// second value on the line. A monitor's answer, into a zero Response, is
// read without encoding/json where it can be (decodeAnswer).
func ReadMessage(r *bufio.Reader, v any, limit int) error {
	var line []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			if err == io.EOF && len(line) > 0 {
				break
			}
			return err
		}
		if len(line)+len(chunk) >= limit {
			return fmt.Errorf("%w (%d bytes)", ErrTooLong, limit)
		}
		line = append(line, chunk...)
		if !isPrefix {
			break
		}
	}
	if resp, ok := v.(*Response); ok && *resp == (Response{}) && decodeAnswer(line, resp) {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(line)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("malformed message: %w", err)
	}
	if dec.More() {
		return errors.New("malformed message: more than one JSON value on the line")
	}
	return nil
}

// ValidOwner checks an owner name: global, pacemaker:<instance> or
// service:<name>, printable, at most 256 bytes.
func ValidOwner(o string) error {
	if len(o) > 256 {
		return fmt.Errorf("owner name of %d bytes is too long", len(o))
	}
	for _, c := range o {
		if c < 0x20 || c == 0x7f {
			return fmt.Errorf("owner name %q has a control character", o)
		}
	}
	kind, name, _ := strings.Cut(o, ":")
	switch {
	case o == OwnerGlobal:
		return nil
	case (kind == "pacemaker" || kind == "service") && name != "":
		return nil
	}
	return fmt.Errorf("owner %q: want %q, pacemaker:<instance> or service:<name>", o, OwnerGlobal)
}

// OwnerGlobal owns the regions the cluster starts in global mode.
const OwnerGlobal = "global"

// OwnerKernel holds the regions a kernel-backend daemon observes because
// the kernel runs them (hbd's FollowKernel): not a user of the region.
const OwnerKernel = "service:kernel"
