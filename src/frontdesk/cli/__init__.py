"""The `frontdesk` command line."""
