"""One router per resource: auth, styles, jobs, billing, and the HTML pages."""
