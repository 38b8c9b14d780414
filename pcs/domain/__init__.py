"""Pure rules of power control: no I/O in this package."""
