"""Photographic style transfer: a photo in another photo's colours, kept a photograph."""
