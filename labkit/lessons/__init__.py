"""Exercise checkers, one module per lesson; importing registers them."""
from . import compatibility, continuity, getting_started, memory_convergence, preparing_hosts, real_precopy  # noqa: F401
