"""The service's rules, one module per concern; routers and pages parse, call these, and answer.

Each function takes a database session (and the settings it needs) and raises a `ServiceError`
carrying the HTTP status a router answers with, so the rules know nothing about requests.
"""
