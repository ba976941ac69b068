"""The node's core: configuration, SQLite and its migrations, the error tree, files and locks,
keys. Imports nothing else of the node, so every other room may import it."""
