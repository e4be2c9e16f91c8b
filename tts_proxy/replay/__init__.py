"""Offline replay: recorded trajectories served to the live engine, and their evaluation."""
