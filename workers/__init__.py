"""Celery worker entry points: the app and thin tasks that call into pcs."""
