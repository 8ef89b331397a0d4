package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Each lab host keeps a vmkernel log, read the way ESXi's logs are read through vCenter: DiagnosticManager.
// QueryDescriptions lists a host's logs and BrowseDiagnosticLog returns a range of lines (vSphere API reference,
// DiagnosticManager). The lab writes only its migration lines there, in its own words and one key=value form
// that labkit.hostlog parses; they carry the facts ESXi's vMotion lines carry (the migration id on both hosts,
// each pre-copy iteration's pages sent and dirtied, the switchover time, the reason of a failure; Broadcom KB
// 436882, "Understanding vMotion logging" facts as read, see notebooks/sources.md). Every time in a line is
// simulated: `sim` is the lab clock in simulated seconds since the lab started.

const (
	vmkernelKey  = "vmkernel"
	hostLogLimit = 20000 // lines kept per host; older lines roll off, as a rotated log does
	browseMax    = 500   // lines one BrowseDiagnosticLog call returns at most
)

type hostLog struct {
	mu    sync.Mutex
	first int // the line number of lines[0] (from 1)
	lines []string
}

var hostLogs sync.Map // types.ManagedObjectReference -> *hostLog

// labStart is when the lab world started; simNow reads the lab clock in simulated seconds.
var labStart = time.Now()

func simNow() float64 { return time.Since(labStart).Seconds() * lab.timeScale }

func logOf(h types.ManagedObjectReference) *hostLog {
	l, _ := hostLogs.LoadOrStore(h, &hostLog{first: 1})
	return l.(*hostLog)
}

// logLine appends one line to a host's vmkernel log: the lab clock, the writer ("vmotion") and key=value
// facts. A value with spaces is quoted.
func logLine(h types.ManagedObjectReference, facts ...interface{}) {
	var b strings.Builder
	fmt.Fprintf(&b, "sim=%.3f vmotion", simNow())
	for i := 0; i+1 < len(facts); i += 2 {
		v := fmt.Sprint(facts[i+1])
		if f, ok := facts[i+1].(float64); ok {
			v = number(fmt.Sprint(facts[i]), f)
		}
		if strings.ContainsAny(v, " \"=") || v == "" {
			v = fmt.Sprintf("%q", v)
		}
		fmt.Fprintf(&b, " %s=%s", facts[i], v)
	}
	l := logOf(h)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, b.String())
	if over := len(l.lines) - hostLogLimit; over > 0 {
		l.lines = append([]string(nil), l.lines[over:]...)
		l.first += over
	}
}

// number writes a figure: pages whole, large figures to 0.1, others to 6 significant digits, never in
// exponent form.
func number(key string, f float64) string {
	switch {
	case strings.HasSuffix(key, "pages"):
		return strconv.FormatFloat(math.Round(f), 'f', 0, 64)
	case f == math.Trunc(f) && math.Abs(f) < 1e15:
		return strconv.FormatFloat(f, 'f', 0, 64)
	case math.Abs(f) >= 1000:
		return strconv.FormatFloat(f, 'f', 1, 64)
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}

type diagnosticManager struct {
	mo.DiagnosticManager
}

func (m *diagnosticManager) Reference() types.ManagedObjectReference { return m.Self }

// installDiagnosticManager registers the service content's DiagnosticManager in place of the engine's, which
// serves none of its methods.
func installDiagnosticManager() {
	ref := serviceContent().DiagnosticManager
	if ref == nil {
		return
	}
	if old := simulator.Map.Get(*ref); old != nil { // the engine's placeholder, which serves no method
		simulator.Map.Remove(*ref)
	}
	m := &diagnosticManager{}
	m.Self = *ref
	simulator.Map.Put(m)
}

func vmkernelDescriptor() types.DiagnosticManagerLogDescriptor {
	return types.DiagnosticManagerLogDescriptor{Key: vmkernelKey, FileName: "/var/log/vmkernel.log", Creator: "vmkernel",
		Format: "plain", MimeType: "text/plain",
		Info: &types.Description{Label: "VMkernel", Summary: "The lab host's VMkernel log: its vMotion lines"}}
}

// logHost finds the host a call names. vCenter's own logs (no host) are not modelled.
func logHost(ref *types.ManagedObjectReference) (*simulator.HostSystem, *soap.Fault) {
	if ref == nil {
		return nil, notModelled("vCenter Server's own logs (a call without a host)")
	}
	h, f := getHost(ref)
	if f != nil {
		return nil, simulator.Fault(f.LocalizedMessage, f.Fault)
	}
	return h, nil
}

// QueryDescriptions lists the logs of a host: the lab keeps its vmkernel log.
func (m *diagnosticManager) QueryDescriptions(req *types.QueryDescriptions) soap.HasFault {
	body := &methods.QueryDescriptionsBody{}
	if _, f := logHost(req.Host); f != nil {
		body.Fault_ = f
		return body
	}
	body.Res = &types.QueryDescriptionsResponse{Returnval: []types.DiagnosticManagerLogDescriptor{vmkernelDescriptor()}}
	return body
}

// BrowseDiagnosticLog returns up to `lines` lines of a host's log from line `start`, counted from 1; without a
// start (or with one below 1, as govc asks for the last lines of a short log), from the top of the log; without lines, to its end (API reference, DiagnosticManager.
// BrowseDiagnosticLog). One call returns at most browseMax lines, and a start past the end returns none, with
// lineEnd still the log's last line, as govc's paging of vCenter's logs expects (govmomi object/diagnostic_log.go:
// "VC max == 500"). A key the host does not list is InvalidArgument ("if the key refers to a nonexistent log
// file").
func (m *diagnosticManager) BrowseDiagnosticLog(req *types.BrowseDiagnosticLog) soap.HasFault {
	body := &methods.BrowseDiagnosticLogBody{}
	h, f := logHost(req.Host)
	if f != nil {
		body.Fault_ = f
		return body
	}
	if req.Key != vmkernelKey {
		body.Fault_ = simulator.Fault(fmt.Sprintf("There is no log %q on %s: QueryDescriptions lists its logs.", req.Key, h.Name),
			&types.InvalidArgument{InvalidProperty: "key"})
		return body
	}
	if req.Lines < 0 {
		body.Fault_ = simulator.Fault("lines cannot be negative.", &types.InvalidArgument{InvalidProperty: "lines"})
		return body
	}
	if h.Runtime.ConnectionState != types.HostSystemConnectionStateConnected {
		body.Fault_ = simulator.Fault(fmt.Sprintf("%s is %s: vCenter cannot read its logs.", h.Name, h.Runtime.ConnectionState),
			&types.HostNotConnected{})
		return body
	}
	l := logOf(h.Self)
	l.mu.Lock()
	defer l.mu.Unlock()
	last := l.first + len(l.lines) - 1 // the last line's number
	from := int(req.Start)
	if from < l.first {
		from = l.first
	}
	to := last
	if req.Lines > 0 && from+int(req.Lines)-1 < to {
		to = from + int(req.Lines) - 1
	}
	if to-from+1 > browseMax {
		to = from + browseMax - 1
	}
	header := types.DiagnosticManagerLogHeader{LineStart: int32(from), LineEnd: int32(last)}
	if to >= from {
		header.LineEnd = int32(to)
		header.LineText = append([]string(nil), l.lines[from-l.first:to-l.first+1]...)
	}
	body.Res = &types.BrowseDiagnosticLogResponse{Returnval: header}
	return body
}
