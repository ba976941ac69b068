"""Who may use this node, and how: grants, the authorisation gate, the audit log."""
