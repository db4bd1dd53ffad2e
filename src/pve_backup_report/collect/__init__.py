"""Acquisition: the PVE and PBS API clients and what they read (inventory, tasks and
their logs, task selection and cache, storage content and space). No thresholds."""
