"""Exercise checkers, one module per lesson; importing registers them."""
from . import (  # noqa: F401
    compatibility,
    continuity,
    estate,
    getting_started,
    how_vmotion_works,
    inflight,
    memory_convergence,
    migration_types,
    preparing_hosts,
    real_precopy,
    troubleshooting,
)
