"""The per-component queue and the step engine: the only code that moves a task between
queue states."""
