"""Tracking: runs, their capture (git, environment, cells) and the MLflow-style API."""
