"""The service's operator-facing defaults, in one place: `ServiceConfig`, the `serve` options
and the monitors all read them from here. A module of its own, free of imports, because the CLI
must show them in `serve --help` without loading FastAPI, and app.py loads the monitors lazily."""

MONITOR_MIN_INTERVAL_S = 3600.0
"""The shortest `every` a monitor may have (`serve --monitor-min-interval`, as "1h")."""
WEBHOOK_TIMEOUT_S = 10.0
"""How long one webhook call may take before it counts as failed (`serve --webhook-timeout`)."""
WEBHOOK_RETRY_S = 2.0
"""The delay before a failed webhook call's first retry (`serve --webhook-retry`); the later
ones keep the proportions of monitors.DELIVERY_DELAYS_S."""
