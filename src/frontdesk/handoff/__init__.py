"""Human hand-off: tickets with a structured summary, placed in the right team's queue."""
