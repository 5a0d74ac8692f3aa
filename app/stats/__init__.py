"""Figures shared by the dashboards and the API: roll-up maintenance, aggregate queries, API keys.

Plain modules (no HTTP, no templates). Both blueprints import from here, never from each other.
"""
