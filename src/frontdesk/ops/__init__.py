"""The operations assistant: a running system reached through a `TargetSystem` (a folder of
configuration files kept under version, or a REST API), and bulk changes to its elements as
change plans (selector, JSON Patch per element, validation, diff) approved, applied and
rolled back by plan id."""
