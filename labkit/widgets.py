"""ipywidgets explorers. Each one drives a plain function that tests and
printed lines can call too, since nbval never compares widget views.

An explorer writes its view straight into an ``Output`` widget's ``outputs``
instead of capturing ``display()`` calls: that behaves the same in JupyterLab,
under nbclient and under nbval, and leaves no ``clear_output`` frames behind.

The helpers the lessons' explorers share live here too:

* :class:`ValueSlider`, a slider that starts exactly at the value the code gave
  it and reads it out as given (``FloatSlider`` and ``FloatLogSlider`` snap it
  to their step in the browser: 100 GiB on a log slider showed 90.5);
* :func:`number` and :func:`mib_text`, the readouts' words;
* :class:`FullText`, which shows an explorer's summary line in full, wrapped,
  where ipywidgets cuts it at 110 characters with "…";
* :func:`table_html`, a table with every text cell in full, wrapping at word
  boundaries, and :func:`show_tables_in_full`, which makes IPython show every
  DataFrame's long text that way (pandas cuts it at ``display.max_colwidth``).
"""
from __future__ import annotations

import decimal
import math
import numbers
import textwrap
from collections.abc import Callable, Iterable

import ipywidgets as w
import pandas as pd
from traitlets import validate

#: Text cells wrap at word boundaries, never mid-word, and are never cut.
WRAP_STYLE = "white-space: normal; word-break: normal; overflow-wrap: normal"
#: The width a long summary line of an explorer is wrapped to in its text form.
TEXT_WIDTH = 100


class FullText:
    """Mix into a widget: its text form is its whole ``repr``, wrapped at word boundaries.

    ipywidgets cuts a widget's text form at 110 characters with "…", mid-word; an
    explorer's summary is the one line a reader of the saved lesson gets.
    """

    def _repr_mimebundle_(self, **kwargs):
        data = super()._repr_mimebundle_(**kwargs)
        if data is not None:
            data["text/plain"] = wrap_text(repr(self))
        return data


def wrap_text(text: str, width: int = TEXT_WIDTH) -> str:
    """``text`` wrapped at word boundaries, never cut; continuation lines indented."""
    return "\n".join(textwrap.fill(line, width=width, subsequent_indent="    ", break_long_words=False,
                                   break_on_hyphens=False) for line in text.splitlines())


class Explorer(FullText, w.VBox):
    """A control above an output area; shows a one-line repr in text form."""

    def __init__(self, control: w.ValueWidget, render: Callable[[object], object]):
        self.control = control
        self.render = render
        self.output = w.Output()
        super().__init__(children=[control, self.output])
        control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def refresh(self) -> None:
        self.output.outputs = (_bundle(self.render(self.control.value)),)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.control.description}={self.control.value!r})"


class ControlPanel(FullText, w.VBox):
    """Controls above a summary line and an output area; any control's change calls ``refresh``.

    A subclass builds its controls (name -> widget), calls :meth:`_wire` with them, and defines ``refresh``.
    """

    def _wire(self, controls: dict[str, w.ValueWidget]) -> None:
        self.controls = controls
        self.summary = w.HTML()
        self.output = w.Output()
        w.VBox.__init__(self, children=[*controls.values(), self.summary, self.output])
        for control in controls.values():
            control.observe(lambda change: self.refresh(), names="value")
        self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


def _bundle(obj) -> dict:
    if isinstance(obj, pd.DataFrame):  # every cell in full: a table the explorer shows is read, not skimmed
        return {"output_type": "display_data", "metadata": {},
                "data": {"text/plain": obj.to_string(), "text/html": table_html(obj, index=True)}}
    data = {"text/plain": repr(obj) if not isinstance(obj, str) else obj}
    if hasattr(obj, "_repr_html_"):
        data["text/html"] = obj._repr_html_()
    return {"output_type": "display_data", "data": data, "metadata": {}}


def vms_on_host(vms: pd.DataFrame, host: str) -> pd.DataFrame:
    """The VMs that run on ``host``, with the columns a vMotion lesson looks at."""
    cols = ["name", "powerState", "memoryMB", "numCPU", "datastore", "network"]
    return vms.loc[vms["host"] == host, cols].reset_index(drop=True)


def host_explorer(vms: pd.DataFrame) -> Explorer:
    """Pick a host, see its VMs."""
    hosts = sorted(h for h in vms["host"].dropna().unique())
    return Explorer(w.Dropdown(options=hosts, description="host"), lambda host: vms_on_host(vms, host))


# -- numbers as a learner reads them ------------------------------------------------------------------------------
def number(x, decimals: int | None = None) -> str:
    """``x`` as the shortest text that reads back as exactly ``x``: 16384, 0.12, 0.125, 1.5.

    With ``decimals``, padded to that many when that is still exact (0.10 on a grid of 0.05 steps).
    A readout must never round: the value behind it is what the model gets.
    """
    if isinstance(x, numbers.Integral) and not isinstance(x, bool):
        return f"{int(x)}.{'0' * decimals}" if decimals else str(int(x))
    x = float(x)
    if decimals is not None and math.isfinite(x):
        text = f"{x:.{decimals}f}"
        if float(text) == x:
            return text
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def rounded(x, digits: int = 3) -> str:
    """``x`` to ``digits`` significant digits for reading (never 1.4000000000000001); whole numbers stay whole."""
    x = float(x)
    if not math.isfinite(x):
        return str(x)
    if x.is_integer() and abs(x) < 1e15:
        return f"{int(x):,}" if abs(x) >= 10_000 else str(int(x))
    return f"{x:.{digits}g}" if abs(x) < 10 ** digits else f"{x:,.0f}"


def mib_text(mib) -> str:
    """An amount of memory in the unit that says it exactly and briefly: ``3 GiB`` for 3072 MiB, ``1000 MiB``."""
    gib = float(mib) / 1024  # dividing by a power of two is exact
    if abs(float(mib)) >= 1024 and float(f"{gib:.2f}") == gib:
        return f"{number(gib)} GiB"
    return f"{number(mib)} MiB"


def _decimals(x) -> int:
    exponent = decimal.Decimal(repr(float(x))).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def linear_grid(lo, hi, step) -> list:
    """``lo``, ``lo + step`` … up to ``hi``, each the exact decimal (0.3, not 0.30000000000000004).

    Whole-number arguments give ints.
    """
    if all(isinstance(v, numbers.Integral) for v in (lo, hi, step)):
        return list(range(int(lo), int(hi) + 1, int(step)))
    d_lo, d_hi, d_step = (decimal.Decimal(repr(float(v))) for v in (lo, hi, step))
    count = int((d_hi - d_lo) / d_step)
    return [float(d_lo + k * d_step) for k in range(count + 1)]


def binary_grid(lo, hi, mantissas: Iterable[float] = (1, 1.5)) -> list[float]:
    """The sizes ``m · 2^k`` between ``lo`` and ``hi`` (1, 1.5, 2, 3, 4, 6, 8 …): even steps on a log scale,
    each one exact in binary, so a size in MiB shown in GiB stays exact."""
    out = []
    k = math.floor(math.log2(lo)) - 1
    while 2.0 ** k <= hi:
        out += [m * 2.0 ** k for m in mantissas if lo <= m * 2.0 ** k <= hi]
        k += 1
    return sorted(set(out))


# -- a slider that holds the value it is given ---------------------------------------------------------------------
def _is_number(v) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool) and math.isfinite(float(v))


class ValueSlider(w.SelectionSlider):
    """A slider over a grid of numbers that starts at exactly the value it is given, and reads it out exactly.

    ``grid`` is where the handle stops; ``value`` joins it when it is not on it, so
    ``ValueSlider(100, binary_grid(4, 16384))`` starts at 100, not at the grid's 96 or
    128 (a ``FloatLogSlider`` would show 90.5). Setting ``value`` later to a number off
    the grid adds it too. ``text`` turns a value into its readout (:func:`number` by
    default, with as many decimals as the grid's step).

    The handle moves by index and the readout is the option's own label, so the browser
    never rounds, snaps or reformats a value.
    """

    def __init__(self, value, grid: Iterable, *, text: Callable[[object], str] | None = None, **kwargs):
        grid = list(grid)
        if not _is_number(value):
            raise ValueError(f"a slider needs a finite number, not {value!r}")
        if text is None:
            places = max((_decimals(v) for v in grid), default=0)
            def text(v, places=places):
                return number(v, places)
        self._text = text
        values = self._merged(grid, value)
        # by index: given value= that is the first option, ipywidgets leaves the label empty
        super().__init__(options=self._options_for(values), index=next(i for i, v in enumerate(values) if v == value),
                         **kwargs)

    @staticmethod
    def _merged(values: Iterable, value) -> list:
        values = list(values)
        if not any(v == value for v in values):
            values.append(value)
        return sorted(values)

    def _options_for(self, values: list) -> list[tuple[str, object]]:
        labels = [self._text(v) for v in values]
        if len(set(labels)) < len(labels):  # a readout that hides a difference would lie: say every digit
            labels = [number(v) for v in values]
        return list(zip(labels, values))

    @validate("value")
    def _validate_value(self, proposal):
        value = proposal.value
        if _is_number(value) and not any(v == value for v in self._options_values):
            held = self._initializing_traits_
            self._initializing_traits_ = True  # keep the selection while the options grow
            try:
                self.options = self._options_for(self._merged(self._options_values, value))
            finally:
                self._initializing_traits_ = held
        return super()._validate_value(proposal)

    @property
    def values(self) -> tuple:
        """The grid the handle stops on, the given value included."""
        return tuple(self._options_values)


# -- tables with long text ------------------------------------------------------------------------------------------
_CSS = f"<style>.labkit-table td, .labkit-table th {{{WRAP_STYLE}}}</style>"
#: labkit's own tables are text (checks, reasons, fixes, events): read from the left, each row from its top
_TEXT_CSS = ("<style>.labkit-text td, .labkit-text th {text-align: left; vertical-align: top}</style>")


def table_html(frame: pd.DataFrame, index: bool = False) -> str:
    """``frame`` as an HTML table whose text cells are shown in full and wrap at word boundaries."""
    with pd.option_context("display.max_colwidth", None):
        body = frame.to_html(index=index, na_rep="", classes=["labkit-table", "labkit-text"])
    return f"<div>{_CSS}{_TEXT_CSS}{_wrap_cells(body)}</div>"


def _wrap_cells(html: str) -> str:
    return html.replace("<td>", f'<td style="{WRAP_STYLE}">')


def _long_text(frame: pd.DataFrame, limit: int) -> bool:
    """Whether pandas would cut a cell of ``frame`` (a value longer than ``limit`` characters)."""
    shown = pd.get_option("display.max_rows") or len(frame)
    part = frame if len(frame) <= shown else pd.concat([frame.head(shown), frame.tail(shown)])
    for column in (part.iloc[:, i] for i in range(part.shape[1])):  # by position: column names may repeat
        if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
            continue
        if any(len(str(v)) > limit for v in column):
            return True
    return False


def frame_html(frame: pd.DataFrame) -> str | None:
    """pandas' own HTML for ``frame``, but with long text in full, wrapping, where pandas would cut it with "..."."""
    limit = pd.get_option("display.max_colwidth")
    if limit is None or not _long_text(frame, limit):
        return frame._repr_html_()
    with pd.option_context("display.max_colwidth", None):
        html = frame._repr_html_()
    return None if html is None else _CSS + _wrap_cells(html.replace('class="dataframe"', 'class="dataframe labkit-table"'))


def show_tables_in_full(shell=None) -> bool:
    """Make IPython show every DataFrame's text cells in full, wrapping at word boundaries.

    A lesson's tables hold reasons, remedies, facts and event messages: pandas cuts them at
    ``display.max_colwidth`` (50 characters by default) with "...". Tables without long
    text are shown exactly as pandas shows them. Returns False outside IPython.
    """
    if shell is None:
        try:
            from IPython import get_ipython
        except ImportError:
            return False
        shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return False
    shell.display_formatter.formatters["text/html"].for_type(pd.DataFrame, frame_html)
    return True


show_tables_in_full()  # every lesson package imports this module (its explorers use the helpers above)
