"""The daemon's assembly: first-run setup, the services bundle, the owner API's application
(routes of both doors, guard, start and cleanup hooks), and the process that runs it all."""
