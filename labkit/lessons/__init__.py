"""Exercise checkers, one module per lesson; importing registers them."""
from . import getting_started  # noqa: F401
