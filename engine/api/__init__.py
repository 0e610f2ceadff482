"""The engine's API for the designer and the command line: plain data in and out.

Each call opens its own short unit of work and returns frozen dataclasses, never ORM
objects or sessions (issue 28 moves the rest of the designer's data access here).
"""
