"""What the owner's two HTTP doors (the JSON API and the web app) share: the guard that decides
who is at the door (Host, Origin, owner token or browser session, CSRF), browser sessions,
request-body readers and the error translation. Neither door imports the other."""
