"""Pick a VM and a destination, read vCenter's diagnosis: two dropdowns over ``troubleshoot.diagnose``."""
from __future__ import annotations

import html
import http.client

import ipywidgets as w
from pyVmomi import vmodl

from .. import inventory
from ..errors import InvalidInput, LabkitError
from ..widgets import FullText


class Explorer(FullText, w.VBox):
    """Each choice asks vCenter again (``CheckRelocate_Task``, read-only), so a fix you make shows at once."""

    def __init__(self, session, vm: str | None = None, host: str | None = None):
        self.session = session
        vms, hosts = sorted(inventory.vms(session)["name"]), sorted(inventory.hosts(session)["name"])
        for name, known, what in ((vm, vms, "VM"), (host, hosts, "host")):
            if name is not None and name not in known:
                raise InvalidInput(f"There is no {what} '{name}' in this lab.", fix=f"use one of: {', '.join(known)}")
        self.vm = w.Dropdown(options=vms, value=vm or vms[0], description="VM")
        self.host = w.Dropdown(options=hosts, value=host or hosts[0], description="destination")
        self.again = w.Button(description="ask again", tooltip="check the same move again, after a change")
        self.output = w.Output()
        super().__init__(children=[w.HBox([self.vm, self.host, self.again]), self.output])
        for control in (self.vm, self.host):
            control.observe(lambda change: self.refresh(), names="value")
        self.again.on_click(lambda button: self.refresh())
        self.refresh()

    def diagnosis(self):
        from . import diagnose

        return diagnose(self.session, self.vm.value, self.host.value)

    def _text(self) -> tuple[str, str]:
        try:
            d = self.diagnosis()
        except (LabkitError, OSError, http.client.HTTPException, vmodl.MethodFault) as e:
            # a session of a lab that was reset since fails at the socket (OSError) or at login (a fault)
            why = (str(e).splitlines() or [type(e).__name__])[0]
            line = (f"Cannot ask vCenter ({why}). If the lab was reset since this explorer was made, "
                    "run its cell again.")
            return line, html.escape(line)
        return d.describe(), d._repr_html_()

    def refresh(self) -> None:
        text, html = self._text()
        self.output.outputs = ({"output_type": "display_data", "metadata": {},
                                "data": {"text/plain": text, "text/html": html}},)

    def __repr__(self) -> str:
        return f"Explorer({self.vm.value} -> {self.host.value}): " + self._text()[0].splitlines()[0]
