"""pcs: a power control service for HPC machines that speaks the PCS v1 API."""

__version__ = "0.1.0"
