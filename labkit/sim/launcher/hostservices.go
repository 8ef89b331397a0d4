package main

import (
	"fmt"
	"reflect"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// A host's services and its clock, and the configuration managers the lab
// does not model.
//
// The simulator's host template lists about thirty configuration managers in
// configManager, and registers five. The lab serves, per host, a
// HostServiceSystem over the services the template's config.service lists
// (captured from a real ESXi host: DCUI, ESXi Shell, SSH, NTP Daemon, ...) and
// a HostDateTimeSystem (UTC, "ESXi uses UTC exclusively for the time zone",
// Broadcom KB 304797; no NTP server until one is set). Every other manager the
// lab does not model is left unset in configManager (each is optional in the
// API), so a client reads None there instead of a reference to an object that
// does not exist.
//
// Service calls follow the vSphere API reference (HostServiceSystem): an
// unknown service id is NotFound; starting a running service or stopping a
// stopped one is no fault on ESXi later than 4.1; a policy other than on, off
// or automatic is InvalidArgument.

type serviceSystem struct {
	mo.HostServiceSystem
	host types.ManagedObjectReference
}

type dateTimeSystem struct {
	mo.HostDateTimeSystem
	host types.ManagedObjectReference
}

// ensureHostServices registers h's service and date-time systems and unsets every configManager reference that
// names no registered object.
func ensureHostServices(h *simulator.HostSystem) {
	if ref := h.ConfigManager.ServiceSystem; ref == nil || simulator.Map.Get(*ref) == nil {
		s := &serviceSystem{host: h.Self}
		s.Self = types.ManagedObjectReference{Type: "HostServiceSystem", Value: "serviceSystem-" + h.Self.Value}
		if h.Config.Service != nil {
			s.ServiceInfo.Service = append([]types.HostService(nil), h.Config.Service.Service...)
		}
		simulator.Map.Put(s)
		h.ConfigManager.ServiceSystem = &s.Self
	}
	if ref := h.ConfigManager.DateTimeSystem; ref == nil || simulator.Map.Get(*ref) == nil {
		d := &dateTimeSystem{host: h.Self}
		d.Self = types.ManagedObjectReference{Type: "HostDateTimeSystem", Value: "dateTimeSystem-" + h.Self.Value}
		d.DateTimeInfo = types.HostDateTimeInfo{
			TimeZone:  types.HostDateTimeSystemTimeZone{Key: "UTC", Name: "UTC", Description: "UTC", GmtOffset: 0},
			NtpConfig: &types.HostNtpConfig{},
		}
		info := d.DateTimeInfo
		h.Config.DateTimeInfo = &info
		simulator.Map.Put(d)
		h.ConfigManager.DateTimeSystem = &d.Self
	}
	cm := reflect.ValueOf(&h.ConfigManager).Elem()
	for i := 0; i < cm.NumField(); i++ {
		if ref, ok := cm.Field(i).Interface().(*types.ManagedObjectReference); ok && ref != nil && simulator.Map.Get(*ref) == nil {
			cm.Field(i).Set(reflect.Zero(cm.Field(i).Type()))
		}
	}
}

func (s *serviceSystem) find(id string) (int, *soap.Fault) {
	for i := range s.ServiceInfo.Service {
		if s.ServiceInfo.Service[i].Key == id {
			return i, nil
		}
	}
	return -1, simulator.Fault(fmt.Sprintf("The host has no service %q.", id), &types.NotFound{})
}

// publish shows the services in serviceInfo and the host's config.service.
func (s *serviceSystem) publish() {
	info := types.HostServiceInfo{Service: append([]types.HostService(nil), s.ServiceInfo.Service...)}
	simulator.Map.Update(s, []types.PropertyChange{{Name: "serviceInfo", Val: info}})
	if h, ok := simulator.Map.Get(s.host).(*simulator.HostSystem); ok {
		c := info
		simulator.Map.WithLock(h, func() {
			h.Config.Service = &c
			simulator.Map.Update(h, []types.PropertyChange{{Name: "config.service", Val: &c}})
		})
	}
}

func (s *serviceSystem) setRunning(id string, running bool) *soap.Fault {
	i, f := s.find(id)
	if f != nil {
		return f
	}
	s.ServiceInfo.Service[i].Running = running
	s.publish()
	return nil
}

func (s *serviceSystem) StartService(ctx *simulator.Context, req *types.StartService) soap.HasFault {
	if f := s.setRunning(req.Id, true); f != nil {
		return &methods.StartServiceBody{Fault_: f}
	}
	return &methods.StartServiceBody{Res: &types.StartServiceResponse{}}
}

func (s *serviceSystem) StopService(ctx *simulator.Context, req *types.StopService) soap.HasFault {
	if f := s.setRunning(req.Id, false); f != nil {
		return &methods.StopServiceBody{Fault_: f}
	}
	return &methods.StopServiceBody{Res: &types.StopServiceResponse{}}
}

func (s *serviceSystem) RestartService(ctx *simulator.Context, req *types.RestartService) soap.HasFault {
	if f := s.setRunning(req.Id, true); f != nil {
		return &methods.RestartServiceBody{Fault_: f}
	}
	return &methods.RestartServiceBody{Res: &types.RestartServiceResponse{}}
}

func (s *serviceSystem) UpdateServicePolicy(ctx *simulator.Context, req *types.UpdateServicePolicy) soap.HasFault {
	i, f := s.find(req.Id)
	switch {
	case f != nil:
		return &methods.UpdateServicePolicyBody{Fault_: f}
	case req.Policy != "on" && req.Policy != "off" && req.Policy != "automatic":
		return &methods.UpdateServicePolicyBody{Fault_: simulator.Fault(
			fmt.Sprintf("%q is not a service policy (on, off or automatic).", req.Policy), &types.InvalidArgument{InvalidProperty: "policy"})}
	}
	s.ServiceInfo.Service[i].Policy = req.Policy
	s.publish()
	return &methods.UpdateServicePolicyBody{Res: &types.UpdateServicePolicyResponse{}}
}

func (s *serviceSystem) RefreshServices(ctx *simulator.Context, req *types.RefreshServices) soap.HasFault {
	return &methods.RefreshServicesBody{Res: &types.RefreshServicesResponse{}}
}

// UpdateDateTimeConfig sets the NTP servers and the time zone the spec names (HostDateTimeSystem.UpdateDateTimeConfig).
func (d *dateTimeSystem) UpdateDateTimeConfig(ctx *simulator.Context, req *types.UpdateDateTimeConfig) soap.HasFault {
	if req.Config.NtpConfig != nil {
		ntp := *req.Config.NtpConfig
		d.DateTimeInfo.NtpConfig = &ntp
	}
	if req.Config.TimeZone != "" {
		d.DateTimeInfo.TimeZone = types.HostDateTimeSystemTimeZone{Key: req.Config.TimeZone, Name: req.Config.TimeZone,
			Description: req.Config.TimeZone}
	}
	info := d.DateTimeInfo
	simulator.Map.Update(d, []types.PropertyChange{{Name: "dateTimeInfo", Val: info}})
	if h, ok := simulator.Map.Get(d.host).(*simulator.HostSystem); ok {
		simulator.Map.WithLock(h, func() {
			h.Config.DateTimeInfo = &info
			simulator.Map.Update(h, []types.PropertyChange{{Name: "config.dateTimeInfo", Val: &info}})
		})
	}
	return &methods.UpdateDateTimeConfigBody{Res: &types.UpdateDateTimeConfigResponse{}}
}

// QueryDateTime is the host's clock: the lab's hosts keep the simulator's time.
func (d *dateTimeSystem) QueryDateTime(ctx *simulator.Context, req *types.QueryDateTime) soap.HasFault {
	return &methods.QueryDateTimeBody{Res: &types.QueryDateTimeResponse{Returnval: time.Now().UTC()}}
}
