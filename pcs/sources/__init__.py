"""Where BMC credentials come from: the local encrypted store, Vault, or a fixed test pair."""
