"""PVE's own rules and grammar, pure: UPIDs, calendar events and their words, the
vzdump command line, time formats. No I/O; the simulator may use it too."""
