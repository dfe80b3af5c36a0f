"""Shared machinery: critics, losses, objectives, the training loop and input checks."""
