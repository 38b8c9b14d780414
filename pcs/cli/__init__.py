"""The pcs command."""
