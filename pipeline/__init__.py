"""The archive procedures as plain functions: archive, verify, audit, retrieve, retention, settings.

Nothing here imports Prefect: `flows/` wraps these functions for the UI, schedules and deployments.
"""
