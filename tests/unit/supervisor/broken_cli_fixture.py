"""A command module whose own import fails: the CLI must surface this, not skip it."""

import no_such_dependency  # noqa: F401
