"""Scheduling: coaching sessions, booked only against contracts this service has seen paid."""
