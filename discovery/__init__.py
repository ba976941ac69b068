"""The metadata-only discovery service (``secondme-discovery``) and the node's client of it."""
