"""First-run and housekeeping dialogs: template gallery, CSV import, settings."""
