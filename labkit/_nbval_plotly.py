"""A pytest plugin: nbval leaves plotly's JSON out of its output comparison.

plotly's JSON changes between plotly versions, and a chart of a live
migration holds its times; every lesson prints what a figure shows in plain
text, which nbval does compare. The project's tests load it from the root
conftest; to check released notebooks the same way, run
``pytest --nbval -p labkit._nbval_plotly ...``.
"""
PLOTLY = "application/vnd.plotly.v1+json"


def pytest_collectstart(collector):
    if collector.__class__.__name__ == "IPyNbFile":
        collector.skip_compare = (*tuple(collector.skip_compare), PLOTLY)
