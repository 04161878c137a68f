"""Scheduled work: each job is a plain function of (context, now)."""
