"""Activation: the triggers that make activation clients talk, and the window they are watched for."""
