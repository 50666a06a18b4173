"""Trainyard's own package: settings, records, services and validation."""
