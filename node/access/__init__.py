"""Who may use this node, and how: grants, the authorisation gate, the audit log, context
bundles, and the handlers that answer a peer's access requests."""
