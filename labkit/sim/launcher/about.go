package main

import (
	"encoding/xml"
	"fmt"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/types"
)

// Which vCenter the learner talks to.
//
// The simulator package calls itself vCenter Server 6.5 whatever hosts it
// manages, and a scenario's hosts run ESXi 6.7, 7.0 U3 or 8.0 U2. vCenter
// Server must be of the same version as its hosts or newer (Broadcom KB
// 314601), so labkit picks, for each scenario, the oldest vCenter release of
// datasets/vcenter_versions.csv that may manage all of its hosts, and the
// launcher presents it: ServiceContent.about (version, build, apiVersion,
// fullName) and the API versions a client negotiates (/sdk/vimServiceVersions.xml).
// Each host's config.product comes from datasets/esxi_versions.csv (hosts.go).

type vcenterSpec struct {
	Version    string `json:"version"`
	Build      string `json:"build"`
	APIVersion string `json:"apiVersion"`
}

// presentVCenter writes the scenario's vCenter release into ServiceContent.about.
func presentVCenter(v vcenterSpec) {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	about := &si.Content.About
	about.Version = v.Version
	about.Build = v.Build
	about.ApiVersion = v.APIVersion
	about.FullName = fmt.Sprintf("VMware vCenter Server %s build-%s", v.Version, v.Build)
	about.LicenseProductVersion = licenseVersion(v.Version)
}

// licenseVersion is the license product version of a release: its major version, "8.0" for 8.0.2. The
// simulator's 6.5 templates say "6.0" for a 6.x release; later majors follow the same pattern (an inference:
// no reference page lists these values).
func licenseVersion(version string) string {
	major := strings.SplitN(version, ".", 2)[0]
	if major == "6" {
		return "6.0"
	}
	return major + ".0"
}

// serveServiceVersions answers /sdk/vimServiceVersions.xml, where pyVmomi's SmartConnect and other clients
// learn which API versions the server speaks, with the version in about.apiVersion: the simulator package
// answers with the apiVersion it had when it started.
func serveServiceVersions(w http.ResponseWriter) {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<namespaces version=\"1.0\">\n <namespace>\n  <name>urn:vim25</name>\n")
	fmt.Fprintf(&b, "  <version>%s</version>\n", si.Content.About.ApiVersion)
	b.WriteString("  <priorVersions>\n   <version>6.0</version>\n   <version>5.5</version>\n  </priorVersions>\n")
	b.WriteString(" </namespace>\n</namespaces>\n")
	w.Header().Set("Content-Type", "text/xml")
	_, _ = w.Write([]byte(b.String()))
}

// hostProduct is a host's config.product for an ESXi release: the simulator's template (name, vendor, OS type)
// with the release's version, build and API version.
func hostProduct(base types.AboutInfo, hs hostSpec) types.AboutInfo {
	p := base
	p.Version = hs.Version
	p.Build = hs.Build
	if hs.APIVersion != "" {
		p.ApiVersion = hs.APIVersion
	}
	p.FullName = fmt.Sprintf("VMware ESXi %s build-%s", hs.Version, hs.Build)
	p.LicenseProductVersion = licenseVersion(hs.Version)
	return p
}
