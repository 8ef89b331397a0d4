package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The scenario builder calls the vSphere API as any client does, through govmomi's objects, but inside the
// simulator's process: each call goes to the same managed object's method, under the same lock and with a
// session of the lab's user, without being written to XML, sent over HTTP and parsed back. On the 2,000-VM
// world that round trip was most of the time the world took to start (benchmarks/audit.py, "replay start").
// The lab's routing (routing.go) applies here as it does on the wire, so the build meets the same lab
// behaviour a client meets; the build's calls are not a client's, and are not in the served-method log.

type inProcess struct {
	session *simulator.Session
}

// newInProcessClient is a vim25 client, logged in as user, whose calls run in this process.
func newInProcessClient(ctx context.Context, user string) (*vim25.Client, error) {
	rt := &inProcess{session: &simulator.Session{
		UserSession: types.UserSession{Key: uuid.New().String(), UserName: user},
		Registry:    simulator.NewRegistry(),
	}}
	return vim25.NewClient(ctx, rt)
}

// RoundTrip calls the method named by request's Req type on the object named by its _this, and copies the
// method's answer into response (a fault as soap.WrapSoapFault, as the wire client gives it).
func (p *inProcess) RoundTrip(ctx context.Context, request, response soap.HasFault) (err error) {
	req := reflect.ValueOf(request).Elem().FieldByName("Req")
	method := req.Elem().Type().Name() // CreateVM_Task
	this := req.Elem().FieldByName("This").Interface().(types.ManagedObjectReference)
	if kind, ok := routed[method]; ok && this.Type == kind && simulator.Map.Get(this) != nil {
		ensureRouter(this)
		this.Type = "Lab" + kind
	}
	handler := p.session.Get(this)
	if handler == nil {
		handler = simulator.Map.Get(this)
	}
	if handler == nil {
		return soap.WrapSoapFault(simulator.Fault(fmt.Sprintf("managed object not found: %s", this),
			&types.ManagedObjectNotFound{Obj: this}))
	}
	name := strings.TrimSuffix(method, "_Task")
	if name != method {
		name += "Task"
	}
	m := reflect.ValueOf(handler).MethodByName(name)
	if !m.IsValid() {
		return soap.WrapSoapFault(simulator.Fault(fmt.Sprintf("%s does not implement: %s", this, method),
			&types.MethodNotFound{Receiver: this, Method: method}))
	}
	defer func() { // on the wire, net/http turns a method's panic into a failed call; so here, with what it said
		if r := recover(); r != nil {
			err = fmt.Errorf("%s on %s: %v", method, this, r)
		}
	}()
	if e, ok := handler.(mo.Entity); ok {
		for _, disabled := range e.Entity().DisabledMethod {
			if disabled == name {
				return soap.WrapSoapFault(simulator.Fault(fmt.Sprintf("%s method is disabled: %s", this, method),
					&types.MethodDisabled{}))
			}
		}
	}
	caller := this
	sctx := &simulator.Context{Context: ctx, Session: p.session, Map: simulator.Map, Caller: &caller}
	var args, out []reflect.Value
	if m.Type().NumIn() == 2 { // most methods take the call's context first; a few take only the request
		args = append(args, reflect.ValueOf(sctx))
	}
	args = append(args, req)
	simulator.Map.WithLock(handler, func() {
		out = m.Call(args)
	})
	res := out[0].Interface().(soap.HasFault)
	if f := res.Fault(); f != nil {
		if f.String == "" && f.Detail.Fault != nil {
			// a client reading the wire names the fault by its type when it has no message; so here
			f.String = reflect.Indirect(reflect.ValueOf(f.Detail.Fault)).Type().Name()
		}
		return soap.WrapSoapFault(f)
	}
	reflect.ValueOf(response).Elem().FieldByName("Res").Set(reflect.ValueOf(res).Elem().FieldByName("Res"))
	return nil
}
