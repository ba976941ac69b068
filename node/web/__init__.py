"""The owner's web app: browser sessions, request guards, and the packaged static pages."""
