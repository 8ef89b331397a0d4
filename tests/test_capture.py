"""labkit capture: the lab, treated as a real vCenter, is captured; the capture is replayed; vCenter's own verdict
matrix (QueryVMotionCompatibilityEx_Task) is the same before and after, pair for pair (helpers.replay_matches).

Every shipped scenario is replayed in tests/test_compat.py, in the world whose verdicts it already reads; here,
worlds changed through the API after they started (VMs powered off and
suspended, a cluster's EVC turned off, a vMotion adapter removed), which no scenario file describes."""
import json
import stat

from helpers import by_name, lab_world, replay_matches
from pyVmomi import vim

import labkit
from labkit import capture, hostconfig, scenarios
from labkit.capture import anonymise

def test_worlds_changed_through_the_api_replay(tmp_path):
    with lab_world("mixed-intel-evc") as s:
        vms, hosts = by_name(s, vim.VirtualMachine), by_name(s, vim.HostSystem)
        s.change(vms["legacy-app"], "PowerOffVM_Task")
        s.change(vms["evc-legacy"], "SuspendVM_Task")
        hostconfig.disable_evc(s, "Cluster-EVC")  # its running VMs keep the Haswell baseline they powered on with
        hostconfig.remove_vmkernel_adapter(s, hosts["old-01"], "vmk1")
        result = replay_matches(s, tmp_path)
    text = capture.to_yaml(result)
    assert "power: 'off'" in text and "power: suspended" in text and "evc:" not in text
    assert "cpuBaseline: intel-haswell" in text  # evc-app, on a Cascade Lake host, running since EVC was on


def test_anonymised_capture_names_nothing_real(tmp_path):
    with lab_world("inflight-routed") as s:
        result = capture.capture(s)
        capture.write(result, tmp_path / "estate.yaml")
        real = labkit.inventory.vms(s)["name"].tolist() + labkit.inventory.hosts(s)["name"].tolist()
    text = (tmp_path / "estate.yaml").read_text()
    mapping = json.loads((tmp_path / "estate.mapping.json").read_text())
    for name in [*real, "Lab-DC", "10.10.1.", "10.10.2.", "rack"]:
        assert name not in text
    assert stat.S_IMODE((tmp_path / "estate.mapping.json").stat().st_mode) == 0o600
    assert set(mapping["names"]["vm"].values()) | set(mapping["names"]["host"].values()) == set(real)
    # the two racks' subnets stay two subnets, each address keeps its place in its subnet
    subnets = mapping["subnets"]
    assert sorted(subnets.values()) == ["10.10.1.0/24", "10.10.2.0/24"]
    assert len(set(subnets)) == 2


def test_pseudonyms_are_stable_from_one_capture_to_the_next():
    doc = {"clusters": {"Prod": {"hosts": ["esx-b", "esx-a"]}}, "hosts": {"esx-a": {}, "esx-b": {}},
           "vms": {"db": {"host": "esx-a"}}}
    first, _, mapping = anonymise.anonymise(doc, [])
    grown = {**doc, "hosts": {**doc["hosts"], "esx-0": {}}, "vms": {**doc["vms"], "app": {"host": "esx-0"}}}
    again, _, mapping2 = anonymise.anonymise(grown, [], mapping)
    assert first["vms"] == {"vm-01": {"host": "host-01"}}
    assert again["vms"]["vm-01"] == {"host": "host-01"}  # db and esx-a keep their pseudonyms
    assert mapping2["names"]["host"] == {"host-01": "esx-a", "host-02": "esx-b", "host-03": "esx-0"}


def test_what_the_format_cannot_express_is_named(tmp_path):
    with lab_world("blocking-devices") as s:
        hosts = by_name(s, vim.HostSystem)
        hostconfig.set_mtu(s, hosts["esx-02"], "vmk1", 9000)
        hostconfig.add_port_group(s, hosts["esx-02"], "vMotion-2")
        hostconfig.add_vmkernel_adapter(s, hosts["esx-02"], "vMotion-2", mtu=1500)
        hostconfig.enable_service(s, hosts["esx-02"], "vmk2")
        result = capture.capture(s, anonymise=False)
    assert any(g.startswith("host esx-02: vMotion adapters with different MTUs (1500, 9000)") for g in result.gaps)
    path = tmp_path / "x.yaml"
    lines = capture.write(result, path)
    assert "cannot express" in "\n".join(lines) and "# The scenario format cannot express" in path.read_text()
    assert not (tmp_path / "x.mapping.json").exists()
    scenarios.compile(str(path))  # what it could say still compiles


def _url(session, password=None) -> str:
    from urllib.parse import quote

    st = session.world.state
    scheme, rest = st.url.split("://", 1)
    return f"{scheme}://{quote(st.username, safe='')}:{quote(password or st.password, safe='')}@{rest}"


def test_the_command_captures_keeps_pseudonyms_and_says_what_is_wrong(tmp_path, capsys, monkeypatch):
    from labkit import cli

    for var in ("GOVC_URL", "GOVC_USERNAME", "GOVC_PASSWORD", "GOVC_INSECURE", "GOVC_TLS_CA_CERTS"):
        monkeypatch.delenv(var, raising=False)
    out = tmp_path / "estate.yaml"
    with lab_world("healthy-cluster") as s:
        url = _url(s)
        assert cli.main(["capture", url, "-o", str(out), "--insecure"]) == 0
        first = json.loads((tmp_path / "estate.mapping.json").read_text())
        s.change(by_name(s, vim.VirtualMachine)["web-01"], "PowerOffVM_Task")
        assert cli.main(["capture", url, "-o", str(out), "--insecure"]) == 0
        assert json.loads((tmp_path / "estate.mapping.json").read_text())["names"] == first["names"]
        said = capsys.readouterr()
        assert "wrote" in said.out and "keep it local" in said.out and "labkit sim start --scenario" in said.out
        assert s.world.state.password not in out.read_text() + said.out + said.err

        assert cli.main(["capture", _url(s, "wrong"), "-o", str(out), "--insecure"]) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("labkit: ") and "Traceback" not in err and len(err.splitlines()) == 1
        assert "password" in err.lower() or "login" in err.lower()
        assert cli.main(["capture", url, "-o", str(tmp_path), "--insecure"]) == 1
        assert "is a folder" in capsys.readouterr().err
        assert cli.main(["capture", url, "-o", str(tmp_path / "new") + "/", "--insecure"]) == 1  # a folder to be
        assert "is a folder" in capsys.readouterr().err and not (tmp_path / "new").exists()
        assert cli.main(["capture", "-o", str(out)]) == 1
        assert "labkit capture https://vcenter.example.com/sdk, or set GOVC_URL" in capsys.readouterr().err
    assert scenarios.compile(str(out))["vms"]


def test_a_name_an_emitter_would_make_a_complex_key_is_written_as_a_line(tmp_path):
    """45 CJK characters and 70 accented ones (135 and 140 bytes: libyaml's emitter makes a key over 128 bytes a
    complex one, '? key : value'), within vCenter's 80: each VM keeps its line and its name through capture and
    compile."""
    names = ["\u672c" * 45, "\u00e9" * 70]
    with lab_world("healthy-cluster") as s:
        vms = sorted(by_name(s, vim.VirtualMachine).items())
        for (_, vm), name in zip(vms, names):
            s.change(vm, "Rename_Task", newName=name)
        capture.write(capture.capture(s, anonymise=False), tmp_path / "estate.yaml")
    text = (tmp_path / "estate.yaml").read_text()
    assert "? " not in text
    assert set(names) <= {v["name"] for v in scenarios.compile(str(tmp_path / "estate.yaml"))["vms"]}


def test_a_distributed_port_groups_vlan_is_kept(tmp_path):
    src = tmp_path / "dv.yaml"
    src.write_text("title: A distributed port group with a VLAN\nteaches: capture keeps the VLAN ID\n"
                   "clusters: {C: {hosts: [a, b]}}\ndatastores: {ds: {type: NFS}}\n"
                   "networks: {App: {type: distributed, switch: DSwitch, vlan: 1010, hosts: all}}\n"
                   "vms: {app-01: {host: a, datastore: ds, networks: [App]}}\n")
    with lab_world(str(src)) as s:
        result = capture.capture(s, anonymise=False)
    assert result.doc["networks"]["App"] == {"type": "distributed", "switch": "DSwitch", "vlan": 1010, "hosts": "all"}
