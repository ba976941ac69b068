"""This node in networks: membership through discovery servers, invites, and peers found there."""
