package main

import (
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// vCenter answers RetrievePropertiesEx one page at a time: a result with a
// token means more objects wait behind ContinueRetrievePropertiesEx. The
// simulator package returns everything at once, so a client that forgets to
// page would pass here and fail on a real vCenter. This collector pages.

const defaultPageSize = 100

var (
	pageSize    = defaultPageSize
	tokenSerial int64
)

type pagingCollector struct {
	simulator.PropertyCollector

	mu    sync.Mutex
	pages map[string]pending
}

// pending is what a token stands for: the objects not yet sent, and the page
// size the client asked for in the first call.
type pending struct {
	objects []types.ObjectContent
	max     int
}

// installPagingCollector makes every session's PropertyCollector a paging one:
// the simulator builds each session's collector from the type it finds in the
// registry.
func installPagingCollector(size int) {
	pageSize = size
	pc := &pagingCollector{}
	pc.Self = serviceContent().PropertyCollector
	simulator.Map.Put(pc)
}

func (pc *pagingCollector) page(objects []types.ObjectContent, max int) *types.RetrieveResult {
	if max <= 0 {
		max = pageSize
	}
	res := &types.RetrieveResult{Objects: objects}
	if len(objects) <= max {
		return res
	}
	token := strconv.FormatInt(atomic.AddInt64(&tokenSerial, 1), 10)
	pc.mu.Lock()
	if pc.pages == nil {
		pc.pages = make(map[string]pending)
	}
	pc.pages[token] = pending{objects[max:], max}
	pc.mu.Unlock()
	res.Objects = objects[:max]
	res.Token = token
	return res
}

func (pc *pagingCollector) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	body := pc.PropertyCollector.RetrievePropertiesEx(ctx, req).(*methods.RetrievePropertiesExBody)
	if body.Res == nil || body.Res.Returnval == nil {
		return body
	}
	body.Res.Returnval = pc.page(body.Res.Returnval.Objects, int(req.Options.MaxObjects))
	return body
}

func (pc *pagingCollector) take(token string) (pending, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	p, ok := pc.pages[token]
	delete(pc.pages, token)
	return p, ok
}

func (pc *pagingCollector) ContinueRetrievePropertiesEx(req *types.ContinueRetrievePropertiesEx) soap.HasFault {
	body := &methods.ContinueRetrievePropertiesExBody{}
	p, ok := pc.take(req.Token)
	if !ok {
		body.Fault_ = simulator.Fault("unknown or finished token", &types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	body.Res = &types.ContinueRetrievePropertiesExResponse{Returnval: *pc.page(p.objects, p.max)}
	return body
}

func (pc *pagingCollector) CancelRetrievePropertiesEx(req *types.CancelRetrievePropertiesEx) soap.HasFault {
	body := &methods.CancelRetrievePropertiesExBody{}
	if _, ok := pc.take(req.Token); !ok {
		body.Fault_ = simulator.Fault("unknown or finished token", &types.InvalidArgument{InvalidProperty: "token"})
		return body
	}
	body.Res = &types.CancelRetrievePropertiesExResponse{}
	return body
}
