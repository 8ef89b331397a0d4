#!/usr/bin/env python3
"""Make datasets/scenarios/captured-estate.yaml, the estate lesson 08 audits.

    LABKIT_CACHE_DIR=... .venv/bin/python scripts/make-captured-estate.py [-o datasets/scenarios/captured-estate.yaml]

The estate is invented, with the names a real one has: a company's two production clusters of four hosts and a
stand-alone DMZ host, 46 VMs, NFS, VMFS and local datastores, standard and distributed port groups (SOURCE below).
The script starts a lab world of it, then makes it as messy as estates get through the vSphere API, where a scenario
file could not say how it came to be so:

- a host's vMotion VMkernel adapter is removed (``HostNetworkSystem.RemoveVirtualNic``), as after a NIC swap;
- four VMs are powered off (``PowerOffVM_Task``): two test VMs, a retired intranet server, a build VM.

Then it captures the world as a real vCenter is captured (:func:`labkit.capture.capture`, anonymised: names become
``host-03``, ``vm-17``, ``ds-02``, addresses move into 10.0.0.0/8) and writes the scenario. The mapping from
pseudonyms back to the invented names goes to a temporary folder and is thrown away: the course ships only the
anonymised scenario, as a learner would share only theirs.

The problems it holds, each one vCenter raises (tests/test_vmotion_checks.py, datasets/fault_guide.csv), by cost:

- cheap, one host each, made live: the host without a vMotion adapter (``VMotionNotConfigured``), an NFS
  datastore not mounted on one host (``DatastoreNotWritableOnHost``), a standard port group missing on one host
  (``CannotAccessNetwork``);
- cheap per VM, made live: ISO images connected from a host's local datastore, a CD-ROM on a host's drive
  (``CannotAccessVmDevice``);
- expensive: hosts of two CPU generations in one cluster without EVC, with VMs running on the newer baseline
  (``FeatureRequirementsNotMet``; EVC needs those VMs powered off and on), and two hosts on ESXi 7.0 U3 in that
  cluster against VMs of virtual hardware version 20 (``VirtualHardwareVersionNotSupported``; an ESXi upgrade).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import labkit  # noqa: E402
from labkit import capture, hostconfig, inventory, labapi, readonly, scenarios  # noqa: E402
from labkit.sim import worlds  # noqa: E402

# The estate before the API made it messy: a company's Hamburg datacenter. Every name is invented.
SOURCE = """\
title: Northwind Traders, Hamburg (the estate behind captured-estate; invented)
teaches: >
  The source of datasets/scenarios/captured-estate.yaml, made by scripts/make-captured-estate.py.
datacenter: DC-Hamburg
defaults:
  host: {memoryGB: 768, cores: 32, version: 8.0.2, vmotion: [vmk1]}
  vm: {datastore: nfs-prod-01, networks: [dvpg-app-1010], memoryMB: 8192, cpus: 4, version: vmx-19,
       guest: rhel8_64Guest, diskGB: 80}
clusters:
  PROD-A: {hosts: [esx-a01.hh.nwtraders.local, esx-a02.hh.nwtraders.local, esx-a03.hh.nwtraders.local,
                   esx-a04.hh.nwtraders.local], drs: true, ha: true}
  PROD-B: {hosts: [esx-b01.hh.nwtraders.local, esx-b02.hh.nwtraders.local, esx-b03.hh.nwtraders.local,
                   esx-b04.hh.nwtraders.local], drs: true, ha: true}
standalone: [esx-dmz01.hh.nwtraders.local]
hosts:
  esx-a01.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.11/24}
  esx-a02.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.12/24}
  esx-a03.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.13/24}
  esx-a04.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.14/24}
  # PROD-B grew: two Cascade Lake hosts on ESXi 7.0 U3, then two Ice Lake hosts on ESXi 8.0 U2, and no EVC
  esx-b01.hh.nwtraders.local: {cpu: intel-cascadelake, version: 7.0.3, memoryGB: 512, cores: 28, vmotionIp: 172.20.30.21/24}
  esx-b02.hh.nwtraders.local: {cpu: intel-cascadelake, version: 7.0.3, memoryGB: 512, cores: 28, vmotionIp: 172.20.30.22/24}
  esx-b03.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.23/24}
  esx-b04.hh.nwtraders.local: {cpu: intel-icelake, vmotionIp: 172.20.30.24/24}
  esx-dmz01.hh.nwtraders.local: {cpu: intel-icelake, memoryGB: 256, cores: 16, vmotionIp: 172.20.30.31/24}
datastores:
  nfs-prod-01: {type: NFS, capacityGB: 16384, hosts: [esx-a01.hh.nwtraders.local, esx-a02.hh.nwtraders.local,
                esx-a03.hh.nwtraders.local, esx-a04.hh.nwtraders.local, esx-b01.hh.nwtraders.local,
                esx-b02.hh.nwtraders.local, esx-b03.hh.nwtraders.local, esx-b04.hh.nwtraders.local]}
  # the SAP export: esx-a04 joined PROD-A after it was mounted, and nobody mounted it there
  nfs-sap-01: {type: NFS, capacityGB: 8192, hosts: [esx-a01.hh.nwtraders.local, esx-a02.hh.nwtraders.local,
               esx-a03.hh.nwtraders.local]}
  vmfs-b-gold: {type: VMFS, capacityGB: 8192, hosts: [esx-b01.hh.nwtraders.local, esx-b02.hh.nwtraders.local,
                esx-b03.hh.nwtraders.local, esx-b04.hh.nwtraders.local]}
  local-a01: {type: VMFS, capacityGB: 800, hosts: [esx-a01.hh.nwtraders.local]}
  local-dmz01: {type: VMFS, capacityGB: 1600, hosts: [esx-dmz01.hh.nwtraders.local]}
networks:
  VM Network: {type: standard, hosts: all}
  dvpg-app-1010: {type: distributed, switch: dvs-hh-prod, vlan: 1010, hosts: [esx-a01.hh.nwtraders.local,
                  esx-a02.hh.nwtraders.local, esx-a03.hh.nwtraders.local, esx-a04.hh.nwtraders.local,
                  esx-b01.hh.nwtraders.local, esx-b02.hh.nwtraders.local, esx-b03.hh.nwtraders.local,
                  esx-b04.hh.nwtraders.local]}
  dvpg-db-1020: {type: distributed, switch: dvs-hh-prod, vlan: 1020, hosts: [esx-a01.hh.nwtraders.local,
                 esx-a02.hh.nwtraders.local, esx-a03.hh.nwtraders.local, esx-a04.hh.nwtraders.local,
                 esx-b01.hh.nwtraders.local, esx-b02.hh.nwtraders.local, esx-b03.hh.nwtraders.local,
                 esx-b04.hh.nwtraders.local]}
  # the ERP's old VLAN, a standard port group made host by host; esx-b04 came later and never got it
  VLAN120-ERP: {type: standard, vlan: 120, hosts: [esx-b01.hh.nwtraders.local, esx-b02.hh.nwtraders.local,
                esx-b03.hh.nwtraders.local]}
  DMZ-Web: {type: standard, switch: vSwitch1, uplinks: [vmnic1], vlan: 300, hosts: [esx-dmz01.hh.nwtraders.local]}
vms:
  # PROD-A
  jenkins-01: {host: esx-a01.hh.nwtraders.local, devices: [{kind: cdrom, backing: iso, datastore: local-a01}]}
  git-01: {host: esx-a01.hh.nwtraders.local, devices: [{kind: cdrom, backing: iso, datastore: local-a01}]}
  build-agent-01: {host: esx-a01.hh.nwtraders.local, cpus: 8, devices: [{kind: cdrom, backing: iso, datastore: local-a01}]}
  web-shop-01: {host: esx-a01.hh.nwtraders.local, memoryMB: 4096, cpus: 2, version: vmx-21}
  sap-app-01: {host: esx-a01.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 32768, cpus: 8, guest: sles15_64Guest}
  web-shop-02: {host: esx-a02.hh.nwtraders.local, memoryMB: 4096, cpus: 2, version: vmx-21}
  mq-broker-01: {host: esx-a02.hh.nwtraders.local, memoryMB: 16384}
  crm-app-01: {host: esx-a02.hh.nwtraders.local, guest: windows2019srv_64Guest}
  sap-app-02: {host: esx-a02.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 32768, cpus: 8, guest: sles15_64Guest}
  sap-db-01: {host: esx-a02.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 131072, memoryReservationMB: 131072,
              cpus: 16, guest: sles15_64Guest, networks: [dvpg-db-1020]}
  sap-test-01: {host: esx-a02.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 16384, guest: sles15_64Guest}
  web-shop-03: {host: esx-a03.hh.nwtraders.local, memoryMB: 4096, cpus: 2, version: vmx-21}
  mq-broker-02: {host: esx-a03.hh.nwtraders.local, memoryMB: 16384}
  sql-crm-01: {host: esx-a03.hh.nwtraders.local, memoryMB: 65536, cpus: 8, guest: windows2019srv_64Guest,
               networks: [dvpg-db-1020]}
  sap-app-03: {host: esx-a03.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 32768, cpus: 8, guest: sles15_64Guest}
  sap-test-02: {host: esx-a03.hh.nwtraders.local, datastore: nfs-sap-01, memoryMB: 16384, guest: sles15_64Guest}
  intranet-old-01: {host: esx-a03.hh.nwtraders.local, version: vmx-14, guest: windows9Server64Guest}
  web-shop-04: {host: esx-a04.hh.nwtraders.local, memoryMB: 4096, cpus: 2, version: vmx-21}
  crm-app-02: {host: esx-a04.hh.nwtraders.local, guest: windows2019srv_64Guest}
  mon-prom-01: {host: esx-a04.hh.nwtraders.local, guest: ubuntu64Guest}
  mon-graf-01: {host: esx-a04.hh.nwtraders.local, memoryMB: 4096, cpus: 2, guest: ubuntu64Guest}
  # PROD-B: the ERP on the old VLAN and the file and mail servers on the Cascade Lake hosts
  erp-app-01: {host: esx-b01.hh.nwtraders.local, datastore: vmfs-b-gold, networks: [VLAN120-ERP], guest: windows2019srv_64Guest}
  erp-app-02: {host: esx-b01.hh.nwtraders.local, datastore: vmfs-b-gold, networks: [VLAN120-ERP], guest: windows2019srv_64Guest}
  license-01: {host: esx-b01.hh.nwtraders.local, memoryMB: 4096, cpus: 2, networks: [VLAN120-ERP], guest: windows2019srv_64Guest}
  fileserver-01: {host: esx-b01.hh.nwtraders.local, datastore: vmfs-b-gold, guest: windows2019srv_64Guest, diskGB: 2048}
  exchange-01: {host: esx-b01.hh.nwtraders.local, memoryMB: 65536, cpus: 8, guest: windows2019srv_64Guest}
  erp-app-03: {host: esx-b02.hh.nwtraders.local, datastore: vmfs-b-gold, networks: [VLAN120-ERP], guest: windows2019srv_64Guest}
  erp-db-01: {host: esx-b02.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 65536, cpus: 8,
              networks: [VLAN120-ERP, dvpg-db-1020], guest: windows2019srv_64Guest}
  wsus-01: {host: esx-b02.hh.nwtraders.local, memoryMB: 4096, cpus: 2, guest: windows2019srv_64Guest}
  exchange-02: {host: esx-b02.hh.nwtraders.local, memoryMB: 65536, cpus: 8, guest: windows2019srv_64Guest}
  # a document scanner's VM, with the host's optical drive connected for a licence dongle CD
  scan-01: {host: esx-b02.hh.nwtraders.local, memoryMB: 4096, cpus: 2, guest: windows2019srv_64Guest,
            devices: [{kind: cdrom, backing: host, connected: true}]}
  # on the Ice Lake hosts: Kubernetes nodes built on ESXi 8.0 (hardware version 20), the Citrix farm
  k8s-node-01: {host: esx-b03.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  k8s-node-02: {host: esx-b03.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  k8s-node-03: {host: esx-b03.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  k8s-build-01: {host: esx-b03.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 16384, version: vmx-20, guest: ubuntu64Guest}
  citrix-vda-01: {host: esx-b03.hh.nwtraders.local, memoryMB: 16384, guest: windows2019srv_64Guest}
  citrix-vda-02: {host: esx-b03.hh.nwtraders.local, memoryMB: 16384, guest: windows2019srv_64Guest}
  citrix-ddc-01: {host: esx-b03.hh.nwtraders.local, guest: windows2019srv_64Guest}
  k8s-node-04: {host: esx-b04.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  k8s-node-05: {host: esx-b04.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  k8s-node-06: {host: esx-b04.hh.nwtraders.local, datastore: vmfs-b-gold, memoryMB: 32768, cpus: 8, version: vmx-20, guest: ubuntu64Guest}
  citrix-vda-03: {host: esx-b04.hh.nwtraders.local, memoryMB: 16384, guest: windows2019srv_64Guest}
  citrix-vda-04: {host: esx-b04.hh.nwtraders.local, memoryMB: 16384, guest: windows2019srv_64Guest}
  # the DMZ host: its own disks and network, no cluster
  dmz-proxy-01: {host: esx-dmz01.hh.nwtraders.local, datastore: local-dmz01, networks: [DMZ-Web], memoryMB: 4096, cpus: 2}
  dmz-mail-01: {host: esx-dmz01.hh.nwtraders.local, datastore: local-dmz01, networks: [DMZ-Web], memoryMB: 4096, cpus: 2}
  dmz-web-01: {host: esx-dmz01.hh.nwtraders.local, datastore: local-dmz01, networks: [DMZ-Web], cpus: 2}
"""

#: what the API changes after the world starts: the host whose vMotion adapter goes, the VMs powered off
NO_VMOTION = "esx-a03.hh.nwtraders.local"
POWER_OFF = ["sap-test-01", "sap-test-02", "intranet-old-01", "k8s-build-01"]

HEADER = ("# Made by scripts/make-captured-estate.py: an invented estate started in the lab, changed through the API\n"
          "# (a vMotion adapter removed, VMs powered off), then captured with labkit capture, anonymised. Lesson 08.\n")
TITLE = "A captured estate: two clusters of four hosts and a stand-alone host, 46 VMs (anonymised)"
TEACHES = ("An enterprise estate as labkit capture reads it, names and addresses replaced by pseudonyms (scripts/"
           "make-captured-estate.py made it from an invented company's). It holds several independent problems, "
           "some fixed live with one change, some only with downtime. Lesson 08 audits it, groups the refused "
           "migrations by cause and fix, ranks the fixes by cost and by the VMs they unblock, and proves the "
           "cheapest in the lab.")


def make(target: Path) -> list[str]:
    with tempfile.TemporaryDirectory(prefix="estate-") as tmp:
        source = Path(tmp) / "northwind-hamburg.yaml"
        source.write_text(SOURCE, encoding="utf-8")
        with labkit.connect(scenario=str(source)) as s:
            hostconfig.remove_vmkernel_adapter(s, hostconfig.host(s, NO_VMOTION), "vmk1")
            for vm in POWER_OFF:
                s.change(inventory.find(s, vm, "VirtualMachine"), "PowerOffVM_Task", progress=False)
            _, mark = labapi.served_methods(s)
            result = capture.capture(s)
            called = readonly.violations(labapi.served_methods(s, since=mark)[0])
            assert called == [], f"capture called methods that change things: {called}"
        result.doc["title"], result.doc["teaches"] = TITLE, TEACHES
        lines = capture.write(result, target, mapping=Path(tmp) / "estate.mapping.json")  # the mapping stays here
    target.write_text(HEADER + target.read_text(encoding="utf-8"), encoding="utf-8")
    return [line for line in lines if "mapping" not in line]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("-o", "--output", default=str(ROOT / "datasets" / "scenarios" / "captured-estate.yaml"))
    a = p.parse_args(argv)
    target = Path(a.output)
    for line in make(target):
        print(line)
    doc = scenarios.compile(str(target))
    print(f"compiles: {len(doc['hosts'])} hosts, {len(doc['vms'])} VMs")
    return 0


if __name__ == "__main__":
    if os.environ.get("LABKIT_STATE_DIR"):
        sys.exit(main())
    with tempfile.TemporaryDirectory(prefix="labkit-estate-") as state:  # a lab world of the script's own
        os.environ["LABKIT_STATE_DIR"] = state
        code = main()
        worlds.close_all()  # its lab world ends before its state folder goes
    sys.exit(code)
