"""The supervisor: one long-lived process per data directory that starts, watches and restarts the
stack's services in dependency order, with a loopback HTTP API; and the ``mini`` CLI that drives it.
"""
