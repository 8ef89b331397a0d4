"""labkit audit: a read-only vMotion readiness report, end to end against lab worlds.

The audit's findings are held to labkit.compat (the same facts, the same verdicts) and to the lab's own
QueryVMotionCompatibilityEx_Task; the lab's log of served SOAP methods proves it only read; the report's three
files carry the same pairs; each bad input ends in one line that says what to do.
"""
import csv
import json
import shutil
import subprocess

import pandas as pd
import pytest
from bs4 import BeautifulSoup
from helpers import lab_world
from pyVmomi import vim, vmodl

from labkit import audit, cli, collector, compat, labapi, readonly
from labkit.audit import findings as audit_findings
from labkit.audit import readiness, reading, sample
from labkit.compat import rules

SCENARIOS = ["blocking-devices", "mixed-intel-evc", "partial-storage", "network-mismatch"]
#: the issue's allow-list: reads by name, and the session's own calls (labkit.readonly.SESSION)
ALLOWED_PREFIXES = ("Retrieve", "ContinueRetrieve", "Query", "Check", "WaitForUpdatesEx")


@pytest.fixture(scope="module")
def worlds():
    """One lab world per scenario for the whole file: the audit changes nothing, so they stay pristine."""
    opened = {name: lab_world(name) for name in SCENARIOS}
    yield opened
    for s in opened.values():
        s.close()


@pytest.fixture(scope="module")
def audits(worlds, tmp_path_factory):
    """Each world audited once, into a folder of its own."""
    return {name: audit.run(s, tmp_path_factory.mktemp(name), progress=False) for name, s in worlds.items()}


def _url(session) -> str:
    return cli._with_credentials(session.world.state)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_the_audit_agrees_with_compat_and_with_vcenter(scenario, worlds, audits):
    s, result = worlds[scenario], audits[scenario]
    # the audit's facts are labkit.compat's own
    fast, _, _ = reading.facts(s, [])
    slow = compat.fetch(s)
    for table in ("vms", "hosts", "vm_datastores", "mounts", "vm_nics", "network_hosts", "vm_devices",
                  "vmotion_vnics", "portgroups"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(slow, table), obj=table)
    # every pair: compat.matrix's verdict, and the lab's vCenter asked about each, agreeing
    mine = compat.matrix(slow)
    both = result.pairs.merge(mine, on=["vm", "host"], suffixes=("", "_compat"))
    assert len(both) == len(mine) == len(result.pairs) > 0
    assert (both["verdict"] == both["verdict_compat"]).all()
    assert [sorted(e) for e in both["errors"]] == [sorted(e) for e in both["errors_compat"]]
    assert [sorted(w) for w in both["warnings"]] == [sorted(w) for w in both["warnings_compat"]]
    theirs = compat.compare(mine, compat.vcenter(s))
    assert result.pairs["vcenter_asked"].all() and result.sample.complete
    assert list(result.pairs["agree"]) == list(theirs.sort_values(["vm", "host"])["agree"]) == [True] * len(mine)
    assert result.disagreements.empty and not result.refusals
    # each blocked or warned pair is in the findings, with labkit's faults, found by both, with a fix and a source
    bad = result.pairs[result.pairs["verdict"] != "ok"]
    assert set(zip(result.findings["vm"], result.findings["host"])) == set(zip(bad["vm"], bad["host"]))
    assert (result.findings["found_by"] == "both").all()
    assert (result.findings["fix"] != "").all() and (result.findings["source"] != "").all()


def test_blocking_devices_are_listed_with_what_they_block(audits):
    d = audits["blocking-devices"].devices.set_index("vm")
    assert sorted(d.index) == ["cd-client", "cd-host", "cd-host-unplugged", "gpu-passthrough", "serial-host"]
    assert "cd-iso" not in d.index  # its ISO is on a datastore every host mounts
    assert d.loc["cd-host", "blocked_hosts"] == ["esx-02"] and d.loc["cd-host", "fault"] == "CannotAccessVmDevice"
    assert d.loc["cd-host-unplugged", "warned_hosts"] == ["esx-02"] and not d.loc["cd-host-unplugged", "blocked_hosts"]
    assert d.loc["gpu-passthrough", "fault"] == "DisallowedMigrationDeviceAttached"
    assert d.loc["gpu-passthrough", "what"].startswith("PCI passthrough")
    assert d.loc["cd-client", "what"].endswith("a device of the vSphere Client's machine")
    assert all(d["fix"] != "") and all(d["source"].str.contains("vSphere API reference"))


def test_readiness_per_cluster_and_host(audits):
    evc = audits["mixed-intel-evc"].clusters.set_index("cluster")
    assert evc.loc["Cluster-EVC", "evcMode"] == "intel-haswell"
    assert evc.loc["Cluster-NoEVC", "evcMode"] is None
    assert evc.loc["Cluster-NoEVC", "highestCommon"] == "intel-haswell"
    assert evc.loc["Cluster-NoEVC", "hostModes"] == ["intel-cascadelake", "intel-haswell"]
    no_evc = evc.loc["Cluster-NoEVC", "issues"]
    assert [i["check"] for i in no_evc] == ["EVC"] and "FeatureRequirementsNotMet" in no_evc[0]["text"]
    assert "KB 1003212" in no_evc[0]["source"]
    storage = audits["partial-storage"].clusters.set_index("cluster").loc["Cluster-A"]
    assert storage["shared"] == ["shared-all"]
    assert storage["partial"] == {"local-03": ["esx-03"], "shared-ab": ["esx-01", "esx-02"]}
    assert storage["mtus"] == [1500] and storage["mtuConsistent"]
    net = audits["network-mismatch"].clusters.set_index("cluster")
    assert list(net.index) == ["Cluster-A", readiness.STANDALONE] and net.loc[readiness.STANDALONE, "hosts"] == ["esx-04"]
    hosts = audits["partial-storage"].hosts
    assert list(hosts["vmotion"]) == [["vmk1"]] * 3 and hosts["ready"].all()
    assert set(hosts.columns) >= {"mtus", "uplinks", "speedMb", "fullDuplex", "maxEVCModeKey"}


def test_readiness_rules_on_their_own():
    assert readiness.highest_common(["intel-cascadelake", "intel-haswell"]) == ("intel-haswell", "")
    best, why = readiness.highest_common(["intel-haswell", "amd-zen"])
    assert best is None and "AMD and Intel" in why
    assert readiness.highest_common(["intel-haswell", None])[1] == "a host reports no best EVC mode"
    assert readiness.highest_common(["intel-granite-future"])[1].startswith("not modelled")


def test_the_three_files_carry_the_same_findings(audits):
    result = audits["network-mismatch"]
    folder = result.files["report"].parent
    with open(folder / "verdicts.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["vm"], r["host"]) for r in rows] == sorted((r["vm"], r["host"]) for r in rows)
    assert len(rows) == len(result.pairs) == 16
    doc = json.loads((folder / "findings.json").read_text())
    assert set(doc) >= {"vcenter", "counts", "vcenter_verdicts", "unread", "not_checked", "clusters", "hosts",
                        "findings", "by_fault", "devices", "disagreements"}
    not_ok = {(r["vm"], r["host"]): set(filter(None, (r["errors"] + ";" + r["warnings"]).split(";")))
              for r in rows if r["verdict"] != "ok"}
    found: dict = {}
    for f in doc["findings"]:
        found.setdefault((f["vm"], f["host"]), set()).add(f["fault"])
    assert found == not_ok and found  # the same pairs, the same faults
    unplugged = [r for r in rows if r["vm"] == "web-prod-unplugged" and r["host"] == "esx-03"][0]
    assert unplugged["verdict"] == "warning" and unplugged["warnings"] == "CannotAccessNetwork"
    assert unplugged["agree"] == "true" and unplugged["vcenter_verdict"] == "warning"
    assert doc["counts"] == result.counts() and doc["counts"]["pairs"] == 16 and doc["counts"]["clusters"] == 1
    assert doc["vcenter_verdicts"]["asked"] == 16 and doc["vcenter_verdicts"]["complete"]
    # deterministic: written again, the same bytes (the HTML differs only in its generated line)
    again = report_again(result, folder.parent / "again")
    assert (again / "verdicts.csv").read_bytes() == (folder / "verdicts.csv").read_bytes()
    assert (again / "findings.json").read_bytes() == (folder / "findings.json").read_bytes()


def report_again(result, folder):
    from labkit.audit import report

    report.write(result, folder)
    return folder


def test_the_page_opens_offline_with_plotly_once(worlds, audits):
    result = audits["blocking-devices"]
    text = result.files["report"].read_text()
    page = BeautifulSoup(text, "html.parser")
    ids = {tag.get("id") for tag in page.find_all(["h2", "div", "table"])}
    assert {"readiness", "verdicts", "by-fault", "pairs", "devices", "disagreements", "sources", "heatmap",
            "per-host", "findings-table", "devices-table"} <= ids
    scripts = page.find_all("script")
    assert not [s for s in scripts if s.get("src")]  # nothing loaded from anywhere
    assert not page.find_all("link") and not [t for t in page.find_all(True)
                                              if any(str(t.get(a, "")).startswith(("http:", "https:", "//"))
                                                     for a in ("src", "href"))]
    assert text.count("plotly.js v") == 1 and sum(len(s.text) > 1_000_000 for s in scripts) == 1
    assert page.find("table", class_="sortable") is not None and "addEventListener" in scripts[-1].text
    state = worlds["blocking-devices"].world.state
    assert state.password not in text and _url(worlds["blocking-devices"]) not in text
    assert result.about["url"] in text and "@" not in result.about["url"]
    findings = page.find(id="findings-table")
    assert len(findings.find("tbody").find_all("tr")) == len(result.findings) == 5
    assert "Nowhere: the same verdicts and fault types on all 12 pairs asked." in page.find(
        id="disagreements").find_next("p").text


def test_the_audit_only_reads(worlds, tmp_path):
    """The lab logs every SOAP method it serves: around a whole audit, and the command, only reads are called."""
    s = worlds["partial-storage"]
    _, mark = labapi.served_methods(s)
    audit.run(s, tmp_path / "api", progress=False)
    called, mark = labapi.served_methods(s, since=mark)
    assert {"CreateContainerView", "RetrievePropertiesEx", "QueryVMotionCompatibilityEx_Task",
            "WaitForUpdatesEx"} <= set(called)
    _only_reads(called)

    assert cli.main(["audit", _url(s), "-o", str(tmp_path / "cli")]) == 0
    called, _ = labapi.served_methods(s, since=mark)
    assert {"Login", "Logout", "QueryVMotionCompatibilityEx_Task"} <= set(called)
    _only_reads(called)
    assert (tmp_path / "cli" / "report.html").exists()


def test_a_helper_process_reads_the_cpu_requirements_as_this_one_would(worlds, monkeypatch, capsys):
    """Many running VMs: their CPU requirements are read in a helper process (spawned; the session's cookie on a
    connection of its own) while the audit reads the rest. The same facts as labkit.compat.fetch's, only reads
    served, and when the helper fails (here: a cookie vCenter does not know), the same facts read here, said in the
    timings only."""
    from labkit import readhelper

    if readhelper.cores() < 2:
        pytest.skip("the helper is used on two cores or more")
    s = worlds["mixed-intel-evc"]
    monkeypatch.setattr(reading, "HELPER_MIN_VMS", 1)
    slow = compat.fetch(s)
    _, mark = labapi.served_methods(s)
    timings: dict = {}
    fast, _, _ = reading.facts(s, [], None, timings)
    called, _ = labapi.served_methods(s, since=mark)
    assert list(timings) == ["read (helper process)"] and "Login" not in called and "Logout" not in called
    _only_reads(called)
    assert called.count("RetrievePropertiesEx") == 4  # here: inventory, devices; the helper: running VMs, requirements
    for table in ("vms", "hosts", "vm_devices", "vm_nics"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(slow, table), obj=table)
    assert fast.vms["requirements"].notna().all()

    real = readhelper._login
    monkeypatch.setattr(readhelper, "_login", lambda session: {**real(session), "cookie": 'vmware_soap_session="0"'})
    refusals: list = []
    timings = {}
    fast, _, _ = reading.facts(s, refusals, None, timings)
    assert list(timings) == ["read (helper process failed; read here)"] and not refusals
    for table in ("vms", "hosts", "vm_devices", "vm_nics"):
        pd.testing.assert_frame_equal(getattr(fast, table), getattr(slow, table), obj=table)
    assert capsys.readouterr() == ("", "")
    assert s.content.sessionManager.currentSession is not None  # neither helper logged the session out


def _only_reads(called):
    assert readonly.violations(called) == []
    strict = [m for m in called if not (m.startswith(ALLOWED_PREFIXES) or m in readonly.SESSION)]
    assert strict == [], strict


def test_a_sample_when_vcenter_cannot_be_asked_about_every_pair(worlds, tmp_path):
    s = worlds["partial-storage"]  # 3 VMs x 3 hosts, each VM a profile of its own
    result = audit.run(s, tmp_path, progress=False, vcenter_pairs=6)
    assert result.sample.pairs == 6 and not result.sample.complete and result.sample.covered == 2
    assert result.sample.vms == ["app-ab", "app-local"]  # the VMs with problems first
    asked = result.pairs[result.pairs["vcenter_asked"]]
    assert len(asked) == 6 and asked["agree"].all()
    assert result.pairs.loc[~result.pairs["vcenter_asked"], "agree"].isna().all()
    assert "asked about 6 of 9 pairs" in result.vcenter_summary()["how"]
    with open(tmp_path / "verdicts.csv", newline="") as f:
        unasked = [r for r in csv.DictReader(f) if r["vm"] == "app-all"]
    assert {r["agree"] for r in unasked} == {""} and {r["vcenter_asked"] for r in unasked} == {"false"}
    none = audit.collect(s, progress=False, vcenter_pairs=0)
    assert not none.pairs["vcenter_asked"].any() and none.sample.vms == []


def test_profiles_tell_apart_what_the_rules_read(worlds):
    facts = compat.fetch(worlds["blocking-devices"])
    prof = sample.profiles(facts)
    assert prof.nunique() == len(facts.vms) == 6  # each VM's devices differ
    twins = facts.vms.assign(vm=["a", "b", "c", "d", "e", "f"])
    assert sample.profiles(facts.__class__(**{**facts.__dict__, "vms": twins,
                                              "vm_devices": facts.vm_devices.iloc[0:0],
                                              "vm_datastores": facts.vm_datastores.iloc[0:0],
                                              "vm_nics": facts.vm_nics.iloc[0:0]})).nunique() == 1


def test_a_disagreement_is_shown_as_such(worlds, tmp_path, monkeypatch):
    """With labkit's storage rule taken away, vCenter's DatastoreNotWritableOnHost is vCenter's alone."""
    monkeypatch.setattr(rules, "RULES", tuple(r for r in rules.RULES if r.name != "storage"))
    result = audit.run(worlds["partial-storage"], tmp_path, progress=False)
    d = result.disagreements
    assert len(d) == 3 and set(d["vcenter_errors"].map(tuple)) == {("DatastoreNotWritableOnHost",)}
    assert d["note"].str.startswith("not explained").all()
    mine = result.findings[result.findings["found_by"] == "vcenter"]
    assert len(mine) == 3 and set(mine["check"]) == {"vCenter"} and (mine["fix"] != "").all()
    page = result.files["report"].read_text()
    assert "vCenter disagrees" in page  # the ✕ trace of the heatmap
    table = BeautifulSoup(page, "html.parser").find(id="disagreements-table")
    assert len(table.find("tbody").find_all("tr")) == 3


def test_findings_explain_documented_differences():
    table = pd.DataFrame([
        {"vm": "off", "host": "h", "power_state": "poweredOff", "verdict": "ok", "errors": [], "warnings": [],
         "vcenter_asked": True, "vcenter_verdict": "blocked", "vcenter_errors": ["VMotionNotConfigured"],
         "vcenter_warnings": [], "vcenter_messages": "", "agree": False},
        {"vm": "on", "host": "m", "power_state": "poweredOn", "verdict": "blocked", "errors": ["InvalidState"],
         "warnings": [], "vcenter_asked": True, "vcenter_verdict": "ok", "vcenter_errors": [],
         "vcenter_warnings": [], "vcenter_messages": "", "agree": False},
    ])
    notes = audit_findings.disagreements(table)["note"]
    assert notes[0].startswith("QueryVMotionCompatibilityEx_Task assumes every VM powered on")
    assert "the VM, poweredOff," in notes[0] and "the host as it is" in notes[1]


# -- bad input, one line each ------------------------------------------------------------------------------------
def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


def test_a_malformed_or_unreachable_url(tmp_path, capsys):
    assert cli.main(["audit", "https://vc:notaport/sdk", "-o", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert line.startswith("labkit: ") and "invalid port" in line
    assert cli.main(["audit", "https://u:p@no-such-vcenter.invalid/sdk", "-o", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert line.startswith("labkit: The host name 'no-such-vcenter.invalid' cannot be resolved.")
    assert "Fix:" in line and not list(tmp_path.iterdir())  # nothing written


def test_a_wrong_password_and_an_untrusted_certificate(extra_sim, tmp_path, capsys):
    """A vCenter labkit does not run (the simulator on its own, user alice): its certificate is verified. With the
    simulator's built-in certificate (a 1,024-bit key OpenSSL refuses whatever the CA) the fix is a new certificate
    or --insecure; with a self-signed 2,048-bit one, --cafile with it is the fix, and works."""
    e = extra_sim()
    where = e.url.split("://", 1)[1]
    assert cli.main(["audit", f"https://alice:s3cret@{where}", "-o", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert "is not trusted (EE certificate key too weak)" in line and "replace the vCenter's certificate" in line
    assert "--insecure" in line and "--cafile" not in line and "s3cret" not in line
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    strong = extra_sim("-tlscert", str(cert), "-tlskey", str(key)).url.split("://", 1)[1]
    assert cli.main(["audit", f"https://alice:s3cret@{strong}", "-o", str(tmp_path / "r")]) == 1
    line = _one_line(capsys)
    assert "is not trusted (self-signed certificate)" in line and "--cafile" in line and "--insecure" in line
    assert cli.main(["audit", f"https://alice:s3cret@{strong}", "-o", str(tmp_path / "r"), "--cafile", str(cert)]) == 0
    capsys.readouterr()
    assert cli.main(["audit", f"https://alice:wrong@{where}", "-o", str(tmp_path), "--insecure"]) == 1
    line = _one_line(capsys)
    assert "rejected the user name or password for 'alice'" in line and "wrong" not in line
    assert cli.main(["audit", f"https://alice:s3cret@{where}", "-o", str(tmp_path), "--insecure"]) == 0
    out = capsys.readouterr().out
    assert "pairs:" in out and (tmp_path / "findings.json").exists()


def _no_permission(privilege="System.View", obj=None):
    return vim.fault.NoPermission(privilegeId=privilege, object=obj, msg="Permission to perform this operation "
                                                                         "was denied.")


def test_lack_of_privilege_is_reported_and_the_audit_goes_on(worlds, tmp_path, capsys, monkeypatch):
    """The lab does not model roles and privileges: a refusal is simulated by making the refused call raise
    NoPermission, as vCenter does for a user without the privilege the method requires."""
    s = worlds["partial-storage"]
    checker = vim.vm.check.ProvisioningChecker("ProvChecker")

    def refused(self, **kwargs):
        raise _no_permission(obj=checker)

    monkeypatch.setattr(vim.vm.check.ProvisioningChecker, "QueryVMotionCompatibilityEx_Task", refused)
    assert cli.main(["audit", _url(s), "-o", str(tmp_path)]) == 0
    line = _one_line(capsys)
    assert line == ("labkit audit: could not read vCenter's own verdicts (QueryVMotionCompatibilityEx_Task): the user "
                    "lacks privilege System.View on VirtualMachineProvisioningChecker:ProvChecker; the report shows "
                    "labkit's rules alone, without vCenter's verdicts")
    doc = json.loads((tmp_path / "findings.json").read_text())
    assert [u["step"] for u in doc["unread"]] == ["vcenter"] and doc["vcenter_verdicts"]["asked"] == 0
    assert all(f["vcenter_verdict"] is None for f in doc["findings"]) and len(doc["findings"]) == 3
    page = BeautifulSoup((tmp_path / "report.html").read_text(), "html.parser")
    assert "lacks privilege System.View" in page.find(id="unread").text
    assert "vCenter's verdicts were not read" in page.find(id="disagreements").find_next("p").text


PC = vmodl.query.PropertyCollector


def _patch(monkeypatch, *, refuse=None, withhold=()):
    """pyVmomi's PropertyCollector as vCenter answers a user without some privileges (the lab models none):
    RetrievePropertiesEx raises ``refuse(specs)`` when that gives a fault, and every page (ContinueRetrievePropertiesEx
    too) answers with the properties ``withhold`` names moved from ``propSet`` to ``missingSet``, each with the
    NoPermission for System.Read that vCenter gives (pyVmomi hands the LocalizedMethodFault over as its fault)."""
    first, more = PC.RetrievePropertiesEx, PC.ContinueRetrievePropertiesEx  # pyVmomi's own (ManagedMethod)

    def withheld(result):
        for oc in (result.objects if result is not None else []):
            gone = [p.name for p in oc.propSet if p.name in withhold]
            if gone:
                oc.propSet = [p for p in oc.propSet if p.name not in withhold]
                oc.missingSet = [PC.MissingProperty(path=path, fault=vim.fault.NoPermission(
                    privilegeId="System.Read", msg="Permission to perform this operation was denied."))
                    for path in gone]
        return result

    def retrieve(pc, specs, options):
        fault = refuse(specs) if refuse else None
        if fault is not None:
            raise fault
        return withheld(first.__get__(pc, PC)(specs, options))

    monkeypatch.setattr(PC, "RetrievePropertiesEx", retrieve)
    monkeypatch.setattr(PC, "ContinueRetrievePropertiesEx", lambda pc, token: withheld(more.__get__(pc, PC)(token)))


def test_a_refused_read_of_devices_leaves_their_checks_out(worlds, monkeypatch):
    s = worlds["blocking-devices"]

    def devices_only(specs):
        if specs[0].propSet[0].pathSet == [reading.DEVICES]:
            return _no_permission("System.Read", vim.VirtualMachine("vm-27"))

    _patch(monkeypatch, refuse=devices_only)
    result = audit.collect(s, progress=False)
    assert [r.step for r in result.refusals] == ["devices"]
    assert result.not_checked == ["device images", "devices", "networks", "virtual intranet"]
    assert "lacks privilege System.Read on VirtualMachine:vm-27" in result.refusals[0].line()
    assert result.devices.empty  # nothing read, nothing claimed
    # vCenter still read the devices: each pair they block or warn on is shown as a disagreement
    assert len(result.disagreements) == 5 and (result.pairs["verdict"] == "ok").all()


def test_withheld_properties_are_named_and_their_check_left_out(worlds, audits, monkeypatch):
    """vCenter may answer a read but withhold a property the user may not read (ObjectContent.missingSet, a
    SecurityError): here every running VM's CPU feature requirement."""
    _patch(monkeypatch, withhold={"runtime.featureRequirement"})
    result = audit.collect(worlds["mixed-intel-evc"], progress=False)
    assert [r.step for r in result.refusals] == ["requirements"] and result.not_checked == ["CPU"]
    assert result.refusals[0].fault == "NoPermission" and "withheld runtime.featureRequirement of 4 VM(s)" in \
        result.refusals[0].line()
    assert result.facts.vms["requirements"].isna().all()
    # vCenter still checked the CPU: each pair it blocks for it is a disagreement, labkit's rules having said ok
    cpu = audits["mixed-intel-evc"].findings.query("fault == 'FeatureRequirementsNotMet'")
    d = result.disagreements
    assert list(zip(d["vm"], d["host"])) == list(zip(cpu["vm"], cpu["host"])) and len(d) == 3
    assert set(d["vcenter_errors"].map(tuple)) == {("FeatureRequirementsNotMet",)} and set(d["verdict"]) == {"ok"}


def test_collector_lists_withheld_properties_and_counts_objects(worlds, monkeypatch):
    """labkit.collector's ``missing`` and ``progress``, paged: a host property withheld in the inventory read is
    named per object, and the audit reports it as the step ``withheld``."""
    s = worlds["partial-storage"]
    _patch(monkeypatch, withhold={"config.product.version"})
    missing, seen = [], []
    got = collector.retrieve(s.content, {vim.HostSystem: ["name", "config.product.version"], vim.Datastore: ["name"]},
                             page_size=2, missing=missing, progress=seen.append)
    hosts = got[vim.HostSystem]
    assert len(hosts) == 3 and all("config.product.version" not in p and p["name"] for _, p in hosts)
    assert sorted(missing) == sorted((f"HostSystem:{o._moId}", "config.product.version", "NoPermission")
                                     for o, _ in hosts)
    assert sorted(o._moId for o in seen) == sorted(o._moId for t in got for o, _ in got[t])
    names = {o._moId: p["name"] for o, p in hosts}  # without the new options: as before
    assert {o._moId: p["name"] for o, p in collector.retrieve(s.content, {vim.HostSystem: ["name"]})[vim.HostSystem]} \
        == {o._moId: p["name"] for o, p in collector.retrieve_objects(s.content, [o for o, _ in hosts], ["name"])} \
        == names
    result = audit.collect(s, progress=False, vcenter_pairs=0)
    assert [r.step for r in result.refusals] == ["withheld"] and result.refusals[0].fault == "NoPermission"
    assert "vCenter withheld config.product.version of 3 object(s)" in result.refusals[0].line()
    assert result.facts.hosts["version"].isna().all()


def test_a_refused_inventory_is_one_line(worlds, tmp_path, capsys, monkeypatch):
    """The command opens a session of its own: its PropertyCollector refuses the inventory read over a
    ContainerView, as vCenter does for a user without System.View on the root folder."""
    def inventory(specs):
        if isinstance(specs[0].objectSet[0].obj, vim.view.ContainerView):
            return _no_permission(obj=vim.Folder("group-d1"))

    _patch(monkeypatch, refuse=inventory)
    assert cli.main(["audit", _url(worlds["mixed-intel-evc"]), "-o", str(tmp_path)]) == 1
    line = _one_line(capsys)
    assert line.startswith("labkit: Could not read the inventory: the user lacks privilege System.View on "
                           "Folder:group-d1") and "Fix: give the user a role with System.View and System.Read" in line
    shutil.rmtree(tmp_path)
