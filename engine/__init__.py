"""Journeys' engine: data, migrations, filters, campaign files, executor, channels.

Never imports Qt: headless workers run this package alone.
"""
